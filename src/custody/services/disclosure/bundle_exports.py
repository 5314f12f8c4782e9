"""Court bundles built in the background: asked for, built by a job, downloaded in ranges.

Asking decides and audits the export in the same transaction that records it (`building`),
and the job goes out after the commit. The job writes the zip to a temporary file in the
data folder, puts it in the object store and only then marks the row `complete`: a build
that dies half-way leaves a `building` row that stops moving (shown as stopped) and never
a download. Downloading reads footage, so every request for its bytes is audited.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from custody.audit import checkpoints as checkpoint_store
from custody.audit.log import AuditEntry
from custody.db.models.bundles import BundleExport
from custody.db.models.lifecycle import Case
from custody.db.models.users import User
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, CustodyError, NotFound
from custody.domain.principal import Principal
from custody.services import access
from custody.services.disclosure import bundles
from custody.services.disclosure.bag_targets import ZipTarget
from custody.services.disclosure.bundle_answers import BundleStatus
from custody.services.disclosure.bundle_contents import gather, schedule_of
from custody.services.identity.users import principal_of
from custody.services.recordings.reading import MediaStream, RangeNotSatisfiable
from custody.services.system import System, UnitOfWork

logger = logging.getLogger(__name__)

BUILDING, COMPLETE, FAILED, STOPPED = "building", "complete", "failed", "stopped"
# A build that has not moved for this long has died with its worker.
STALL = timedelta(minutes=10)
# Progress is written at most this often: a row per second, not per megabyte.
PROGRESS_EVERY = timedelta(seconds=1)
TAG_ASK = "user:case:bundle_request"
TAG_DOWNLOAD = "user:case:bundle_download"
ZIP_TYPE = "application/zip"


def _status(row: BundleExport, now: datetime) -> BundleStatus:
    state = row.state
    if state == BUILDING and now - row.updated_at > STALL:
        state = STOPPED
    return BundleStatus(
        id=row.id,
        case_id=row.case_id,
        requested_by=row.requested_by,
        requested_at=isoformat(row.requested_at),
        state=state,
        done_bytes=row.done_bytes,
        total_bytes=row.total_bytes,
        finished_at=isoformat(row.finished_at) if row.finished_at else None,
        sha256=row.sha256 if row.state == COMPLETE else None,
        size=row.size if row.state == COMPLETE else None,
        failure=row.failure,
    )


def request_bundle(
    system: System, principal: Principal, case_id: int, actor: Actor
) -> BundleStatus:
    """Decide and audit a case's bundle now; a background job builds it."""
    before = checkpoint_store.latest(system.sessions)
    export_id = str(uuid.uuid4())
    with system.unit_of_work() as uow:
        decided = bundles.decide(uow, principal, case_id, actor, before)
        plan = {
            "export_entries": uow.entry_ids(decided.export_entries),
            "before_checkpoint": before.id if before is not None else None,
            "made_at": isoformat(decided.made_at),
            "recordings": [r.id for r in decided.contents.recordings],
            "clips": [c.id for c in decided.contents.clips],
            "redactions": [r.id for r in decided.contents.redactions],
        }
        row = BundleExport(
            id=export_id,
            case_id=case_id,
            requested_by=actor.name,
            requested_by_user_id=principal.user_id,
            requested_at=uow.now(),
            state=BUILDING,
            plan=json.dumps(plan),
            done_bytes=0,
            total_bytes=decided.contents.footage_bytes,
            updated_at=uow.now(),
        )
        uow.session.add(row)
        uow.audit(
            TAG_ASK,
            actor,
            object_type="case",
            object_id=str(case_id),
            details={"bundle": export_id},
        )
        uow.after_commit(lambda: system.jobs.build_bundle(export_id))
        uow.commit()
        return _status(row, uow.now())


def _open(uow: UnitOfWork, principal: Principal, export_id: str) -> BundleExport:
    """The export, if the person may see its case; for anyone else it does not exist."""
    row = uow.session.get(BundleExport, export_id)
    if row is None:
        raise NotFound(f"no bundle {export_id}")
    try:
        access.open_case(uow, principal, row.case_id)
    except NotFound:
        raise NotFound(f"no bundle {export_id}") from None
    return row


def bundle_status(system: System, principal: Principal, export_id: str) -> BundleStatus:
    with system.unit_of_work() as uow:
        return _status(_open(uow, principal, export_id), uow.now())


def case_bundles(system: System, principal: Principal, case_id: int) -> list[BundleStatus]:
    """The case's bundles, newest first."""
    with system.unit_of_work() as uow:
        access.open_case(uow, principal, case_id)
        rows = uow.session.scalars(
            select(BundleExport)
            .where(BundleExport.case_id == case_id)
            .order_by(BundleExport.requested_at.desc(), BundleExport.id)
        ).all()
        return [_status(row, uow.now()) for row in rows]


# --- the job ---------------------------------------------------------------------------


