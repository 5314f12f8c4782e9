"""Face scans: a background job finds the faces in a recording and follows each person.

Asking for a scan passes the door (REDACT on the recording) and is audited; the job reads
the original from the store, runs the detector whose weights' hash Custody recorded, and
keeps every track with its detections, time span and thumbnail (a JPEG in the store).
Footage that does not decode, or weights that are not the recorded file, fail the scan
with a clear reason; nothing is half-kept.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict

from sqlalchemy import select

from custody.db.models import Recording
from custody.db.models.redaction import FaceScan
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, NotFound
from custody.domain.principal import Principal
from custody.domain.redaction import Box, Detection, Track, found_again
from custody.domain.retention import DELETED
from custody.services.access import open_recording
from custody.services.recordings.media import PLAYABLE, StoreReader
from custody.services.redaction.answers import ScanView, TrackView
from custody.services.redaction.faces import (
    FaceDetector,
    FootageUnreadable,
    ScanSettings,
    scan_faces,
)
from custody.services.redaction.faces import (
    FaceScan as Found,
)
from custody.services.redaction.model import (
    MODEL_NAME,
    MODEL_SHA256,
    ModelMismatch,
    verified_model,
)
from custody.services.retention.derived import discard
from custody.services.system import System, UnitOfWork

SCAN = "user:redaction:scan"
VIEW = "user:redaction:view"
SCANNED = "system:redaction:scanned"
SCANNING, COMPLETE, FAILED = "scanning", "complete", "failed"


def settings_of(scan: FaceScan) -> ScanSettings:
    return ScanSettings(**json.loads(scan.settings))


def tracks_of(scan: FaceScan) -> list[tuple[Track, str | None]]:
    """A finished scan's tracks, each with its thumbnail's object."""
    found: list[tuple[Track, str | None]] = []
    for item in json.loads(scan.tracks or "[]"):
        detections = [Detection(d[0], Box(d[1], d[2], d[3], d[4]), d[5]) for d in item["d"]]
        found.append((Track(item["id"], detections), item.get("thumbnail")))
    return found


# A person hidden longer than this is not offered as "likely the same" (still mergeable).
LIKELY_GAP_SECONDS = 3.0


def _earlier(track: Track, found: list[Track], fps: float) -> tuple[list[int], int | None]:
    """The tracks that ended before this one started (it may be one of them found again),
    and the likeliest: found again soon after, where that one was heading."""
    before = [t for t in found if t.last_frame < track.first_frame]
    within = round(LIKELY_GAP_SECONDS * fps)
    likely = [t for t in before if found_again(t, track, within=within)]
    best = max(likely, key=lambda t: t.last_frame).id if likely else None
    return [t.id for t in before], best


def _view(scan: FaceScan) -> ScanView:
    fps = scan.fps or 25.0
    found = tracks_of(scan)
    plain = [track for track, _ in found]
    tracks = [
        TrackView(
            id=track.id,
            first_frame=track.first_frame,
            last_frame=track.last_frame,
            first_seconds=round(track.first_frame / fps, 3),
            last_seconds=round(track.last_frame / fps, 3),
            detections=len(track.detections),
            best_score=round(track.best.score, 3),
            thumbnail_sha256=thumb,
            may_merge_into=_earlier(track, plain, fps)[0],
            likely_same_as=_earlier(track, plain, fps)[1],
        )
        for track, thumb in found
    ]
    return ScanView(
        id=scan.id,
        recording_id=scan.recording_id,
        original_sha256=scan.original_sha256,
        state=scan.state,
        model_name=scan.model_name,
        model_sha256=scan.model_sha256,
        requested_by=scan.requested_by,
        requested_at=isoformat(scan.requested_at),
        finished_at=isoformat(scan.finished_at) if scan.finished_at else None,
        failure=scan.failure,
        frame_count=scan.frame_count,
        fps=scan.fps,
        tracks=tracks,
    )


def request_scan(
    system: System,
    principal: Principal,
    recording_id: str,
    actor: Actor,
    settings: ScanSettings | None = None,
) -> ScanView:
    """Ask for the faces in a recording to be found; the job runs after the commit."""
    settings = settings or ScanSettings()
    with system.unit_of_work() as uow:
        sight = open_recording(uow, principal, recording_id, Action.REDACT, actor, SCAN)
        recording = sight.recording
        if recording.state != PLAYABLE:
            why = recording.media_error or "it has not been processed yet; try again shortly"
            raise Conflict(
                f"recording {recording_id} does not play, so it cannot be scanned: {why}"
            )
        scan = FaceScan(
            id=str(uuid.uuid4()),
            recording_id=recording_id,
            original_sha256=recording.sha256,
            state=SCANNING,
            settings=json.dumps(asdict(settings), sort_keys=True),
            model_name=MODEL_NAME,
            model_sha256=MODEL_SHA256,
            requested_by=actor.name,
            requested_at=uow.now(),
        )
        uow.session.add(scan)
        uow.session.flush()
        uow.audit(SCAN, actor, object_type="recording", object_id=recording_id,
                  details={"scan": scan.id, "model_sha256": MODEL_SHA256})  # fmt: skip
        scan_id = scan.id
        uow.after_commit(lambda: system.jobs.detect_faces(scan_id))
        uow.commit()
        return _view(scan)


def run_scan(system: System, scan_id: str, *, threads: int | None = None) -> None:
    """The job: find and follow the faces, store thumbnails, and finish the scan's row."""
    with system.unit_of_work() as uow:
        scan = uow.session.get(FaceScan, scan_id)
        if scan is None or scan.state != SCANNING:
            return
        original, settings = scan.original_sha256, settings_of(scan)
    try:
        detector = FaceDetector(verified_model(), threshold=settings.threshold, threads=threads)
        found = scan_faces(StoreReader(system.store, original), detector, settings)
    except (ModelMismatch, FootageUnreadable, NotFound) as exc:
        reason = str(exc) if not isinstance(exc, NotFound) else "the original is not in the store"
        if isinstance(exc, FootageUnreadable):
            reason = f"the footage does not decode: {exc}"
        _finish(system, scan_id, None, reason)
        return
    _finish(system, scan_id, found, None)


