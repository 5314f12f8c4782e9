"""Subject access requests and the recordings attached to them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class SubjectAccessRequest(Base):
    """A person's request for footage of themselves (UK GDPR Art. 15), from receipt to close."""

    __tablename__ = "subject_access_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_email: Mapped[str] = mapped_column(String(254))
    description: Mapped[str] = mapped_column(Text)
    received_on: Mapped[date] = mapped_column(Date)
    extension_months: Mapped[int] = mapped_column(Integer, default=0)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(String(160))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(160))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    share_id: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_by: Mapped[str | None] = mapped_column(String(160))
    close_record: Mapped[str | None] = mapped_column(Text)


class SubjectAccessItem(Base):
    """A recording attached to a request, held while the request is open. `redaction` is the
    seam for the redaction work: pending, reviewed (no third parties) or a redacted copy."""

    __tablename__ = "subject_access_items"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("subject_access_requests.id"), primary_key=True
    )
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), primary_key=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("holds.id"))
    redaction: Mapped[str] = mapped_column(String(32), default="pending")
    # The redacted copy's object hash, once the redaction work renders one (invariant 3).
    redacted_sha256: Mapped[str | None] = mapped_column(String(64))
    # The approved redaction whose copy that is (services.redaction), when one was attached.
    redaction_id: Mapped[str | None] = mapped_column(ForeignKey("redactions.id"))
    marked_by: Mapped[str | None] = mapped_column(String(160))
    attached_by: Mapped[str] = mapped_column(String(160))
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime())
