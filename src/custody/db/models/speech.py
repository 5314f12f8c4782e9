"""Transcripts: what was said in a recording, each correction a new version.

A transcript row is one version. The machine's is version 1 (`transcribing`, then
`complete`, `no_sound` or `failed` with why); a person's correction adds the next version,
naming who made it and when, and becomes the current one. Only the current version of a
recording is searched: SQLite's FTS5 table `transcript_search` (kept by the service) or, on
PostgreSQL, the generated `search` tsvector column with its GIN index. Both are made by the
migration, outside these models (`custody.db.search_index`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class Transcript(Base):
    __tablename__ = "transcripts"
    __table_args__ = (
        UniqueConstraint("recording_id", "version"),
        Index("ix_transcripts_recording_current", "recording_id", "current"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"))
    version: Mapped[int] = mapped_column(Integer)
    # The version a correction was made on (None for the machine's).
    corrects: Mapped[int | None] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(Boolean)
    original_sha256: Mapped[str] = mapped_column(String(64))
    # transcribing | complete | no_sound | failed
    state: Mapped[str] = mapped_column(String(16))
    # Seconds from the start with no sound (the camera's pre-event buffer).
    silent_until: Mapped[float] = mapped_column(Float)
    model_name: Mapped[str] = mapped_column(String(120))
    model_sha256: Mapped[str] = mapped_column(String(64))
    made_by: Mapped[str] = mapped_column(String(160))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure: Mapped[str | None] = mapped_column(Text)
    # Seconds of sound transcribed and how long it took (the real-time factor's parts).
    audio_seconds: Mapped[float | None] = mapped_column(Float)
    compute_seconds: Mapped[float | None] = mapped_column(Float)
    # The words, [[start, end, text], ...] as JSON, and as one text for the search.
    words: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
