"""Clips: cutting a piece of a recording as a new object, listing, reading and playing it.

A clip never changes its original (invariant 3): it is cut by stream copy into an object of
its own (`cutting`), linked to the original by the original's SHA-256. A clip inherits the
access of its recording: every use case here asks the door about the recording, and a clip
whose recording a person may not know of is "no clip", word for word the answer for an id
never used. Every event about a clip is written on its recording (object "recording"), with
the clip's id in its details, so the recording's audit trail tells everything done with it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select

from custody.db.models.disclosure import Clip
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.private import private_dir
from custody.services.access import Sight, check_sight, open_recording
from custody.services.disclosure.answers import ClipView
from custody.services.disclosure.cutting import METHOD, Cut, CutFailed, stream_copy
from custody.services.recordings import viewings
from custody.services.recordings.media import PLAYABLE, StoreReader
from custody.services.recordings.reading import PLAY_PIECE, MediaStream, resolve_range
from custody.services.system import System, UnitOfWork

MAKE = "user:clip:make"
VIEW = "user:clip:view"
STREAM = "user:clip:stream"
DOWNLOAD = "user:clip:download"
# The shortest clip worth cutting (a frame at 25 fps), and the longest title.
SHORTEST = 0.04
TITLE_LIMIT = 200
COPY_BLOCK = 1024 * 1024


def _view(clip: Clip) -> ClipView:
    return ClipView(
        id=clip.id,
        recording_id=clip.recording_id,
        original_sha256=clip.original_sha256,
        in_seconds=clip.in_seconds,
        out_seconds=clip.out_seconds,
        cut_start_seconds=clip.cut_start_seconds,
        starts_playing_at=round(max(0.0, clip.in_seconds - clip.cut_start_seconds), 3),
        method=clip.method,
        sha256=clip.sha256,
        size=clip.size,
        duration_seconds=clip.duration_seconds,
        title=clip.title,
        made_by=clip.made_by,
        made_at=isoformat(clip.made_at),
        deleted_at=isoformat(clip.deleted_at) if clip.deleted_at else None,
    )


def check_points(in_seconds: float, out_seconds: float) -> tuple[float, float]:
    """The in and out points, if they make a clip: finite, in at or after 0, out after in."""
    if not (math.isfinite(in_seconds) and math.isfinite(out_seconds)):
        raise InvalidInput("in and out must be numbers of seconds")
    if in_seconds < 0:
        raise InvalidInput("in cannot be before the start of the recording")
    if out_seconds - in_seconds < SHORTEST:
        raise InvalidInput("out must come after in")
    return round(in_seconds, 3), round(out_seconds, 3)


def _cuttable(sight: Sight, out_seconds: float) -> None:
    """Refuse a cut the original cannot give: not (yet) playable, or shorter than `out`."""
    recording = sight.recording
    if recording.state != PLAYABLE or recording.duration_seconds is None:
        why = recording.media_error or "it has not been processed yet; try again shortly"
        raise Conflict(f"recording {recording.id} does not play, so it cannot be cut: {why}")
    if out_seconds > recording.duration_seconds + 0.001:
        raise InvalidInput(
            f"out ({out_seconds:.3f} s) is beyond the end of the recording "
            f"({recording.duration_seconds:.3f} s)"
        )


def cut_clip(
    system: System,
    principal: Principal,
    recording_id: str,
    in_seconds: float,
    out_seconds: float,
    actor: Actor,
    *,
    title: str = "",
) -> ClipView:
    """Cut a clip of a recording from `in_seconds` to `out_seconds` (seconds from its start),
    losslessly, by stream copy; its making is audited on the recording."""
    in_seconds, out_seconds = check_points(in_seconds, out_seconds)
    title = title.strip()
    if len(title) > TITLE_LIMIT:
        raise InvalidInput(f"a clip's title is at most {TITLE_LIMIT} characters")
    with system.unit_of_work() as uow:
        sight = open_recording(uow, principal, recording_id, Action.CLIP, actor, MAKE)
        _cuttable(sight, out_seconds)
        original = sight.recording.sha256
    # The cut runs outside any transaction: it reads the original and writes the clip.
    stored, cut = _cut_into_store(system, original, in_seconds, out_seconds)
    try:
        return _record(system, principal, recording_id, original, stored, cut, actor,
                       in_seconds=in_seconds, out_seconds=out_seconds, title=title)  # fmt: skip
    except BaseException:
        _forget(system, stored[0])
        raise


def _forget(system: System, sha256: str) -> None:
    """Remove a cut object that no clip came to name (its recording went while it was cut)."""
    with system.unit_of_work() as uow:
        named = uow.session.scalar(select(Clip.id).where(Clip.sha256 == sha256).limit(1))
    if named is None:
        system.store.delete(sha256)


def _record(
    system: System,
    principal: Principal,
    recording_id: str,
    original: str,
    stored: tuple[str, int],
    cut: Cut,
    actor: Actor,
    *,
    in_seconds: float,
    out_seconds: float,
    title: str,
) -> ClipView:
    """The clip's row and its audit event, once its object is stored."""
    with system.unit_of_work() as uow:
        sight = open_recording(uow, principal, recording_id, Action.CLIP, actor, MAKE, lock=True)
        if sight.recording.sha256 != original:  # pragma: no cover - footage never changes
            raise Conflict(f"recording {recording_id} changed while it was cut")
        clip = Clip(
            id=str(uuid.uuid4()),
            recording_id=recording_id,
            original_sha256=original,
            in_seconds=in_seconds,
            out_seconds=out_seconds,
            cut_start_seconds=round(cut.cut_start_seconds, 6),
            method=METHOD,
            sha256=stored[0],
            size=stored[1],
            duration_seconds=round(cut.duration_seconds, 6),
            title=title,
            made_by=actor.name,
            made_at=uow.now(),
        )
        uow.session.add(clip)
        uow.session.flush()
        uow.audit(
            MAKE,
            actor,
            object_type="recording",
            object_id=recording_id,
            details={
                "clip": clip.id,
                "original_sha256": original,
                "in_seconds": in_seconds,
                "out_seconds": out_seconds,
                "cut_start_seconds": clip.cut_start_seconds,
                "method": METHOD,
                "sha256": clip.sha256,
                "size": clip.size,
                "duration_seconds": clip.duration_seconds,
            },
        )
        uow.commit()
        return _view(clip)


