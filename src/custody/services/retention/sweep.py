"""Deletion under the retention rules: the sweep, tombstones with signed certificates, and
the removal of objects from the store.

Deletion order, chosen so that a crash never loses a record and never leaves bytes for
ever: (1) in one transaction, with the recording locked, decide again on fresh facts
and, if it is due, write the tombstone, its signed certificate and the audit event;
(2) then delete its objects from the store (each only if no live recording still uses
it) and stamp `purged_at`. A crash between the two leaves a tombstone whose objects
are still there: every sweep first finishes such deletions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, delete, or_, select

from custody.db import search_index
from custody.db.models import Camera, Manifest, Officer, Recording
from custody.db.models.disclosure import Clip
from custody.db.models.lifecycle import Annotation, RecordingTag
from custody.db.models.speech import Transcript
from custody.db.models.storage import FixityCheck, ObjectLockState
from custody.domain import signing
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.categories import CategoryRule
from custody.domain.clock import isoformat
from custody.domain.principal import Principal
from custody.domain.retention import (
    DELETED,
    RetentionDecision,
    decide_retention,
    deletion_certificate,
)
from custody.services.access import require_role
from custody.services.object_keys import shred
from custody.services.retention.answers import SweepFailure, SweepResult
from custody.services.retention.derived import derived_in_use, derived_of, forget, left_behind
from custody.services.retention.facts import due_details, recompute, retention_facts
from custody.services.retention.locks import release_for_deletion
from custody.services.system import System, UnitOfWork

logger = logging.getLogger(__name__)

SWEEP_BATCH = 200
DECIDE_BATCH = 500


def object_columns() -> list[str]:
    """Every column of a recording that names an object in the store: the original and its
    derivatives (thumbnail, and any proxy or still added later as `<something>_sha256`)."""
    return [c.name for c in Recording.__table__.columns if c.name.endswith("sha256")]


def selection(now: datetime, limit: int = SWEEP_BATCH) -> Select[str]:
    """The sweep's selection: an index range scan on delete_due_at (benchmarks/retention.py)."""
    return (
        select(Recording.id)
        .where(Recording.delete_due_at <= now, Recording.state != DELETED)
        .order_by(Recording.delete_due_at)
        .limit(limit)
    )


@dataclass
class SweepReport:
    """What a sweep did, gathered as it goes (`result` is its answer)."""

    at: datetime
    decided: int = 0  # recordings nobody had decided yet (e.g. from before migration 0002)
    finished: int = 0  # deletions a crash had left half done
    deleted: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)  # the stored date was stale: kept
    objects_deleted: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def result(self) -> SweepResult:
        return SweepResult(
            at=isoformat(self.at),
            decided=self.decided,
            finished=self.finished,
            deleted=self.deleted,
            corrected=self.corrected,
            objects_deleted=self.objects_deleted,
            failures=[SweepFailure(recording_id=r, error=e) for r, e in self.failures],
        )