def exports_dir(system: System) -> Path:
    folder = system.settings.data_dir / "exports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def build_bundle(system: System, export_id: str) -> None:
    """Build a requested bundle into the store (the job); a failure is kept on the row."""
    with system.unit_of_work() as uow:
        row = uow.session.get(BundleExport, export_id)
        if row is None or row.state != BUILDING:
            return  # built already, or failed: a retried job does nothing
        plan = json.loads(row.plan)
        user = uow.session.get(User, row.requested_by_user_id)
        case = uow.session.get(Case, row.case_id)
        if user is None or case is None:
            raise LookupError(export_id)
        principal = principal_of(user)
        viewer = access.viewer_for(uow, principal)
        contents = gather(uow, case, schedule_of(uow, case.id))
        made_by = row.requested_by
    try:
        if (
            [r.id for r in contents.recordings] != plan["recordings"]
            or [c.id for c in contents.clips] != plan["clips"]
            or [r.id for r in contents.redactions] != plan.get("redactions", [])
        ):
            raise Conflict("the case's schedule changed after the bundle was asked for: ask again")
        before = None
        if plan["before_checkpoint"] is not None:
            before = checkpoint_store.find(system.sessions, int(plan["before_checkpoint"]))
        decided = bundles.Decided(
            contents,
            viewer,
            datetime.fromisoformat(plan["made_at"].replace("Z", "+00:00")),
            made_by,
            [AuditEntry(entry) for entry in plan.get("export_entries", [])],
            before,
            # A plan made before events were sequenced after commit names them by seq.
            list(plan.get("export_events", [])),
        )
        _build(system, export_id, decided)
    except CustodyError as exc:
        _finish(system, export_id, failure=exc.message)
    except Exception:
        logger.exception("building bundle %s failed", export_id)
        _finish(system, export_id, failure="the build failed: ask for the bundle again")


def _build(system: System, export_id: str, decided: bundles.Decided) -> None:
    temp = exports_dir(system) / f"{export_id}.zip"
    target = ZipTarget(temp, decided.made_at, replace_existing=True)
    last = [system.clock.now()]

    def progress(name: str, done: int, total: int) -> None:
        now = system.clock.now()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            _progress(system, export_id, done)

    try:
        made = bundles.write_bundle(system, decided, target, progress)
        target.seal()
        stored = _store(system, target.temp, target.sha256)
    finally:
        target.abandon()
    _finish(system, export_id, sha256=stored, size=target.size, files=made.files)


def _store(system: System, path: Path, sha256: str) -> str:
    """Move the finished zip into the object store (streamed, if not on the same disk)."""
    try:
        return system.store.put_file(path, sha256).sha256
    except OSError:

        def blocks() -> Iterator[bytes]:
            with open(path, "rb") as handle:
                while block := handle.read(1024 * 1024):
                    yield block

        return system.store.put_stream(blocks(), sha256).sha256


def _progress(system: System, export_id: str, done: int) -> None:
    with system.unit_of_work() as uow:
        row = uow.session.get(BundleExport, export_id)
        if row is not None and row.state == BUILDING:
            row.done_bytes = done
            row.updated_at = uow.now()
            uow.commit()


def _finish(
    system: System,
    export_id: str,
    *,
    sha256: str | None = None,
    size: int | None = None,
    files: int | None = None,
    failure: str | None = None,
) -> None:
    with system.unit_of_work() as uow:
        row = uow.session.get(BundleExport, export_id, with_for_update=True)
        if row is None or row.state != BUILDING:
            # Finished already by another delivery of the same job (its first worker was
            # thought dead): the first to finish is the bundle.
            return
        row.state = FAILED if failure else COMPLETE
        row.failure = failure
        row.sha256, row.size, row.files = sha256, size, files
        if not failure:
            row.done_bytes = row.total_bytes
        row.updated_at = row.finished_at = uow.now()
        uow.commit()


# --- downloading -----------------------------------------------------------------------


def _span(byte_range: tuple[int, int | None] | None, size: int) -> tuple[int, int]:
    if byte_range is None:
        return 0, size
    first, last = byte_range
    if first < 0:
        start, end = max(0, size + first), size
    else:
        start, end = first, size if last is None else min(last + 1, size)
    if start >= size or start >= end:
        raise RangeNotSatisfiable(size)
    return start, end


def open_download(
    system: System,
    principal: Principal,
    export_id: str,
    actor: Actor,
    byte_range: tuple[int, int | None] | None,
) -> MediaStream:
    """The finished bundle's bytes (or a range of them); audited before any byte leaves.

    Only someone who may export every recording in it now may download it: the bundle is
    footage leaving the force, as the export itself was.
    """
    with system.unit_of_work() as uow:
        row = _open(uow, principal, export_id)
        if row.state != COMPLETE or row.sha256 is None or row.size is None:
            raise Conflict(f"bundle {export_id} is not complete: it cannot be downloaded")
        plan = json.loads(row.plan)
        for recording_id in plan["recordings"]:
            access.open_recording(
                uow,
                principal,
                recording_id,
                Action.EXPORT,
                actor,
                TAG_DOWNLOAD,
                allow_deleted=True,
            )
        start, end = _span(byte_range, row.size)
        uow.audit(
            TAG_DOWNLOAD,
            actor,
            object_type="case",
            object_id=str(row.case_id),
            details={"bundle": export_id, "sha256": row.sha256, "start": start, "end": end},
        )
        for recording_id in plan["recordings"]:
            uow.audit(
                TAG_DOWNLOAD,
                actor,
                object_type="recording",
                object_id=recording_id,
                details={"bundle": export_id, "case": row.case_id},
            )
        uow.commit()
        sha256, size = row.sha256, row.size
    return MediaStream(
        size=size,
        start=start,
        end=end,
        content_type=ZIP_TYPE,
        chunks=system.store.read(sha256, start, end),
        download=True,
        partial=byte_range is not None,
    )
