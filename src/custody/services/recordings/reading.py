"""Reading recordings: listing, one recording's metadata, and its footage (always audited)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from custody.db.models import Camera, Officer, Recording
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.domain.retention import RetentionFacts
from custody.services import cursors
from custody.services.access import Sight, open_recording, visible_recordings
from custody.services.answers import MAX_OFFSET, Page, Paged
from custody.services.counting import count_up_to
from custody.services.evidence import categories
from custody.services.recordings import viewings
from custody.services.recordings.answers import RecordingSummary, RecordingView, TombstoneView
from custody.services.retention import review
from custody.services.retention.facts import retention_facts
from custody.services.system import System, UnitOfWork

# A list's page when the caller names none.
LIST_PAGE = Page(limit=50)


@dataclass(frozen=True)
class RecordingFilter:
    officer: str | None = None
    camera: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    state: str | None = None


def _summary(recording: Recording, camera_serial: str, warrant: str | None) -> RecordingSummary:
    return RecordingSummary(
        id=recording.id,
        camera=camera_serial,
        officer=warrant,
        started_at=isoformat(recording.started_at),
        ended_at=isoformat(recording.ended_at),
        pre_event_seconds=recording.pre_event_seconds,
        sha256=recording.sha256,
        size=recording.size,
        stored_at=isoformat(recording.stored_at),
        state=recording.state,
        duration_seconds=recording.duration_seconds,
        video_codec=recording.video_codec,
        audio_codec=recording.audio_codec,
        width=recording.width,
        height=recording.height,
        has_thumbnail=recording.thumbnail_sha256 is not None,
        media_error=recording.media_error,
    )


def list_recordings(
    system: System,
    principal: Principal,
    filters: RecordingFilter,
    page: Page = LIST_PAGE,
) -> Paged[RecordingSummary]:
    """A page of recordings the principal may see, newest first."""
    officer = aliased(Officer)
    query = (
        select(Recording, Camera.serial, officer.warrant_number)
        .join(Camera, Camera.id == Recording.camera_id)
        .outerjoin(officer, officer.id == Recording.officer_id)
    )
    if filters.officer:
        query = query.where(officer.warrant_number == filters.officer)
    if filters.camera:
        query = query.where(Camera.serial == filters.camera)
    if filters.since:
        query = query.where(Recording.started_at >= filters.since)
    if filters.until:
        query = query.where(Recording.started_at < filters.until)
    if filters.state:
        query = query.where(Recording.state == filters.state)
    cursors.no_deeper_than(page.offset, MAX_OFFSET)
    with system.unit_of_work() as uow:
        # Lists filter in SQL by the same grants `decide` applies to one recording.
        query = query.where(visible_recordings(uow, principal))
        # The list's size from its start, whichever page this is (counted to a bound).
        total = count_up_to(uow, query.with_only_columns(Recording.id), page)
        if page.after is not None:
            keys = cursors.decode(page.after, datetime, str)
            query = query.where(
                cursors.following(Recording.started_at, Recording.id, keys, newest=True)
            )
        rows = uow.session.execute(
            query.order_by(Recording.started_at.desc(), Recording.id)
            .limit(page.limit + 1)
            .offset(page.offset)
        ).all()
        shown = rows[: page.limit]
        last = shown[-1][0] if shown else None
        return Paged[RecordingSummary](
            items=[_summary(r, serial, warrant) for r, serial, warrant in shown],
            total=total.total,
            total_exact=total.exact,
            limit=page.limit,
            offset=page.offset,
            cursor=page.after,
            next_cursor=(
                cursors.encode(last.started_at, last.id)
                if last is not None and len(rows) > page.limit
                else None
            ),
        )


def _load_checked(
    uow: UnitOfWork,
    principal: Principal,
    recording_id: str,
    action: Action,
    actor: Actor,
    tag: str,
) -> tuple[Sight, str, str | None]:
    """The recording through the door, with its camera's serial and officer's warrant."""
    sight = open_recording(uow, principal, recording_id, action, actor, tag, allow_deleted=True)
    recording = sight.recording
    # Both in one statement: a page's every statement is a round trip to the database.
    warrant = (
        select(Officer.warrant_number).where(Officer.id == recording.officer_id).scalar_subquery()
    )
    found = uow.session.execute(
        select(Camera.serial, warrant).where(Camera.id == recording.camera_id)
    ).first()
    serial, named = (found[0], found[1]) if found is not None else (None, None)
    return sight, serial or "?", named


def get_recording(
    system: System, principal: Principal, recording_id: str, actor: Actor
) -> RecordingView | TombstoneView:
    """One recording's metadata, manifest and receipt; the view is audited.

    A deleted recording answers with its tombstone: what went, when and why.
    """
    with system.unit_of_work() as uow:
        view = viewed(uow, principal, recording_id, actor).view
        uow.commit()
        return view


@dataclass(frozen=True)
class Viewed:
    """A recording as `get_recording` answers it, with what the page built around it needs
    again: the person's sight of it and its retention facts (none for a tombstone)."""

    view: RecordingView | TombstoneView
    sight: Sight
    facts: RetentionFacts | None


