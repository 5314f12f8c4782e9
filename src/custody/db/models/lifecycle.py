"""Categories, annotations, evidence flags, cases, holds and tombstones (the evidence lifecycle).

Flags and holds are never deleted: lifting one stamps it, so the history of why a
recording was kept stays beside it (the audit trail has the same, hash-chained).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Days from the recording time; null: kept until manually deleted.
    retention_days: Mapped[int | None] = mapped_column(Integer)
    review_days: Mapped[int | None] = mapped_column(Integer)
    access_class: Mapped[str] = mapped_column(String(16), default="normal")
    evidential: Mapped[bool] = mapped_column(Boolean, default=True)
    # Uncategorised is a category people see but never assign: it is the absence of one.
    assignable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A retired category can no longer be assigned; recordings in it keep its rule.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RecordingCategory(Base):
    __tablename__ = "recording_categories"

    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id"), primary_key=True, index=True
    )
    assigned_by: Mapped[str] = mapped_column(String(160))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RecordingTag(Base):
    __tablename__ = "recording_tags"

    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class Annotation(Base):
    """A note on a recording, or a bookmark at a moment of it (at_seconds set)."""

    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # note | bookmark
    at_seconds: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(160))


class EvidenceFlag(Base):
    __tablename__ = "evidence_flags"
    __table_args__ = (Index("ix_evidence_flags_recording_cleared", "recording_id", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"))
    reason: Mapped[str] = mapped_column(Text)
    flagged_by: Mapped[str] = mapped_column(String(160))
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cleared_by: Mapped[str | None] = mapped_column(String(160))
    clear_reason: Mapped[str | None] = mapped_column(Text)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The crime reference the case is known by.
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    officer_in_case_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    # After closure its footage is kept this many days more; null: until manually deleted.
    disposal_days: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(160))
    close_reason: Mapped[str | None] = mapped_column(Text)


class CaseMember(Base):
    __tablename__ = "case_members"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_by: Mapped[str] = mapped_column(String(160))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseRecording(Base):
    __tablename__ = "case_recordings"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    recording_id: Mapped[str] = mapped_column(
        ForeignKey("recordings.id"), primary_key=True, index=True
    )
    added_by: Mapped[str] = mapped_column(String(160))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)


class Hold(Base):
    """A legal or complaint hold on one recording: no deletion while it is not lifted."""

    __tablename__ = "holds"
    __table_args__ = (Index("ix_holds_recording_lifted", "recording_id", "lifted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"))
    kind: Mapped[str] = mapped_column(String(16))  # legal | complaint
    reason: Mapped[str] = mapped_column(Text)
    # The officer a complaint concerns: they never see the hold.
    concerns_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    # The complaint that placed it (services/evidence/complaints.py); closing it lifts it.
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    placed_by: Mapped[str] = mapped_column(String(160))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_by: Mapped[str | None] = mapped_column(String(160))
    lift_reason: Mapped[str | None] = mapped_column(Text)


class Complaint(Base):
    """A complaint registered by professional standards: it holds every recording of its
    officers that overlaps its time window, those stored already and those docked later,
    until it is closed. Only those who see complaints know of it."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    summary: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(200), default="")
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    registered_by: Mapped[str] = mapped_column(String(160))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_by: Mapped[str | None] = mapped_column(String(160))
    close_reason: Mapped[str | None] = mapped_column(Text)


class ComplaintOfficer(Base):
    __tablename__ = "complaint_officers"

    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    # Indexed: every docked recording asks which open complaints name its officer.
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"), primary_key=True, index=True)