def run_sweep(
    system: System,
    principal: Principal,
    actor: Actor,
    *,
    progress: Callable[[str, str], None] | None = None,
) -> SweepResult:
    """A person runs the sweep now (it also runs hourly): refused, and audited, unless their
    role may run it."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.RETENTION_RUN, actor, "user:retention:run")
    return sweep(system, actor, progress=progress).result()


def sweep(
    system: System,
    actor: Actor | None = None,
    *,
    progress: Callable[[str, str], None] | None = None,
) -> SweepReport:
    """Delete every recording that is due now; safe to run at any time, on any node, twice."""
    actor = actor or Actor.system()
    report = SweepReport(at=system.clock.now())
    report.decided = decide_undecided(system)
    report.finished, report.objects_deleted = finish_purges(system)
    failed: set[str] = set()
    while True:
        with system.unit_of_work() as uow:
            query = selection(report.at)
            if failed:
                query = query.where(Recording.id.not_in(failed))
            batch = list(uow.session.scalars(query))
        if not batch:
            break
        for recording_id in batch:
            try:
                outcome = tombstone_if_due(system, recording_id, actor)
            except Exception as exc:  # one bad recording must not stop the sweep
                logger.exception("deleting recording %s failed", recording_id)
                failed.add(recording_id)
                report.failures.append((recording_id, f"{type(exc).__name__}: {exc}"))
                continue
            if outcome == "deleted":
                report.deleted.append(recording_id)
                try:
                    report.objects_deleted += purge_recording(system, recording_id, actor)
                except Exception as exc:
                    # The tombstone stands; the next sweep removes the objects.
                    logger.exception("removing the objects of %s failed", recording_id)
                    report.failures.append(
                        (recording_id, f"objects not removed yet: {type(exc).__name__}: {exc}")
                    )
            elif outcome == "corrected":
                report.corrected.append(recording_id)
            if progress:
                progress(recording_id, outcome)
    if report.deleted or report.corrected or report.failures or report.finished:
        with system.unit_of_work() as uow:
            uow.audit(
                "system:retention:sweep",
                actor,
                object_type="system",
                object_id="retention",
                details=report.result().model_dump(exclude={"deleted"})
                | {"deleted": len(report.deleted)},
            )
            uow.commit()
    return report


def decide_undecided(system: System) -> int:
    """Decide the recordings that have no retention decision yet (rule null)."""
    total = 0
    while True:
        with system.unit_of_work() as uow:
            rows = list(
                uow.session.scalars(
                    select(Recording)
                    .where(Recording.retention_rule.is_(None), Recording.state != DELETED)
                    .order_by(Recording.id)
                    .limit(DECIDE_BATCH)
                    .with_for_update()
                )
            )
            if not rows:
                return total
            recompute(uow, rows, by_person=False)
            uow.audit(
                "system:retention:decide",
                Actor.system(),
                object_type="system",
                object_id="retention",
                details={"recordings": len(rows)},
            )
            uow.commit()
            total += len(rows)


def delete_recording(system: System, recording_id: str, actor: Actor) -> tuple[str, int]:
    """Delete one recording if it is due on fresh facts: tombstone first, then its objects."""
    outcome = tombstone_if_due(system, recording_id, actor)
    removed = purge_recording(system, recording_id, actor) if outcome == "deleted" else 0
    return outcome, removed


def tombstone_if_due(system: System, recording_id: str, actor: Actor) -> str:
    """Decide again on fresh facts, the recording locked; if it is due, commit its tombstone.

    Returns "deleted", "corrected" (the stored date was stale: kept) or "gone".
    """
    with system.unit_of_work() as uow:
        recording = uow.session.get(
            Recording, recording_id, with_for_update=True, populate_existing=True
        )
        if recording is None or recording.state == DELETED:
            return "gone"
        facts = retention_facts(uow, [recording])[recording_id]
        decision = decide_retention(facts)
        now = uow.now()
        if not decision.is_due(now):
            # Defence in depth: the stored date disagreed with the facts. Keep, correct, say so.
            before = recording.delete_due_at
            changes = recompute(uow, [recording], by_person=False)
            uow.audit(
                "system:recording:retention_corrected",
                actor,
                object_type="recording",
                object_id=recording_id,
                reason="the stored deletion date was stale",
                details=due_details(changes[0])
                | {"delete_due_before": isoformat(before) if before else None},
            )
            uow.commit()
            return "corrected"
        _tombstone(uow, recording, decision, facts.categories, actor, system)
        uow.commit()
    return "deleted"


def _tombstone(
    uow: UnitOfWork,
    recording: Recording,
    decision: RetentionDecision,
    categories: tuple[CategoryRule, ...],
    actor: Actor,
    system: System,
) -> None:
    session = uow.session
    now = uow.now()
    camera = session.scalar(select(Camera.serial).where(Camera.id == recording.camera_id))
    officer = session.scalar(
        select(Officer.warrant_number).where(Officer.id == recording.officer_id)
    )
    objects = tuple(sha for name in object_columns() if (sha := getattr(recording, name)))
    # Clips are footage too: they go with their original, named in its certificate.
    clips = list(
        session.scalars(
            select(Clip)
            .where(Clip.recording_id == recording.id, Clip.deleted_at.is_(None))
            .order_by(Clip.id)
        )
    )
    objects += tuple(sorted({clip.sha256 for clip in clips} - set(objects)))
    # So are redacted copies with their records, and face scans' thumbnails (derived.py).
    derived = derived_of(uow, recording.id)
    objects += tuple(sha for sha in derived.objects if sha not in objects)
    # Crypto-shredding, in the tombstone's own transaction: the certificate's word is true
    # the moment it commits, for the store and for every backup of it.
    destroyed = shred(uow, [sha for sha in objects if not _in_use(uow, sha, recording.id)])
    document = deletion_certificate(
        recording_id=recording.id,
        sha256=recording.sha256,
        size=recording.size,
        recorded_at=recording.started_at,
        deleted_at=now,
        decision=decision,
        categories=tuple(c.name for c in categories),
        objects=objects,
        camera=camera,
        officer=officer,
        keys_destroyed=tuple(destroyed),
        clips=tuple(clip.id for clip in clips),
        redactions=tuple(row.id for row in derived.redactions),
    )
    certificate = signing.sign(document, system.server_key)
    recording.state = DELETED
    recording.deleted_at = now
    for clip in clips:
        clip.deleted_at = now
    forget(derived, now)
    recording.deletion_certificate = json.dumps(certificate, sort_keys=True)
    recording.delete_due_at = recording.review_due_at = None
    recording.seen_delete_due_at = recording.seen_review_due_at = None
    recording.retention_rule = decision.rule[:160]
    # Derivatives stop being served at once (their objects go next, named in the certificate).
    for name in object_columns():
        if name != "sha256":
            setattr(recording, name, None)
    # What described the footage goes with it; the certificate says what it was.
    recording.title = None
    recording.gps_track = "[]"
    recording.manifest_document = _without_gps(recording.manifest_document)
    manifest = session.get(Manifest, recording.id)
    if manifest is not None:
        manifest.document = _without_gps(manifest.document)
    session.execute(delete(Annotation).where(Annotation.recording_id == recording.id))
    session.execute(delete(RecordingTag).where(RecordingTag.recording_id == recording.id))
    # What was said in it is the footage's content: every version goes, and its index row.
    session.execute(delete(Transcript).where(Transcript.recording_id == recording.id))
    search_index.keep_sqlite(session.connection(), recording.id, None)
    uow.audit(
        "system:recording:delete",
        actor,
        object_type="recording",
        object_id=recording.id,
        reason=decision.reason,
        details={
            "rule": decision.rule,
            "sha256": recording.sha256,
            "due_at": document["due_at"],
            "objects": list(document["objects"]),
            "clips": [clip.id for clip in clips],
            "redactions": [row.id for row in derived.redactions],
            "certificate_signature": certificate[signing.SIGNATURE_FIELD],
        },
    )


def _without_gps(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return text
    if isinstance(document, dict) and document.get("gps"):
        document["gps"] = []
        document["gps_removed"] = "deleted under the retention rules"
    return json.dumps(document, sort_keys=True)


def purge_recording(system: System, recording_id: str, actor: Actor | None = None) -> int:
    """Remove a tombstoned recording's objects that no live recording uses; idempotent."""
    with system.unit_of_work() as uow:
        recording = uow.session.get(
            Recording, recording_id, with_for_update=True, populate_existing=True
        )
        if recording is None or recording.state != DELETED or recording.purged_at is not None:
            return 0
        certificate = json.loads(recording.deletion_certificate or "{}")
        objects = sorted(set(certificate.get("objects", [])) | {recording.sha256})
        removed, shared = [], []
        for sha in objects:
            if _in_use(uow, sha, recording_id):
                shared.append(sha)  # another live recording holds the same bytes
                continue
            shred(uow, [sha])  # a tombstone from before encryption at rest kept its key
            # It is due: the legal hold goes first (COMPLIANCE retention has ended by now).
            release_for_deletion(system, sha)
            system.store.delete(sha)  # False when a crashed run deleted it already
            removed.append(sha)
        recording.purged_at = uow.now()
        # Fixity keeps watch over what is kept; a deleted object's checks go with it.
        uow.session.execute(delete(FixityCheck).where(FixityCheck.sha256.in_(removed)))
        # And its lock state: the same bytes stored again are a new object, never locked yet.
        uow.session.execute(delete(ObjectLockState).where(ObjectLockState.sha256.in_(removed)))
        uow.audit(
            "system:recording:purge",
            actor or Actor.system(),
            object_type="recording",
            object_id=recording_id,
            details={"deleted": removed, "kept_shared": shared},
        )
        uow.commit()
        return len(removed)