def _cut_into_store(
    system: System, original: str, in_seconds: float, out_seconds: float
) -> tuple[tuple[str, int], Cut]:
    """Cut into a private temporary file, then stream it into the store (which hashes it)."""
    folder = private_dir(system.settings.data_dir / "cutting")
    temp = folder / f"{uuid.uuid4().hex}.mp4"
    try:
        try:
            reader = StoreReader(system.store, original)
            cut = stream_copy(reader, temp, in_seconds, out_seconds)
        except NotFound:
            raise Conflict("the original is not in the object store, so it cannot be cut") from None
        except CutFailed as exc:
            raise Conflict(f"the original cannot be cut: {exc.reason}") from None
        stored = system.store.put_stream(_chunks(temp))
        return (stored.sha256, stored.size), cut
    finally:
        temp.unlink(missing_ok=True)


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while block := handle.read(COPY_BLOCK):
            yield block


def _open_clip(
    uow: UnitOfWork,
    principal: Principal,
    clip_id: str,
    action: Action,
    actor: Actor,
    tag: str,
    *,
    allow_deleted: bool = False,
) -> tuple[Clip, Sight]:
    """A clip, if the door lets the person do `action` to its recording; "no clip" alike for
    an id never used and a clip of a recording they may not know of."""
    missing = NotFound(f"no clip {clip_id}")
    clip = uow.session.get(Clip, clip_id) if len(clip_id) <= 36 else None
    if clip is None:
        raise missing
    try:
        sight = open_recording(
            uow, principal, clip.recording_id, action, actor, tag, allow_deleted=allow_deleted
        )
    except NotFound:
        # The recording's id is no business of someone who may not know of it.
        raise missing from None
    return clip, sight


def get_clip(system: System, principal: Principal, clip_id: str, actor: Actor) -> ClipView:
    """One clip's record; the view is audited on its recording."""
    with system.unit_of_work() as uow:
        clip, _ = _open_clip(uow, principal, clip_id, Action.VIEW, actor, VIEW, allow_deleted=True)
        uow.audit(
            VIEW, actor, object_type="recording", object_id=clip.recording_id,
            details={"clip": clip.id},
        )  # fmt: skip
        uow.commit()
        return _view(clip)


def list_clips(
    system: System, principal: Principal, recording_id: str, actor: Actor
) -> list[ClipView]:
    """The clips cut from a recording, oldest first (the recording's view is audited apart)."""
    with system.unit_of_work() as uow:
        sight = open_recording(
            uow, principal, recording_id, Action.VIEW, actor, VIEW, allow_deleted=True
        )
        return clips_seen(uow, sight, actor)


def clips_seen(uow: UnitOfWork, sight: Sight, actor: Actor) -> list[ClipView]:
    """`list_clips` of a recording already opened in this unit of work (`sight`)."""
    check_sight(uow, sight, Action.VIEW, actor, VIEW, allow_deleted=True)
    found = uow.session.scalars(
        select(Clip).where(Clip.recording_id == sight.recording.id).order_by(Clip.made_at, Clip.id)
    )
    return [_view(clip) for clip in found]


def clips_of(uow: UnitOfWork, recording_ids: list[str]) -> dict[str, list[Clip]]:
    """The live clips of these recordings (for answers the caller has already let through)."""
    found: dict[str, list[Clip]] = {rid: [] for rid in recording_ids}
    if not recording_ids:
        return found
    for clip in uow.session.scalars(
        select(Clip)
        .where(Clip.recording_id.in_(sorted(recording_ids)), Clip.deleted_at.is_(None))
        .order_by(Clip.made_at, Clip.id)
    ):
        found[clip.recording_id].append(clip)
    return found


def open_clip_media(
    system: System,
    principal: Principal,
    clip_id: str,
    actor: Actor,
    byte_range: tuple[int, int | None] | None,
    *,
    download: bool = False,
) -> MediaStream:
    """Open a clip's footage, as a recording's: playing a piece at a time, audited once per
    viewing; a download whole, as an attachment, each its own event."""
    action = Action.DOWNLOAD if download else Action.STREAM
    tag = DOWNLOAD if download else STREAM
    with system.unit_of_work() as uow:
        clip, sight = _open_clip(uow, principal, clip_id, action, actor, tag)
        if clip.deleted_at is not None:
            raise Conflict(f"clip {clip_id} was deleted")
        start, end = resolve_range(byte_range, clip.size)
        if not download:
            end = min(end, start + PLAY_PIECE)
        partial = not download or byte_range is not None
        starts_a_copy = download and start == 0
        # A viewing of a clip is kept on its recording, like the recording's own viewings.
        if starts_a_copy or not viewings.continues(uow, tag, actor, sight.recording.id):
            details: dict[str, object] = {"clip": clip.id}
            if partial:
                details["range"] = [start, end - 1]
            uow.audit(
                tag, actor, object_type="recording", object_id=sight.recording.id, details=details
            )
        uow.commit()
        sha, size = clip.sha256, clip.size
    return MediaStream(
        size,
        start,
        end,
        "video/mp4",
        system.store.read(sha, start, end),
        download=download,
        partial=partial,
    )
