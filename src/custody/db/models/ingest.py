"""Manifests, uploads and recordings: the way footage arrives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    false,
    or_,
    text,
    true,
    update,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from custody.db.base import Base
from custody.db.models.fleet import Camera, Officer
from custody.db.types import UTCDateTime
from custody.domain.retention import RetentionFacts, decide_retention


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


# Footage doubtfully categorised to someone who may list every class: categorised, not
# evidential, with a note or evidential footage of any class nearby. Spelled as each
# database's planner sees `services/retention/compliance.py`'s `doubt_indexed` (SQLAlchemy's
# booleans, constants inline), so that it knows a query with that term may use the index.
DOUBTFUL = {
    dialect: f"categorised IS {yes} AND evidential IS NOT {yes} AND (annotated IS {yes}"
    " OR nearby_evidential_normal > 0 OR nearby_evidential_restricted > 0"
    " OR nearby_evidential_confidential > 0)"
    for dialect, yes in (("sqlite", "1"), ("postgresql", "true"))
}


class Recording(Base):
    """A recording the server holds. Its id is the UUID minted on the camera."""

    __tablename__ = "recordings"
    __table_args__ = (
        # Covering what the listing grants and counts filter on (state, access class): a
        # team's or an officer's count is read from the index alone.
        # (Not the id too: PostgreSQL then counted a search's uncategorised by hashing every
        # category row against the whole index, not looking each recording's up.)
        Index("ix_recordings_officer_started", "officer_id", "started_at", "state", "access_class"),
        Index("ix_recordings_camera_started", "camera_id", "started_at"),
        # The retention sweep finishes deletions whose objects are not yet purged.
        Index("ix_recordings_state_purged", "state", "purged_at"),
        # An officer's footage, latest docking first (their start page): in index order,
        # and a team's counts read from the index alone. (Not the id too: PostgreSQL then
        # counted the uncategorised by hashing every category row, not looking each up.)
        Index("ix_recordings_officer_stored", "officer_id", "stored_at", "state", "access_class"),
        # A large team's footage, latest docking first: walked backwards, filtered on the
        # team, state and access class in the index before any row is read.
        Index("ix_recordings_stored", "stored_at", "officer_id", "state", "access_class"),
        # Retention's lists and counts filter what is due on state and access class and
        # the listing grants (officer): covering, they never read the recording's row.
        Index("ix_recordings_due_cover", "delete_due_at", "state", "access_class", "officer_id"),
        Index(
            "ix_recordings_seen_due_cover",
            "seen_delete_due_at",
            "state",
            "access_class",
            "officer_id",
        ),
        # The compliance page's month of a team (services/retention/compliance.py): every
        # fact it counts, read from the index alone, and an officer's evidential footage
        # around a recording found in a few entries of it.
        Index(
            "ix_recordings_compliance",
            "officer_id",
            "started_at",
            "state",
            "access_class",
            "categorised",
            "evidential",
            "annotated",
            "signed_off_at",
            "last_reviewed_at",
            "seen_delete_due_at",
            "delete_due_at",
            "nearby_evidential_normal",
            "nearby_evidential_restricted",
            "nearby_evidential_confidential",
        ),
        # Footage categorised but not evidential, in the order it was recorded: the doubtful
        # are among these few, the first of the month found without reading the rest.
        Index("ix_recordings_doubt_candidates", "categorised", "evidential", "started_at"),
        # The doubtful alone (migration 0027): a team's oldest of the month found among its
        # officers' few, not among every recording of their month.
        Index(
            "ix_recordings_doubtful",
            "officer_id",
            "started_at",
            sqlite_where=text(DOUBTFUL["sqlite"]),
            postgresql_where=text(DOUBTFUL["postgresql"]),
        ),
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
    # Indexed: deleting a recording checks whether another still uses the same object.
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    # Frames along the timeline, for the portal (services/previews.py); deleted with it.
    preview_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    probed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The evidence lifecycle (services/lifecycle.py, evidence.py, retention.py).
    title: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(64), index=True)
    # The strictest access class of its categories, kept here so lists filter in SQL.
    access_class: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")
    # The retention decision, denormalised so that the sweep's selection is an index range
    # scan; recomputed by domain.retention in the transaction of every change to its facts.
    # A new recording is due under the 31-day rule from its first insert (no category yet).
    # (Indexed by the due covers above, which begin with it.)
    delete_due_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=lambda ctx: _initial_decision(ctx).delete_at
    )
    review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Null only for a row nobody has decided yet: the sweep decides those first.
    retention_rule: Mapped[str | None] = mapped_column(
        String(160), index=True, default=lambda ctx: _initial_decision(ctx).rule
    )
    # No deletion before this: the pending notice after a change that brought it forward.
    deletion_not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The decision as those who may not know of complaint holds see it (domain.retention
    # `seen`): their lists filter and sort on these, so that no list's length or order
    # tells them of a complaint. Equal to the real decision wherever no complaint hold is.
    seen_delete_due_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=lambda ctx: _initial_decision(ctx).delete_at
    )
    seen_review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    seen_not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A supervisor's sign-off that this non-evidential footage may go when it falls due
    # (services/retention/compliance.py); the sweep warns of footage deleted without one.
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_off_by: Mapped[str | None] = mapped_column(String(160))
    # What supervision counts (services/retention/compliance.py), kept with the row in the
    # transaction of every change that moves it: it has a category (any), an evidential one
    # (both kept with the retention decision, services/retention/facts.py), a note or
    # bookmark not removed (services/evidence/annotations.py).
    categorised: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    evidential: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    annotated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How many of the same officer's live evidential recordings, of each access class, began
    # within two hours of this one (`domain.compliance.INCIDENT`): footage called
    # non-evidential beside them is doubtful. Kept by the database's triggers (migration
    # 0025) on every change of any recording's officer, time, state, class or evidential,
    # as counts that concurrent changes add to and take from, never as a flag each rewrites.
    nearby_evidential_normal: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    nearby_evidential_restricted: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0"
    )
    nearby_evidential_confidential: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0"
    )
    # The tombstone: when it was deleted, the signed certificate, and when its objects left.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deletion_certificate: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The store's Object Lock has yet to follow a change of this recording's retention
    # (services/retention/locks.py): set by every change (and at ingest), cleared once the
    # store has what the change asks; the daily renewal reads these rows, not every live
    # one. The version keeps a change made while the store was being told from being
    # cleared with the one before it.
    locks_pending: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true(), index=True
    )
    locks_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


def _initial_decision(context: Any) -> Any:
    """The retention of a recording as it is first inserted: nothing applies to it yet."""
    started_at = context.get_current_parameters()["started_at"]
    return decide_retention(RetentionFacts(recorded_at=started_at))


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


@event.listens_for(Recording, "after_insert")
def _keep_first_and_last_recorded(
    mapper: Mapper[Recording], connection: Connection, row: Recording
) -> None:
    """An officer's earliest and a camera's latest footage, kept with every recording
    inserted (in its transaction; the conditions make concurrent inserts agree)."""
    if row.officer_id is not None:
        connection.execute(
            update(Officer)
            .where(
                Officer.id == row.officer_id,
                or_(
                    Officer.first_recorded_at.is_(None), Officer.first_recorded_at > row.started_at
                ),
            )
            .values(first_recorded_at=row.started_at)
        )
    connection.execute(
        update(Camera)
        .where(
            Camera.id == row.camera_id,
            or_(Camera.last_recorded_at.is_(None), Camera.last_recorded_at < row.started_at),
        )
        .values(last_recorded_at=row.started_at)
    )
