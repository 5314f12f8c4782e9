"""What was made from a recording goes with it when retention deletes it.

A redacted copy (`services/redaction`) is footage: its MP4 and every record stored beside it
(the one the render wrote and, once approved, the one with the approval) are objects in the
store. A face scan's thumbnails are pictures of faces cut from the footage, and its tracks
say where each face was on every frame. None of them may outlive the original: the
tombstone names them in the certificate, destroys their data keys with the original's, and
the purge removes their objects (an object another live recording still uses stays).
Clips are the sweep's own (they predate this module); previews are never stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select

from custody.db.models import Recording
from custody.db.models.redaction import FaceScan, Redaction
from custody.domain.retention import DELETED
from custody.services.object_keys import shred
from custody.services.redaction.records import record_sha256
from custody.services.system import System, UnitOfWork

# What a deleted copy's row keeps in place of its plan: the boxes said where faces were.
FORGOTTEN_PLAN = json.dumps({"removed": "deleted with its original under the retention rules"})


@dataclass(frozen=True)
class Derived:
    """A recording's redacted copies and face scans not yet deleted, and their objects."""

    redactions: list[Redaction]
    scans: list[FaceScan]

    @property
    def objects(self) -> tuple[str, ...]:
        found: set[str] = set()
        for row in self.redactions:
            found |= copy_objects(row)
        for scan in self.scans:
            found |= thumbnails(scan)
        return tuple(sorted(found))


def derived_of(uow: UnitOfWork, recording_id: str) -> Derived:
    """Everything made from this recording that is still held, locked for the tombstone."""
    redactions = list(
        uow.session.scalars(
            select(Redaction)
            .where(Redaction.recording_id == recording_id, Redaction.deleted_at.is_(None))
            .order_by(Redaction.id)
            .with_for_update()
        )
    )
    scans = list(
        uow.session.scalars(
            select(FaceScan)
            .where(FaceScan.recording_id == recording_id)
            .order_by(FaceScan.id)
            .with_for_update()
        )
    )
    return Derived(redactions, scans)


def copy_objects(row: Redaction) -> set[str]:
    """A redacted copy's objects: the MP4, the record it names now and, once approved, the
    record the render stored before the approval was added (the same JSON, approval null)."""
    found = {sha for sha in (row.sha256, row.record_sha256) if sha}
    if row.approved_at is not None and row.sha256:
        try:
            record = json.loads(row.plan)
        except ValueError:
            return found
        if isinstance(record, dict) and "output" in record:
            record["approval"] = None  # as the render wrote it, before anyone approved
            found.add(record_sha256(record))
    return found


def thumbnails(scan: FaceScan) -> set[str]:
    """The objects of a scan's track thumbnails."""
    try:
        tracks = json.loads(scan.tracks or "[]")
    except ValueError:
        return set()
    return {str(t["thumbnail"]) for t in tracks if isinstance(t, dict) and t.get("thumbnail")}


def forget(derived: Derived, now: datetime) -> None:
    """Mark the copies deleted and drop what described the faces (tracks and boxes); the rows
    stay, so a schedule, a share or a bundle that named a copy can say it went."""
    for row in derived.redactions:
        row.deleted_at = now
        row.plan = FORGOTTEN_PLAN
    for scan in derived.scans:
        scan.tracks = None


def left_behind(system: System) -> list[str]:
    """Deleted recordings that still have a copy or a scan's tracks: deleted before copies
    went with their original."""
    with system.unit_of_work() as uow:
        gone = exists().where(Recording.id == Redaction.recording_id, Recording.state == DELETED)
        copies = select(Redaction.recording_id).where(Redaction.deleted_at.is_(None), gone)
        scanned = exists().where(Recording.id == FaceScan.recording_id, Recording.state == DELETED)
        scans = select(FaceScan.recording_id).where(FaceScan.tracks.is_not(None), scanned)
        return sorted(set(uow.session.scalars(copies)) | set(uow.session.scalars(scans)))


def derived_in_use(uow: UnitOfWork, sha: str, recording_id: str) -> bool:
    """Whether another live recording's copy or scan still names this object: the same
    bytes recorded twice give the same thumbnails and the same renders."""
    copy = select(Redaction.id).where(
        Redaction.recording_id != recording_id,
        Redaction.deleted_at.is_(None),
        or_(Redaction.sha256 == sha, Redaction.record_sha256 == sha),
    )
    if uow.session.scalar(copy.limit(1)) is not None:
        return True
    # A thumbnail is named only inside a scan's JSON; the scans of live recordings only.
    live = exists().where(Recording.id == FaceScan.recording_id, Recording.state != DELETED)
    scan = select(FaceScan.id).where(
        FaceScan.recording_id != recording_id,
        FaceScan.tracks.contains(sha),
        live,
    )
    return uow.session.scalar(scan.limit(1)) is not None


def live_copy_objects(uow: UnitOfWork) -> set[str]:
    """Every object of a copy or scan not deleted: what `store verify` and a store migration
    must find in the store."""
    found: set[str] = set()
    for row in uow.session.scalars(select(Redaction).where(Redaction.deleted_at.is_(None))):
        found |= copy_objects(row)
    live = exists().where(Recording.id == FaceScan.recording_id, Recording.state != DELETED)
    for scan in uow.session.scalars(select(FaceScan).where(FaceScan.tracks.is_not(None), live)):
        found |= thumbnails(scan)
    return found


def discard(system: System, uow: UnitOfWork, recording_id: str, shas: list[str]) -> None:
    """Remove objects made from a recording deleted meanwhile (unless another live recording's
    copy or scan names the same bytes): their keys go in this transaction, their bytes once
    it commits."""
    gone = [sha for sha in shas if not derived_in_use(uow, sha, recording_id)]
    shred(uow, gone)

    def remove() -> None:
        for sha in gone:
            system.store.delete(sha)

    uow.after_commit(remove)
