"""What the database keeps about stored objects: their data keys and their fixity checks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class ObjectKey(Base):
    """An object's data key, wrapped by the key-encryption key; deleting the row shreds it.

    Kept here and never inside the object, so that every copy of the object (a backup, a
    migrated store) becomes unreadable the moment the row goes (docs/storage.md).
    """

    __tablename__ = "object_keys"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kek_id: Mapped[str] = mapped_column(String(200))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FixityCheck(Base):
    """The last time each object was read back whole and matched its SHA-256."""

    __tablename__ = "fixity_checks"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # intact | changed | missing | unreadable
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    # Null until the object is first proven intact; a failure never clears it.
    intact_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    size: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text, default="")
