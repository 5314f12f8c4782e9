"""The audit trail as people use it: one recording's events, its PDF report, checkpoints,
verification and proofs.

Reading a recording's trail is itself audited, in the same transaction, so the
trail printed for a court ends with the event of its own printing.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import select

from custody.audit import checkpoints as checkpoint_store
from custody.audit import proofs
from custody.audit.checkpoints import Checkpoint
from custody.audit.log import event_hash, hashed_fields
from custody.audit.report import render_trail
from custody.audit.verify import Progress, Report, Since, verify_log
from custody.db.models import (
    AuditEvent,
    AuditHead,
    AuditVerification,
    Camera,
    Officer,
    Recording,
)
from custody.domain import signing
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import CustodyError, NotFound
from custody.domain.principal import Principal
from custody.services import access
from custody.services.access import Sight
from custody.services.audit_trail.answers import (
    ConsistencyProof,
    InclusionProof,
    PublishedCheckpoint,
    RecordingTrail,
    SignedCheckpoint,
    TrailEvent,
    TrailRecording,
)
from custody.services.system import System, UnitOfWork

HOW_TO_CHECK_TRAIL = (
    "Each event's hash is SHA-256 over the RFC 8785 canonical JSON of its fields seq, at, tag, "
    "actor, object_type, object_id, allowed, reason, address, user_agent, details and "
    "prev_hash (details is the JSON text as stored).",
    "Each event's inclusion in the signed checkpoint can be proven: `custody audit proof SEQ` "
    "(or GET /api/v1/audit/events/SEQ/proof) prints a proof anyone can check with "
    "`custody audit check-proof FILE --public-key KEY`, or with any RFC 6962 implementation.",
    "`custody audit verify` recomputes every hash of the whole log and every checkpoint.",
)


def _checked(
    uow: UnitOfWork, principal: Principal, recording_id: str, actor: Actor, tag: str
) -> Sight:
    """The recording, if the principal may read its audit trail; refusals are audited."""
    return access.open_recording(
        uow, principal, recording_id, Action.VIEW_AUDIT, actor, tag, allow_deleted=True
    )


def _event(row: AuditEvent) -> TrailEvent:
    fields = hashed_fields(row)
    return TrailEvent.model_validate(
        {**fields, "hash": row.hash, "hash_ok": event_hash(fields) == row.hash}
    )


def _recording_summary(uow: UnitOfWork, recording: Recording) -> TrailRecording:
    serial = uow.session.scalar(select(Camera.serial).where(Camera.id == recording.camera_id))
    warrant = None
    if recording.officer_id is not None:
        warrant = uow.session.scalar(
            select(Officer.warrant_number).where(Officer.id == recording.officer_id)
        )
    return TrailRecording(
        id=recording.id,
        sha256=recording.sha256,
        size=recording.size,
        camera=serial,
        officer=warrant,
        started_at=isoformat(recording.started_at),
        ended_at=isoformat(recording.ended_at),
        stored_at=isoformat(recording.stored_at),
        state=recording.state,
    )


def _signed(checkpoint: Checkpoint) -> SignedCheckpoint:
    """A checkpoint as a third party receives it (its signed document)."""
    return SignedCheckpoint.model_validate(checkpoint.document())


def _published(checkpoint: Checkpoint) -> PublishedCheckpoint:
    return PublishedCheckpoint.model_validate({"id": checkpoint.id, **checkpoint.document()})


def recording_trail(
    system: System,
    principal: Principal,
    recording_id: str,
    actor: Actor,
    *,
    tag: str = "user:recording:audit",
) -> RecordingTrail:
    """Every audit event about a recording, with hashes and the latest checkpoint.

    The reading is audited and committed first, then sequenced with everything committed
    before it, and only then are the events read: the trail shows its own reading, and
    every event in it has its sequence number and chain hash. (Should the read fail after
    the commit, the log says the trail was read when it was not: the safe way round.)
    """
    with system.unit_of_work() as uow:
        sight = _checked(uow, principal, recording_id, actor, tag)
        recording = sight.recording
        uow.audit(tag, actor, object_type="recording", object_id=recording_id)
        about = _recording_summary(uow, recording)
        generated_at = isoformat(uow.now())
        uow.commit()
    system.sequence_audit()
    with system.sessions() as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "recording", AuditEvent.object_id == recording_id)
            .order_by(AuditEvent.seq)
        ).all()
        # The door's reading of the trail: what professional standards did, and the
        # truth about a complaint hold, read only to those who may see complaints.
        events = [_event(row) for row in rows if access.shows_event(sight.viewer, row.details)]
    latest = checkpoint_store.latest(system.sessions)
    return RecordingTrail(
        recording=about,
        events=events,
        generated_at=generated_at,
        generated_by=actor.name,
        checkpoint=None if latest is None else _signed(latest),
        server_public_key=signing.public_key_text(system.server_key.public_key()),
        how_to_check=list(HOW_TO_CHECK_TRAIL),
    )


def recording_report(
    system: System, principal: Principal, recording_id: str, actor: Actor
) -> bytes:
    """The PDF continuity record of a recording (its printing is audited and in it)."""
    trail = recording_trail(
        system, principal, recording_id, actor, tag="user:recording:audit_report"
    )
    return render_trail(trail.model_dump())


def record_refusal(
    system: System,
    tag: str,
    actor: Actor,
    reason: str,
    *,
    object_type: str = "system",
    object_id: str = "-",
) -> None:
    """Audit a refused attempt on its own (the refusal answers the request)."""
    with system.unit_of_work() as uow:
        uow.audit(
            tag, actor, object_type=object_type, object_id=object_id, allowed=False, reason=reason
        )
        uow.commit()


def publish_checkpoint(system: System) -> PublishedCheckpoint | None:
    """Sign a checkpoint over the log now; None when no event was added since the last."""
    published = checkpoint_store.publish(system.sessions, system.server_key, system.clock.now())
    return None if published is None else _published(published)


def checkpoints(system: System, *, limit: int = 50) -> list[PublishedCheckpoint]:
    """The newest checkpoints, newest first, as signed documents with their ids."""
    found = checkpoint_store.all_checkpoints(system.sessions)
    return [_published(c) for c in reversed(found[-limit:])]


def verify(
    system: System,
    progress: Progress | None = None,
    *,
    since_last: bool = False,
    record_as: str | None = None,
) -> Report:
    """Recompute every event's hash and every checkpoint's root, after sequencing what is
    pending (a pending event that was tampered with stays pending, and is named).

    With `since_last`, start after the last checkpoint that an earlier recorded verify
    found intact: the work is in proportion to what is new. With `record_as`, the result is
    recorded (and audited) as a verification by that name, for the next one to start from.
    """
    # What stops the sequencer (a tampered pending event), the walk below finds and names.
    with contextlib.suppress(CustodyError):
        system.sequence_audit()
    since = last_verified(system) if since_last else None
    started = system.clock.now()
    report = verify_log(
        system.sessions, system.server_key.public_key(), progress=progress, since=since
    )
    if record_as is not None:
        with system.unit_of_work() as uow:
            row = AuditVerification(
                requested_by=record_as,
                requested_at=started,
                started_at=started,
                total=report.skipped + report.events,
                checkpoints=0,
            )
            uow.session.add(row)
            uow.session.flush()
            record_result(uow, row, report)
            uow.commit()
    return report


def last_verified(system: System) -> Since | None:
    """Where the last intact recorded verification ended (at a signed checkpoint)."""
    with system.sessions() as session:
        row = session.scalars(
            select(AuditVerification)
            .where(
                AuditVerification.intact.is_(True),
                AuditVerification.checkpoint_id.is_not(None),
                AuditVerification.head_hash.is_not(None),
            )
            .order_by(AuditVerification.id.desc())
            .limit(1)
        ).first()
    if row is None or row.checkpoint_id is None or row.head_hash is None:
        return None
    return Since(row.checkpoint_id, row.head_hash)


def record_result(uow: UnitOfWork, row: AuditVerification, report: Report) -> None:
    """Write a finished verification's outcome on its row, and audit it."""
    first = report.first
    row.finished_at = uow.now()
    row.checked = report.events
    row.checkpoints = report.checkpoints
    row.intact = report.intact
    row.fault = (
        None if first is None else (f"event {first.seq}: " if first.seq else "") + first.problem
    )
    if report.intact and report.last_checkpoint is not None:
        row.checkpoint_id = report.last_checkpoint.id
        row.size = report.last_checkpoint.size
        row.head_hash = report.last_checkpoint_hash
    uow.audit(
        "system:audit:verify",
        Actor.system(),
        object_type="audit",
        object_id=f"verification:{row.id}",
        details={
            "events": report.events,
            "intact": report.intact,
            "from": report.skipped,
        },
    )


