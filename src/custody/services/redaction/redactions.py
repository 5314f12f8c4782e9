"""Redacted copies: asked for with the reviewer's choices, rendered by a job as a new object
beside the untouched original (invariant 3), and released only once a second person approves.

The job renders into a private temporary file and puts it in the store whole; the record
(records.py) goes in beside it; only then does the row say `rendered`. A render killed
half-way leaves its row `rendering` with no object named: nothing half-made is offered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from custody.db.models.redaction import Redaction
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, Gone, NotFound
from custody.domain.principal import Principal
from custody.domain.redaction import boxes_by_frame
from custody.private import private_dir
from custody.services.access import open_recording
from custody.services.recordings import viewings
from custody.services.recordings.media import StoreReader
from custody.services.recordings.reading import PLAY_PIECE, MediaStream, resolve_range
from custody.services.redaction.answers import RedactionView
from custody.services.redaction.planning import measured_footage, plan_choices
from custody.services.redaction.records import (
    Choices,
    Record,
    record_boxes,
    record_bytes,
)
from custody.services.redaction.render import RenderFailed, RenderSettings, render_copy
from custody.services.retention.derived import discard
from custody.services.system import System, UnitOfWork

REQUEST = "user:redaction:request"
RENDERED = "system:redaction:rendered"
APPROVE = "user:redaction:approve"
READ_RECORD = "user:redaction:record"
PLAY = "user:redaction:stream"
RENDERING, DONE, FAILED = "rendering", "rendered", "failed"
COPY_BLOCK = 1024 * 1024


def _view(row: Redaction) -> RedactionView:
    return RedactionView(
        id=row.id,
        recording_id=row.recording_id,
        scan_id=row.scan_id,
        original_sha256=row.original_sha256,
        state=row.state,
        requested_by=row.requested_by,
        requested_at=isoformat(row.requested_at),
        finished_at=isoformat(row.finished_at) if row.finished_at else None,
        failure=row.failure,
        sha256=row.sha256,
        size=row.size,
        record_sha256=row.record_sha256,
        approved_by=row.approved_by,
        approved_at=isoformat(row.approved_at) if row.approved_at else None,
        released=row.state == DONE and row.approved_at is not None,
    )


def request_redaction(
    system: System,
    principal: Principal,
    recording_id: str,
    choices: Choices,
    actor: Actor,
    *,
    scan_id: str | None = None,
    render: RenderSettings | None = None,
) -> RedactionView:
    """Ask for a redacted copy of a recording (tracks from a finished scan of the same
    original, manual boxes, muted audio, or everything); the render runs as a job."""
    measured = None
    if scan_id is None:
        measured = measured_footage(system, principal, recording_id, actor, REQUEST)
    with system.unit_of_work() as uow:
        row_id = str(uuid.uuid4())
        plan = plan_choices(
            uow, principal, recording_id, choices, actor, tag=REQUEST, redaction_id=row_id,
            scan_id=scan_id, measured=measured, render=render,
        )  # fmt: skip
        record = plan.record
        row = Redaction(
            id=row_id,
            recording_id=recording_id,
            scan_id=plan.scan_id,
            original_sha256=plan.original_sha256,
            state=RENDERING,
            plan=json.dumps(record, sort_keys=True),
            requested_by=actor.name,
            requested_by_user_id=principal.user_id,
            requested_at=uow.now(),
        )
        uow.session.add(row)
        uow.session.flush()
        uow.audit(
            REQUEST, actor, object_type="recording", object_id=recording_id,
            details={"redaction": row_id, "scan": row.scan_id, **record["choices"],
                     "boxes": record["boxes"]["count"]},
        )  # fmt: skip
        uow.after_commit(lambda: system.jobs.render_redaction(row_id))
        uow.commit()
        return _view(row)


def render_from_record(source_open: Any, record: Record, target: Path) -> int:
    """Render the copy a record describes from the original (`source_open()` opens it)."""
    choices = record["choices"]
    settings = {k: v for k, v in record["render"].items() if k != "pyav"}
    return render_copy(
        source_open(),
        source_open,
        target,
        boxes_by_frame(record_boxes(record)),
        everything=choices["mode"] == "everything",
        mute=[(float(a), float(b)) for a, b in choices["mute_seconds"]],
        remove_audio=bool(choices["remove_audio"]),
        settings=RenderSettings(**settings),
    )


def run_render(system: System, redaction_id: str) -> None:
    """The job: render the copy from the planned record, store it and its record, finish."""
    with system.unit_of_work() as uow:
        row = uow.session.get(Redaction, redaction_id)
        if row is None or row.state != RENDERING or row.deleted_at is not None:
            return
        record: Record = json.loads(row.plan)
        original = row.original_sha256
    folder = private_dir(system.settings.data_dir / "redacting")
    temp = folder / f"{uuid.uuid4().hex}.mp4"
    try:
        try:
            render_from_record(lambda: StoreReader(system.store, original), record, temp)
        except (RenderFailed, NotFound) as exc:
            _fail(system, redaction_id, f"the copy could not be rendered: {exc}")
            return
        stored = system.store.put_stream(_chunks(temp))
    finally:
        temp.unlink(missing_ok=True)
    record["output"] = {"sha256": stored.sha256, "size": stored.size, "container": "mp4"}
    kept = system.store.put_stream([record_bytes(record)])
    with system.unit_of_work() as uow:
        row = uow.session.get(Redaction, redaction_id, with_for_update=True)
        if row is None or row.state != RENDERING:
            return
        if row.deleted_at is not None:
            # The original went while this rendered: what was made goes too, key first.
            discard(system, uow, row.recording_id, [stored.sha256, kept.sha256])
            uow.commit()
            return
        row.state, row.finished_at = DONE, uow.now()
        row.sha256, row.size, row.record_sha256 = stored.sha256, stored.size, kept.sha256
        row.plan = json.dumps(record, sort_keys=True)
        uow.audit(
            RENDERED, Actor.system(), object_type="recording", object_id=row.recording_id,
            details={"redaction": row.id, "original_sha256": row.original_sha256,
                     "sha256": stored.sha256, "size": stored.size, "record_sha256": kept.sha256},
        )  # fmt: skip
        uow.commit()


def _fail(system: System, redaction_id: str, reason: str) -> None:
    with system.unit_of_work() as uow:
        row = uow.session.get(Redaction, redaction_id, with_for_update=True)
        if row is None or row.state != RENDERING:
            return
        row.state, row.failure, row.finished_at = FAILED, reason, uow.now()
        uow.audit(RENDERED, Actor.system(), object_type="recording", object_id=row.recording_id,
                  details={"redaction": row.id, "failure": reason})  # fmt: skip
        uow.commit()


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while block := handle.read(COPY_BLOCK):
            yield block


def _open(
    uow: UnitOfWork, principal: Principal, redaction_id: str, actor: Actor, action: Action,
    tag: str, *, lock: bool = False,
) -> Redaction:  # fmt: skip
    missing = NotFound(f"no redaction {redaction_id}")
    row = (
        uow.session.get(Redaction, redaction_id, with_for_update=lock or None)
        if len(redaction_id) <= 36
        else None
    )
    if row is None:
        raise missing
    try:
        # A deleted original is refused below, as its copy: gone, once access is decided.
        open_recording(uow, principal, row.recording_id, action, actor, tag, allow_deleted=True)
    except NotFound:
        raise missing from None
    if row.deleted_at is not None:
        raise Gone(
            f"redacted copy {row.id} was deleted with its original under the retention rules "
            f"on {isoformat(row.deleted_at)}"
        )
    return row


def get_redaction(
    system: System, principal: Principal, redaction_id: str, actor: Actor
) -> RedactionView:
    """A redaction's state (its copy and record by hash once rendered)."""
    with system.unit_of_work() as uow:
        return _view(_open(uow, principal, redaction_id, actor, Action.REDACT, READ_RECORD))


