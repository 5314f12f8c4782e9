"""Redaction: face scans of a recording, and redacted copies with their records.

A scan is `scanning` until the job has stored every track, then `complete` (or `failed`
with why). A redaction is `rendering` until its copy and its record are both in the object
store, then `rendered`; only then can a second person approve it. A render that died
half-way leaves a row without an object: nothing half-made is ever offered.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class FaceScan(Base):
    __tablename__ = "face_scans"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), index=True)
    original_sha256: Mapped[str] = mapped_column(String(64))
    # scanning | complete | failed
    state: Mapped[str] = mapped_column(String(16))
    # The scan's settings (detection size, stride, thresholds), as JSON.
    settings: Mapped[str] = mapped_column(Text)
    model_name: Mapped[str] = mapped_column(String(120))
    model_sha256: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(160))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float | None] = mapped_column(Float)
    frame_count: Mapped[int | None] = mapped_column(Integer)
    # Every track with its detections and its thumbnail's object, as JSON.
    tracks: Mapped[str | None] = mapped_column(Text)


class Redaction(Base):
    __tablename__ = "redactions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), index=True)
    scan_id: Mapped[str | None] = mapped_column(ForeignKey("face_scans.id"))
    original_sha256: Mapped[str] = mapped_column(String(64))
    # rendering | rendered | failed
    state: Mapped[str] = mapped_column(String(16))
    # The record without its output (the render's whole input), as JSON.
    plan: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(160))
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure: Mapped[str | None] = mapped_column(Text)
    # The redacted copy and the record beside it, in the object store.
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    record_sha256: Mapped[str | None] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(160))
    approved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when its original is deleted under the retention rules: the copy and its records
    # go with it (objects removed, data keys destroyed); the row stays, as a clip's does.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
