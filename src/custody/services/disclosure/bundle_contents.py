"""What goes into a court bundle, gathered from the database in one unit of work.

The schedule decides: every line that may leave the force brings its recording or clip;
a sensitive line is listed as withheld and brings nothing. A recording deleted under the
retention rules brings its receipt and signed deletion certificate instead of footage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from custody.db.models import AuditEvent, Camera, Dock, Officer, Recording
from custody.db.models.disclosure import Clip, ScheduleItem
from custody.db.models.lifecycle import Case
from custody.db.models.redaction import Redaction
from custody.domain.access import Viewer
from custody.domain.clock import isoformat
from custody.domain.disclosure import USE_LABELS, Use, may_leave_the_force, reference_sort_key
from custody.domain.errors import Conflict
from custody.domain.retention import DELETED
from custody.services import access
from custody.services.disclosure.redacted import require_released
from custody.services.system import UnitOfWork

WITHHELD = "withheld: sensitive"
INCLUDED = "included"
GONE = "deleted under the retention rules"
# A recording's footage in the bundle: its own line brings it; a clip's line brings only
# the clip, with the original's signed manifest and receipt to check the clip against.
FOOTAGE_INCLUDED = "included"
FOOTAGE_NOT_INCLUDED = "not included"
FOOTAGE_DELETED = "deleted"


@dataclass(frozen=True)
class ScheduleLine:
    line: int
    use: Use
    reference: str | None
    description: str
    recording_id: str | None
    clip_id: str | None
    status: str
    marked_by: str
    redaction_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "use": self.use.value,
            "use_label": USE_LABELS[self.use],
            "reference": self.reference,
            "description": self.description,
            "recording_id": self.recording_id,
            "clip_id": self.clip_id,
            "redaction_id": self.redaction_id,
            "status": self.status,
        }


@dataclass
class BundledRecording:
    id: str
    sha256: str
    size: int
    footage: str
    started_at: datetime
    ended_at: datetime
    stored_at: datetime
    camera_serial: str | None
    camera_public_key: str | None
    officer: str | None
    dock: str | None
    manifest_document: str
    receipt_document: str
    deletion_certificate: str | None
    deleted_at: datetime | None
    references: list[str] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.footage != FOOTAGE_DELETED


@dataclass(frozen=True)
class BundledClip:
    id: str
    recording_id: str
    sha256: str
    size: int
    original_sha256: str
    in_seconds: float
    out_seconds: float
    cut_start_seconds: float
    method: str
    made_by: str
    made_at: str
    deleted: bool
    reference: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "recording_id": self.recording_id,
            "sha256": self.sha256,
            "size": self.size,
            "original_sha256": self.original_sha256,
            "in_seconds": self.in_seconds,
            "out_seconds": self.out_seconds,
            "cut_start_seconds": self.cut_start_seconds,
            "method": self.method,
            "made_by": self.made_by,
            "made_at": self.made_at,
            "state": "deleted" if self.deleted else "held",
        }


@dataclass(frozen=True)
class BundledRedaction:
    """An approved redacted copy: its bytes and its record (both in the store), and the
    original it was made from, named by hash (invariant 3)."""

    id: str
    recording_id: str
    sha256: str
    size: int
    original_sha256: str
    record_sha256: str
    made_by: str
    rendered_at: str
    approved_by: str
    approved_at: str
    reference: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "recording_id": self.recording_id,
            "sha256": self.sha256,
            "size": self.size,
            "original_sha256": self.original_sha256,
            "record_sha256": self.record_sha256,
            "made_by": self.made_by,
            "rendered_at": self.rendered_at,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
        }


@dataclass
class Contents:
    case_id: int
    case_reference: str
    case_title: str
    schedule: list[ScheduleLine]
    recordings: list[BundledRecording]
    clips: list[BundledClip]
    redactions: list[BundledRedaction] = field(default_factory=list)

    @property
    def footage_bytes(self) -> int:
        held = sum(r.size for r in self.recordings if r.footage == FOOTAGE_INCLUDED)
        copies = sum(r.size for r in self.redactions)
        return held + copies + sum(c.size for c in self.clips if not c.deleted)


def schedule_of(uow: UnitOfWork, case_id: int) -> list[ScheduleItem]:
    """The case's schedule in the order the prosecution reads it: exhibits, then unused."""
    items = uow.session.scalars(
        select(ScheduleItem).where(ScheduleItem.case_id == case_id).order_by(ScheduleItem.id)
    ).all()
    return sorted(items, key=lambda item: (reference_sort_key(item.reference), item.id))