def _approvable(row: Redaction, principal: Principal) -> None:
    if row.state != DONE:
        raise Conflict(f"redaction {row.id} is not rendered ({row.state})")
    if row.approved_at is not None:
        raise Conflict(f"redaction {row.id} is already approved by {row.approved_by}")
    if row.requested_by_user_id == principal.user_id:
        raise Conflict("a second person must approve a redaction: not the one who made it")


def approve_redaction(
    system: System, principal: Principal, redaction_id: str, actor: Actor
) -> RedactionView:
    """A second person approves a rendered copy for release; the record, with its approval,
    is stored again beside the copy. Whoever asked for the copy may not approve it."""
    with system.unit_of_work() as uow:
        row = _open(uow, principal, redaction_id, actor, Action.APPROVE_REDACTION, APPROVE)
        _approvable(row, principal)
        at = uow.now()
        record: Record = json.loads(row.plan)
    record["approval"] = {"by": actor.name, "at": isoformat(at)}
    # Stored before the transaction that names it: the store may keep keys in the database.
    kept = system.store.put_stream([record_bytes(record)])
    with system.unit_of_work() as uow:
        row = _open(uow, principal, redaction_id, actor, Action.APPROVE_REDACTION, APPROVE,
                    lock=True)  # fmt: skip
        _approvable(row, principal)
        row.approved_by, row.approved_by_user_id = actor.name, principal.user_id
        row.approved_at, row.record_sha256 = at, kept.sha256
        row.plan = json.dumps(record, sort_keys=True)
        uow.audit(APPROVE, actor, object_type="recording", object_id=row.recording_id,
                  details={"redaction": row.id, "sha256": row.sha256,
                           "record_sha256": kept.sha256})  # fmt: skip
        uow.commit()
        return _view(row)