def _finish(system: System, scan_id: str, found: Found | None, failure: str | None) -> None:
    thumbs: dict[int, str] = {}
    if found is not None:
        for track_id, jpeg in found.thumbnails.items():
            thumbs[track_id] = system.store.put_stream([jpeg]).sha256
    with system.unit_of_work() as uow:
        scan = uow.session.get(FaceScan, scan_id, with_for_update=True)
        if scan is None or scan.state != SCANNING:
            return
        recording = uow.session.get(Recording, scan.recording_id)
        if recording is None or recording.state == DELETED:
            # The footage was deleted while it was scanned: no face of it may stay behind.
            found, failure = None, "the recording was deleted under the retention rules"
            discard(system, uow, scan.recording_id, sorted(set(thumbs.values())))
        scan.finished_at = uow.now()
        if found is None:
            scan.state, scan.failure = FAILED, failure
        else:
            scan.state = COMPLETE
            scan.width, scan.height = found.width, found.height
            scan.fps, scan.frame_count = found.fps, found.frame_count
            scan.tracks = json.dumps(
                [
                    {
                        "id": t.id,
                        "thumbnail": thumbs.get(t.id),
                        "d": [
                            [
                                d.frame,
                                round(d.box.x1, 1),
                                round(d.box.y1, 1),
                                round(d.box.x2, 1),
                                round(d.box.y2, 1),
                                round(d.score, 4),
                            ]
                            for d in t.detections
                        ],
                    }
                    for t in found.tracks
                ],
                separators=(",", ":"),
            )
        tracks = len(found.tracks) if found else 0
        uow.audit(
            SCANNED,
            Actor.system(),
            object_type="recording",
            object_id=scan.recording_id,
            details={"scan": scan.id, "state": scan.state, "tracks": tracks, "failure": failure},
        )
        uow.commit()


def open_scan(
    uow: UnitOfWork, principal: Principal, scan_id: str, actor: Actor, action: Action, tag: str
) -> FaceScan:
    """A scan, if the door lets the person do `action` to its recording; "no scan" alike for
    an id never used and a scan of a recording they may not know of."""
    missing = NotFound(f"no face scan {scan_id}")
    scan = uow.session.get(FaceScan, scan_id) if len(scan_id) <= 36 else None
    if scan is None:
        raise missing
    try:
        open_recording(uow, principal, scan.recording_id, action, actor, tag)
    except NotFound:
        raise missing from None
    return scan


def get_scan(system: System, principal: Principal, scan_id: str, actor: Actor) -> ScanView:
    """A scan and its tracks (faces are footage: the door's REDACT, and the look is audited)."""
    with system.unit_of_work() as uow:
        scan = open_scan(uow, principal, scan_id, actor, Action.REDACT, VIEW)
        uow.audit(VIEW, actor, object_type="recording", object_id=scan.recording_id,
                  details={"scan": scan.id})  # fmt: skip
        uow.commit()
        return _view(scan)


def list_scans(
    system: System, principal: Principal, recording_id: str, actor: Actor
) -> list[ScanView]:
    """The face scans of a recording, newest first."""
    with system.unit_of_work() as uow:
        open_recording(uow, principal, recording_id, Action.REDACT, actor, VIEW)
        rows = uow.session.scalars(
            select(FaceScan)
            .where(FaceScan.recording_id == recording_id)
            .order_by(FaceScan.requested_at.desc(), FaceScan.id)
        )
        return [_view(row) for row in rows]


def thumbnail(
    system: System, principal: Principal, scan_id: str, track_id: int, actor: Actor
) -> bytes:
    """A track's thumbnail (a JPEG of a face: footage, so the door's REDACT)."""
    with system.unit_of_work() as uow:
        scan = open_scan(uow, principal, scan_id, actor, Action.REDACT, VIEW)
        found = {track.id: thumb for track, thumb in tracks_of(scan)}
    sha = found.get(track_id)
    if sha is None:
        raise NotFound(f"face scan {scan_id} has no track {track_id}")
    return b"".join(system.store.read(sha))
