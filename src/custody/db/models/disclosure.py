"""Clips and the disclosure schedule: what of a case is an exhibit, and what is unused.

A clip is a new object cut from a recording (invariant 3: the original is never changed);
it names the original by its SHA-256 so that a court can check one against the other.
A schedule item is one line of a case's disclosure schedule: a recording or a clip of the
case marked as an exhibit (with a reference such as ``LJ/1``) or as unused material,
sensitive or not. Sensitive material never leaves the force.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class Clip(Base):
    __tablename__ = "clips"

    # A UUID minted by the server when the clip is cut.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), index=True)
    # The original's SHA-256 when the clip was cut: the link a court checks.
    original_sha256: Mapped[str] = mapped_column(String(64))
    # What the person asked for, in seconds from the start of the original.
    in_seconds: Mapped[float] = mapped_column(Float)
    out_seconds: Mapped[float] = mapped_column(Float)
    # Where the cut really starts: a stream copy begins at the keyframe at or before "in".
    cut_start_seconds: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(32))  # stream-copy | re-encode
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    duration_seconds: Mapped[float] = mapped_column(Float)
    title: Mapped[str] = mapped_column(String(200), default="")
    made_by: Mapped[str] = mapped_column(String(160))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the clip's object is removed (its original deleted by retention, say).
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ScheduleItem(Base):
    """One line of a case's disclosure schedule: a recording or a clip, and how it is used."""

    __tablename__ = "schedule_items"
    __table_args__ = (
        # An exhibit reference is unique within its case (NULL for unused material).
        UniqueConstraint("case_id", "reference", name="uq_schedule_items_case_reference"),
        Index("ix_schedule_items_case_recording", "case_id", "recording_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    # Always the recording; for a clip, the recording it was cut from.
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"))
    clip_id: Mapped[str | None] = mapped_column(ForeignKey("clips.id"), index=True)
    # Or a redacted copy of the recording (approved for release), never both.
    redaction_id: Mapped[str | None] = mapped_column(ForeignKey("redactions.id"), index=True)
    # exhibit | unused_not_sensitive | unused_sensitive  (domain.disclosure.Use)
    use: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    marked_by: Mapped[str] = mapped_column(String(160))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime())
