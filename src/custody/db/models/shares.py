"""Shares: exhibits of a case sent to a named person outside the force, or the footage of a
subject access request released to its requester, and what they did.

A share names its recipient by e-mail address; the link it sends carries a random token
of which only the SHA-256 is kept. The recipient proves they hold the address with a
one-time code sent to it (its hash kept on the share), then works in a session of that
share alone. Each item records the SHA-256 of what was shared, so a delivery receipt
names exactly the bytes the recipient received.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class Share(Base):
    __tablename__ = "shares"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A share sends either a case's schedule items or a subject access request's recordings.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    subject_access_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("subject_access_requests.id"), index=True
    )
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_email: Mapped[str] = mapped_column(String(254))
    # prosecutor | defence | requester (the subject of a subject access request)
    recipient_kind: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the link's token: a stolen database does not open any share.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    downloads_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Downloads of each item the recipient may make (null: as many as they like).
    download_limit: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Set once the expiry has been recorded in the audit log (by the sweep or a late visit).
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(160))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    # The one-time code last sent to the recipient: its hash, when it ends, wrong tries.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    code_failures: Mapped[int] = mapped_column(Integer, default=0)


class ShareItem(Base):
    """One exhibit of a share: a recording, a clip or a redacted copy, as it was when shared."""

    __tablename__ = "share_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("shares.id"), index=True)
    # Null for a subject access request's recording (it is on no schedule).
    schedule_item_id: Mapped[int | None] = mapped_column(ForeignKey("schedule_items.id"))
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), index=True)
    clip_id: Mapped[str | None] = mapped_column(ForeignKey("clips.id"))
    # A redacted copy of the recording: the copy's bytes are what was shared.
    redaction_id: Mapped[str | None] = mapped_column(ForeignKey("redactions.id"))
    reference: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    downloads: Mapped[int] = mapped_column(Integer, default=0)


class ShareSession(Base):
    """A recipient's session, for one share only, after they proved the code."""

    __tablename__ = "share_sessions"

    # SHA-256 of the cookie's secret.
    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("shares.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeliveryReceipt(Base):
    """The recipient's signed acknowledgement of what they received, kept on the case."""

    __tablename__ = "delivery_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("shares.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The signed JSON document, exactly as signed (RFC 8785 canonical bytes + signature).
    document: Mapped[str] = mapped_column(Text)