def gather(uow: UnitOfWork, case: Case, items: list[ScheduleItem]) -> Contents:
    """The lines, recordings and clips of the bundle (access already decided by the caller)."""
    lines: list[ScheduleLine] = []
    footage: dict[str, str] = {}
    references: dict[str, list[str]] = {}
    clips: list[BundledClip] = []
    copies: list[BundledRedaction] = []
    for number, item in enumerate(items, start=1):
        use = Use(item.use)
        if not may_leave_the_force(use):
            # Nothing of a sensitive line leaves: not its footage, its id or its description.
            lines.append(ScheduleLine(number, use, None, "", None, None, WITHHELD, item.marked_by))
            continue
        recording = uow.session.get(Recording, item.recording_id)
        if recording is None:
            continue
        gone = recording.state == DELETED
        label = item.reference or f"line {number}"
        references.setdefault(recording.id, []).append(label)
        clip = uow.session.get(Clip, item.clip_id) if item.clip_id else None
        copy = uow.session.get(Redaction, item.redaction_id) if item.redaction_id else None
        if copy is not None:
            # Like a clip: the copy and its record, with the original's manifest and receipt
            # to check the record's link by hash against; the original's footage stays out.
            if gone:
                raise Conflict(
                    f"{label}: the original of redacted copy {copy.id} was deleted under the "
                    "retention rules"
                )
            footage.setdefault(recording.id, FOOTAGE_NOT_INCLUDED)
            copies.append(_copy(require_released(copy), item.reference))
        elif clip is None:
            footage[recording.id] = FOOTAGE_DELETED if gone else FOOTAGE_INCLUDED
        else:
            footage.setdefault(recording.id, FOOTAGE_DELETED if gone else FOOTAGE_NOT_INCLUDED)
            clips.append(_clip(clip, item.reference))
        clip_gone = clip is not None and clip.deleted_at is not None
        status = GONE if (gone and clip is None) or clip_gone else INCLUDED
        lines.append(
            ScheduleLine(
                number,
                use,
                item.reference,
                item.description,
                recording.id,
                item.clip_id,
                status,
                item.marked_by,
                item.redaction_id,
            )
        )
    recordings = [
        _recording(uow, recording_id, state, references[recording_id])
        for recording_id, state in sorted(footage.items())
    ]
    return Contents(case.id, case.reference, case.title, lines, recordings, clips, copies)


def _copy(row: Redaction, reference: str | None) -> BundledRedaction:
    return BundledRedaction(
        id=row.id,
        recording_id=row.recording_id,
        sha256=str(row.sha256),
        size=int(row.size or 0),
        original_sha256=row.original_sha256,
        record_sha256=str(row.record_sha256),
        made_by=row.requested_by,
        rendered_at=isoformat(row.finished_at) if row.finished_at else "",
        approved_by=str(row.approved_by),
        approved_at=isoformat(row.approved_at) if row.approved_at else "",
        reference=reference,
    )


def _clip(clip: Clip, reference: str | None) -> BundledClip:
    return BundledClip(
        id=clip.id,
        recording_id=clip.recording_id,
        sha256=clip.sha256,
        size=clip.size,
        original_sha256=clip.original_sha256,
        in_seconds=clip.in_seconds,
        out_seconds=clip.out_seconds,
        cut_start_seconds=clip.cut_start_seconds,
        method=clip.method,
        made_by=clip.made_by,
        made_at=isoformat(clip.made_at),
        deleted=clip.deleted_at is not None,
        reference=reference,
    )


def _recording(
    uow: UnitOfWork, recording_id: str, footage: str, references: list[str]
) -> BundledRecording:
    session = uow.session
    recording = session.get(Recording, recording_id)
    if recording is None:  # gathered above in this transaction
        raise LookupError(recording_id)
    camera = session.get(Camera, recording.camera_id)
    officer = session.get(Officer, recording.officer_id) if recording.officer_id else None
    dock = session.get(Dock, recording.dock_id) if recording.dock_id else None
    return BundledRecording(
        id=recording.id,
        sha256=recording.sha256,
        size=recording.size,
        footage=footage,
        started_at=recording.started_at,
        ended_at=recording.ended_at,
        stored_at=recording.stored_at,
        camera_serial=camera.serial if camera else None,
        camera_public_key=camera.public_key if camera else None,
        officer=f"{officer.name} ({officer.warrant_number})" if officer else None,
        dock=f"{dock.name} at {dock.station}" if dock else None,
        manifest_document=recording.manifest_document,
        receipt_document=recording.receipt_document,
        deletion_certificate=recording.deletion_certificate,
        deleted_at=recording.deleted_at,
        references=references,
    )


def trail_events(
    uow: UnitOfWork, viewer: Viewer, recording_id: str, until: int, leave_out: set[int]
) -> list[AuditEvent]:
    """The recording's audit events up to `until`, as the exporter may read them.

    `leave_out` are this export's own events: they are proven in the bundle apart, under
    the checkpoint made for it.
    """
    rows = uow.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.object_type == "recording",
            AuditEvent.object_id == recording_id,
            AuditEvent.seq <= until,
        )
        .order_by(AuditEvent.seq)
    ).all()
    return [
        row for row in rows if row.seq not in leave_out and access.shows_event(viewer, row.details)
    ]


def parse_document(text: str) -> dict[str, Any]:
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document
