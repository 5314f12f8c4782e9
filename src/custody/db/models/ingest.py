"""Manifests, uploads and recordings: the way footage arrives."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class Manifest(Base):
    """A camera's signed manifest, verified and kept before any byte is accepted."""

    __tablename__ = "manifests"

    recording_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    # The signed document exactly as received (JSON text).
    document: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dock_id: Mapped[int | None] = mapped_column(ForeignKey("docks.id"))


class Upload(Base):
    """A tus upload. The offset lives here so that any server node can continue it."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("manifests.recording_id"), index=True)
    dock_id: Mapped[int | None] = mapped_column(ForeignKey("docks.id"))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16), index=True)
    metadata_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failure: Mapped[str | None] = mapped_column(Text)


class Recording(Base):
    """A recording the server holds. Its id is the UUID minted on the camera."""

    __tablename__ = "recordings"
    __table_args__ = (
        Index("ix_recordings_officer_started", "officer_id", "started_at"),
        Index("ix_recordings_camera_started", "camera_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    dock_id: Mapped[int | None] = mapped_column(ForeignKey("docks.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    pre_event_seconds: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The signed manifest as received, and the signed receipt as issued: the chain of custody.
    manifest_document: Mapped[str] = mapped_column(Text)
    receipt_document: Mapped[str] = mapped_column(Text)
    gps_track: Mapped[str] = mapped_column(Text, default="[]")
    # stored → playable | unplayable (after the probe job); deleted (tombstone)
    state: Mapped[str] = mapped_column(String(16), default="stored", index=True)
    media_error: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    video_codec: Mapped[str | None] = mapped_column(String(32))
    audio_codec: Mapped[str | None] = mapped_column(String(32))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64))
    probed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IngestFlag(Base):
    """Something at ingest a person must look at: conflicting bytes, a forged signature."""

    __tablename__ = "ingest_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    recording_id: Mapped[str | None] = mapped_column(String(36), index=True)
    camera_serial: Mapped[str | None] = mapped_column(String(64))
    dock_id: Mapped[int | None] = mapped_column(ForeignKey("docks.id"))
    detail: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