def read_record(system: System, principal: Principal, redaction_id: str, actor: Actor) -> bytes:
    """The record stored beside a rendered copy, as JSON bytes (the read is audited)."""
    with system.unit_of_work() as uow:
        row = _open(uow, principal, redaction_id, actor, Action.REDACT, READ_RECORD)
        if row.record_sha256 is None:
            raise Conflict(f"redaction {redaction_id} has no record yet ({row.state})")
        uow.audit(READ_RECORD, actor, object_type="recording", object_id=row.recording_id,
                  details={"redaction": row.id, "record_sha256": row.record_sha256})  # fmt: skip
        uow.commit()
        sha = row.record_sha256
    return b"".join(system.store.read(sha))


def list_redactions(
    system: System, principal: Principal, recording_id: str, actor: Actor
) -> list[RedactionView]:
    """The redacted copies of a recording, oldest first."""
    with system.unit_of_work() as uow:
        open_recording(uow, principal, recording_id, Action.REDACT, actor, READ_RECORD)
        rows = uow.session.scalars(
            select(Redaction)
            .where(Redaction.recording_id == recording_id)
            .order_by(Redaction.requested_at, Redaction.id)
        )
        return [_view(row) for row in rows]


def open_copy_media(
    system: System,
    principal: Principal,
    redaction_id: str,
    actor: Actor,
    byte_range: tuple[int, int | None] | None,
) -> MediaStream:
    """Play a rendered copy a piece at a time (a reviewer's preview before approval, or the
    released copy); a viewing is audited once, on the recording, as a clip's is."""
    with system.unit_of_work() as uow:
        row = _open(uow, principal, redaction_id, actor, Action.STREAM, PLAY)
        if row.sha256 is None or row.size is None:
            raise Conflict(f"redaction {redaction_id} has no copy yet ({row.state})")
        start, end = resolve_range(byte_range, row.size)
        end = min(end, start + PLAY_PIECE)
        if not viewings.continues(uow, PLAY, actor, row.recording_id):
            uow.audit(PLAY, actor, object_type="recording", object_id=row.recording_id,
                      details={"redaction": row.id, "range": [start, end - 1]})  # fmt: skip
        uow.commit()
        sha, size = row.sha256, row.size
    return MediaStream(size, start, end, "video/mp4", system.store.read(sha, start, end),
                       download=False, partial=True)  # fmt: skip