def viewed(uow: UnitOfWork, principal: Principal, recording_id: str, actor: Actor) -> Viewed:
    """`get_recording` in the caller's unit of work (audited there, not committed): for a
    page that shows more of the recording in the same transaction."""
    sight, serial, warrant = _load_checked(
        uow, principal, recording_id, Action.VIEW, actor, "user:recording:view"
    )
    recording = sight.recording
    stored = _summary(recording, serial, warrant).model_dump() | {
        "receipt": json.loads(recording.receipt_document)
    }
    view: RecordingView | TombstoneView
    facts = None
    if recording.state == "deleted":
        # The deletion certificate says what went, when and why.
        view = TombstoneView.model_validate(stored | review.tombstone_view(recording).model_dump())
    else:
        facts = retention_facts(uow, [recording])[recording.id]
        view = RecordingView.model_validate(
            stored
            | {
                "gps_track": json.loads(recording.gps_track),
                "manifest": json.loads(recording.manifest_document),
            }
            # Categories, notes, evidence, cases, holds and retention, as the door shows
            # them to this person (cases and holds are absent for those who may not know).
            | categories.lifecycle_view(uow, sight, facts).model_dump()
        )
    uow.audit("user:recording:view", actor, object_type="recording", object_id=recording_id)
    return Viewed(view, sight, facts)


# The most footage one answer to a player carries: playing is a range at a time, and only a
# download (its own action, audited as such) hands over the whole original in one answer.
PLAY_PIECE = 4 * 1024 * 1024


@dataclass(frozen=True)
class MediaStream:
    size: int
    start: int
    end: int  # exclusive
    content_type: str
    chunks: Iterator[bytes]
    # A download is the whole original as an attachment; playing is inline, a piece at a time.
    download: bool
    # Answered as a range (206 with Content-Range) rather than the whole (200).
    partial: bool


def resolve_range(byte_range: tuple[int, int | None] | None, size: int) -> tuple[int, int]:
    """The bytes [start, end) a Range asks for (all of them without one)."""
    if byte_range is None:
        return 0, size
    first, last = byte_range
    if first < 0:  # a suffix range: the last -first bytes
        start, end = max(0, size + first), size
    else:
        start, end = first, size if last is None else min(last + 1, size)
    if start >= size or start >= end:
        raise RangeNotSatisfiable(size)
    return start, end


def open_media(
    system: System,
    principal: Principal,
    recording_id: str,
    actor: Actor,
    byte_range: tuple[int, int | None] | None,
    *,
    download: bool = False,
) -> MediaStream:
    """Open the original footage; the read is audited before any byte leaves.

    Playing (`Action.STREAM`) answers at most `PLAY_PIECE` bytes, inline, always as a range,
    and is audited once per viewing (`viewings`); downloading (`Action.DOWNLOAD`) answers
    what was asked, as an attachment, and each download is its own event.
    """
    action = Action.DOWNLOAD if download else Action.STREAM
    tag = "user:recording:download" if download else "user:recording:stream"
    with system.unit_of_work() as uow:
        recording = _load_checked(uow, principal, recording_id, action, actor, tag)[0].recording
        if recording.state == "deleted":
            raise NotFound(f"recording {recording_id} was deleted")
        size = recording.size
        start, end = resolve_range(byte_range, size)
        if not download:
            end = min(end, start + PLAY_PIECE)
        partial = not download or byte_range is not None
        # A download from the first byte is a new copy; a later range resumes one.
        starts_a_copy = download and start == 0
        if starts_a_copy or not viewings.continues(uow, tag, actor, recording_id):
            uow.audit(
                tag,
                actor,
                object_type="recording",
                object_id=recording_id,
                details={"range": [start, end - 1]} if partial else {},
            )
        uow.commit()
        sha = recording.sha256
    return MediaStream(
        size,
        start,
        end,
        "video/mp4",
        system.store.read(sha, start, end),
        download=download,
        partial=partial,
    )


def open_thumbnail(system: System, principal: Principal, recording_id: str, actor: Actor) -> bytes:
    """A recording's thumbnail JPEG; viewing it is a view of footage and audited."""
    with system.unit_of_work() as uow:
        recording = _load_checked(
            uow, principal, recording_id, Action.VIEW, actor, "user:recording:thumbnail"
        )[0].recording
        if recording.thumbnail_sha256 is None:
            raise NotFound("this recording has no thumbnail (yet)")
        uow.audit(
            "user:recording:thumbnail", actor, object_type="recording", object_id=recording_id
        )
        uow.commit()
        sha = recording.thumbnail_sha256
    return b"".join(system.store.read(sha))


class RangeNotSatisfiable(InvalidInput):
    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__("the requested range is outside the recording")
        self.size = size