def _in_use(uow: UnitOfWork, sha: str, recording_id: str) -> bool:
    columns = [getattr(Recording, name) == sha for name in object_columns()]
    live_clip = select(Clip.id).where(
        Clip.sha256 == sha, Clip.recording_id != recording_id, Clip.deleted_at.is_(None)
    )
    return (
        uow.session.scalar(
            select(Recording.id)
            .where(Recording.id != recording_id, Recording.state != DELETED, or_(*columns))
            .limit(1)
        )
        is not None
        or uow.session.scalar(live_clip.limit(1)) is not None
        or derived_in_use(uow, sha, recording_id)
    )


def finish_purges(system: System) -> tuple[int, int]:
    """Finish deletions whose tombstone was committed but whose objects were not removed."""
    with system.unit_of_work() as uow:
        ids = list(
            uow.session.scalars(
                select(Recording.id).where(
                    Recording.state == DELETED, Recording.purged_at.is_(None)
                )
            )
        )
    objects = sum(purge_recording(system, rid) for rid in ids)
    return len(ids), objects + purge_left_behind(system)


def purge_left_behind(system: System) -> int:
    """Delete the copies and face thumbnails of recordings deleted before they went with
    their original (tombstones older than migration 0023): named in an audit event, since
    a signed certificate cannot change. Nothing is left after the first sweep."""
    removed = 0
    for recording_id in left_behind(system):
        with system.unit_of_work() as uow:
            recording = uow.session.get(Recording, recording_id, with_for_update=True)
            if recording is None or recording.state != DELETED:
                continue
            derived = derived_of(uow, recording_id)
            gone = [sha for sha in derived.objects if not _in_use(uow, sha, recording_id)]
            destroyed = shred(uow, gone)
            forget(derived, uow.now())
            uow.audit(
                "system:recording:purge",
                Actor.system(),
                object_type="recording",
                object_id=recording_id,
                reason="copies made from a recording deleted before they went with it",
                details={
                    "redactions": [row.id for row in derived.redactions],
                    "deleted": gone,
                    "data_keys_destroyed": destroyed,
                },
            )
            uow.commit()
        for sha in gone:
            release_for_deletion(system, sha)
            system.store.delete(sha)
        removed += len(gone)
    return removed
