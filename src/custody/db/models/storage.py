"""What the database keeps about stored objects: their data keys, their fixity checks, the
Object Lock Custody last set on them, and where the fixity cycle stands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, LargeBinary, String, Text, false
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
    # An object stored before encryption at rest whose sealing has begun: the key is kept,
    # its bytes may still be the plaintext (a reader tells them apart by the tag of the
    # first segment) until the sealed copy has replaced them (services/objects/sealing.py).
    resealing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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


class ObjectLockState(Base):
    """The Object Lock Custody last set on an object and the store acknowledged: the daily
    renewal tells the store only what is due (retention running out within its horizon) or
    what changed (the legal hold), instead of every object again (docs/storage.md)."""

    __tablename__ = "object_locks"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    # COMPLIANCE retention until (by Custody's clock, when it was set): never shortened.
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    hold: Mapped[bool] = mapped_column(Boolean)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FixityCursor(Base):
    """Where the periodic fixity walk stands: it reads objects in a fixed order a slice at a
    time and resumes after the last one it checked, so a cycle covers every object whatever
    stops it (a restart, the hour's time running out)."""

    __tablename__ = "fixity_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # recordings | clips: which table the walk is in, and the last id done in it.
    phase: Mapped[str] = mapped_column(String(16))
    after: Mapped[str] = mapped_column(String(64))
    cycle_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cycles_done: Mapped[int] = mapped_column(BigInteger, default=0)
    last_cycle_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class KekRotation(Base):
    """A rotation of the key-encryption key: every data key wrapped by `from_kek` is wrapped
    again by `to_kek`. The latest row's `to_kek` is the key every node wraps new data keys
    with, from the moment the rotation begins (`custody store rotate-kek`)."""

    __tablename__ = "kek_rotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    from_kek: Mapped[str] = mapped_column(String(200))
    to_kek: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rewrapped: Mapped[int] = mapped_column(BigInteger, default=0)
