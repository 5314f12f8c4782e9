"""A reviewer's choices checked against the footage and its scan, and planned: the record a
render (or a preview) would follow, every box on every frame, before anything is rendered.

Without a scan the footage is measured from the original itself (its size, its frame rate,
its frame count as its file states them): no rate is assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from custody.db.models.redaction import FaceScan
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.domain.redaction import merge_tracks, mute_ranges
from custody.services.access import open_recording
from custody.services.recordings.media import StoreReader
from custody.services.redaction import scans
from custody.services.redaction.records import Choices, Footage, Record, Scanned, plan_record
from custody.services.redaction.render import RenderFailed, RenderSettings, measure
from custody.services.system import System, UnitOfWork

# At most this many manual boxes (and merges of tracks) in one redaction.
MAX_MANUAL = 200


def _check(choices: Choices, scan: FaceScan | None, footage: Footage) -> Scanned | None:
    """The scan the choices rest on, if they make sense against it and the footage."""
    try:
        mute_ranges(choices.mute)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if len(choices.manual) > MAX_MANUAL:
        raise InvalidInput(f"at most {MAX_MANUAL} manual boxes")
    for manual in choices.manual:
        if not manual.keyframes:
            raise InvalidInput("a manual box needs at least one keyframe")
        for frame, x1, y1, x2, y2 in manual.keyframes:
            if not (0 <= frame < footage.frame_count):
                raise InvalidInput(f"keyframe {frame} is outside the footage's frames")
            if not (0 <= x1 < x2 <= footage.width and 0 <= y1 < y2 <= footage.height):
                raise InvalidInput("a manual box must lie inside the frame, right of and below "
                                   "its top left")  # fmt: skip
    if scan is None:
        if choices.blur_tracks or choices.merge:
            raise InvalidInput("tracks can be chosen only from a face scan")
        return None
    tracks = [track for track, _ in scans.tracks_of(scan)]
    if len(choices.merge) > MAX_MANUAL:
        raise InvalidInput(f"at most {MAX_MANUAL} merges of tracks")
    for keep, absorb in choices.merge:
        try:
            tracks = merge_tracks(tracks, keep, absorb)
        except ValueError as exc:
            raise InvalidInput(f"tracks {keep} and {absorb} cannot be merged: {exc}") from None
    known = {t.id for t in tracks}
    unknown = sorted(set(choices.blur_tracks) - known)
    if unknown:
        if unknown[0] in {absorb for _, absorb in choices.merge}:
            raise InvalidInput(f"track {unknown[0]} is merged into another: choose that one")
        raise InvalidInput(f"the scan has no track {unknown[0]}")
    return Scanned(scan.id, scan.model_name, scan.model_sha256, scans.settings_of(scan), tracks)


def measured_footage(
    system: System, principal: Principal, recording_id: str, actor: Actor, tag: str
) -> Footage:
    """The footage's own size, frame rate and frame count, read from the original (for
    choices made without a scan: a camera's rate is what its file says, not a guess)."""
    with system.unit_of_work() as uow:
        recording = open_recording(uow, principal, recording_id, Action.REDACT, actor,
                                   tag).recording  # fmt: skip
        if not recording.width or not recording.height or not recording.duration_seconds:
            raise Conflict(f"recording {recording.id} does not play, so it cannot be redacted")
        sha256 = recording.sha256
    try:
        width, height, fps, frames = measure(StoreReader(system.store, sha256))
    except (RenderFailed, NotFound):
        raise Conflict(
            f"recording {recording_id} does not play, so it cannot be redacted"
        ) from None
    return Footage(sha256, width, height, fps, frames)


@dataclass(frozen=True)
class Plan:
    """Choices checked against the footage and its scan: the record before its render."""

    recording_id: str
    original_sha256: str
    scan_id: str | None
    record: Record


def plan_choices(
    uow: UnitOfWork,
    principal: Principal,
    recording_id: str,
    choices: Choices,
    actor: Actor,
    *,
    tag: str,
    redaction_id: str,
    scan_id: str | None,
    measured: Footage | None,
    render: RenderSettings | None = None,
) -> Plan:
    """Through the door (`REDACT`), the record these choices would make: every box on every
    frame. `measured` is the footage as read from the original when there is no scan."""
    sight = open_recording(uow, principal, recording_id, Action.REDACT, actor, tag)
    scan: FaceScan | None = None
    if scan_id is not None:
        scan = scans.open_scan(uow, principal, scan_id, actor, Action.REDACT, tag)
        if scan.recording_id != recording_id:
            raise InvalidInput(f"face scan {scan_id} is of another recording")
        if scan.state != scans.COMPLETE:
            raise Conflict(f"face scan {scan_id} has not finished ({scan.state})")
    recording = sight.recording
    footage = _footage_of(recording, scan, measured)
    scanned = _check(choices, scan, footage)
    record = plan_record(
        redaction_id=redaction_id, recording_id=recording_id, footage=footage, scan=scanned,
        choices=choices, chosen_by=actor.name, chosen_at=isoformat(uow.now()),
        render=render or RenderSettings(),
    )  # fmt: skip
    return Plan(recording_id, recording.sha256, scan.id if scan else None, record)


def _footage_of(recording: Any, scan: FaceScan | None, measured: Footage | None) -> Footage:
    if scan is not None and scan.frame_count is not None:
        return Footage(
            recording.sha256, scan.width or 0, scan.height or 0, scan.fps or 25.0, scan.frame_count
        )
    if measured is not None and measured.sha256 == recording.sha256:
        return measured
    raise Conflict(f"recording {recording.id} does not play, so it cannot be redacted")
