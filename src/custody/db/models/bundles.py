"""Court bundles asked for in the portal or the API and built by a background job.

A row is `building` until the job has put the whole zip in the store; only then is it
`complete` with the object's SHA-256 and size, so a bundle whose build died half-way is
never offered for download. Progress is the footage bytes written so far.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class BundleExport(Base):
    __tablename__ = "bundle_exports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(160))
    requested_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # building | complete | failed
    state: Mapped[str] = mapped_column(String(16), default="building")
    # The decided export, as JSON: its audit events, the checkpoint before it, the
    # recordings and clips it takes (the job builds exactly these or fails).
    plan: Mapped[str] = mapped_column(Text)
    done_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The finished zip in the object store.
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    failure: Mapped[str | None] = mapped_column(Text)
    files: Mapped[int | None] = mapped_column(Integer)