def inclusion_proof(
    system: System,
    seq: int,
    *,
    checkpoint_id: int | None = None,
    actor: Actor | None = None,
) -> InclusionProof:
    """A proof that event `seq` is under a checkpoint; audited when someone asks over the API."""
    if seq < 1:
        raise NotFound(f"no audit event {seq}")
    document = InclusionProof.model_validate(
        proofs.inclusion_proof(
            system.sessions, seq, system.server_key.public_key(), checkpoint_id=checkpoint_id
        )
    )
    if actor is not None:
        with system.unit_of_work() as uow:
            uow.audit("user:audit:proof", actor, object_type="audit_event", object_id=str(seq))
            uow.commit()
    return document


def consistency_proof(
    system: System, old_id: int, *, new_id: int | None = None
) -> ConsistencyProof:
    """A proof that a newer checkpoint extends an older one (hashes only)."""
    return ConsistencyProof.model_validate(
        proofs.consistency_proof(
            system.sessions, old_id, system.server_key.public_key(), new_id=new_id
        )
    )


def log_size(system: System) -> int:
    """How many events the log holds now (the head's sequence number, once sequenced)."""
    system.sequence_audit()
    with system.sessions() as session:
        head = session.get(AuditHead, 1)
        return 0 if head is None else head.seq
