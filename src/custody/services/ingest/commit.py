"""The commit: a complete upload becomes a recording, once its bytes match the manifest.

The whole file is hashed against the signed manifest before it is moved into the
object store (as it arrived, or again on its way in); the recording row, its audit event
and the signed receipt are committed only after the object is durable. Committing twice
(two uploads of one recording, or a retried last chunk) yields the same recording,
never a duplicate.
"""

from __future__ import annotations

import json
from typing import NoReturn

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from custody.db.models import Camera, Recording, Upload
from custody.db.models import Manifest as ManifestRow
from custody.domain.actor import Actor
from custody.domain.errors import ContentMismatch, InvalidInput, UnknownCamera
from custody.domain.manifest import Manifest, parse_manifest
from custody.domain.receipt import Receipt, issue_receipt
from custody.domain.uploads import UploadState
from custody.services.evidence.complaints import hold_for_complaints
from custody.services.fleet import assignments
from custody.services.fleet.registry import DockIdentity
from custody.services.ingest.expiry import close_siblings, discard_staged
from custody.services.ingest.flags import raise_flag, refuse_conflict
from custody.services.ingest.hashing import RUNNING_HASHES, hash_stream
from custody.services.ingest.uploads import UploadStatus, get_upload, status_of
from custody.services.retention.locks import follow
from custody.services.system import System
from custody.storage.staging import StagedMismatch


def commit_upload(
    system: System, dock: DockIdentity, upload_id: str, actor: Actor | None = None
) -> UploadStatus:
    """Turn a complete upload into a recording: hash check, durable store, receipt.

    Idempotent: committing an upload whose recording exists returns its status.
    """
    actor = actor or dock.actor()
    with system.unit_of_work() as uow:
        upload = get_upload(uow, upload_id)
        status = status_of(upload)
        if upload.state == UploadState.COMMITTED:
            return status
        if upload.offset != upload.length:
            raise InvalidInput("the upload is not complete")
        manifest_row = uow.session.get(ManifestRow, upload.recording_id)
        if manifest_row is None:
            raise InvalidInput(
                f"declare the manifest first: PUT /api/v1/manifests/{upload.recording_id}"
            )
        manifest = parse_manifest(json.loads(manifest_row.document))
        manifest_document = manifest_row.document

    staging = system.staging
    if staging.has(upload_id):
        # This process hashed every byte as it arrived: no second read. Otherwise (other
        # nodes received chunks, or this one restarted) the move re-hashes as it streams.
        known = RUNNING_HASHES.digest(upload_id, manifest.size)
        if known is not None and known != manifest.sha256:
            _fail_upload(system, dock, upload_id, manifest, known, manifest.size, actor)
        try:
            staging.move_into(
                system.store, upload_id, manifest.size, manifest.sha256, verified=known is not None
            )
        except StagedMismatch as mismatch:
            _fail_upload(system, dock, upload_id, manifest, mismatch.sha256, mismatch.size, actor)
    elif not (
        system.store.exists(manifest.sha256)
        and hash_stream(system.store.read(manifest.sha256)) == manifest.sha256
    ):
        # The staged bytes moved into the store before a crash, or were lost: only a
        # verified object in the store lets us commit now; otherwise the dock sends it again.
        _fail_upload(system, dock, upload_id, manifest, "missing", 0, actor)

    with system.unit_of_work() as uow:
        session = uow.session
        existing = session.get(Recording, manifest.recording_id)
        if existing is None:
            stored_at = uow.now()
            receipt = issue_receipt(
                Receipt(manifest.recording_id, manifest.sha256, manifest.size, stored_at),
                system.server_key,
            )
            camera = session.scalar(select(Camera).where(Camera.serial == manifest.device_serial))
            if camera is None:
                raise UnknownCamera(f"camera {manifest.device_serial} is not registered")
            # The assignment history names the officer (services.assignments explains why).
            officer_id = assignments.officer_at_ingest(uow, camera, manifest, dock.dock_id, actor)
            recording = Recording(
                id=manifest.recording_id,
                camera_id=camera.id,
                officer_id=officer_id,
                dock_id=dock.dock_id,
                started_at=manifest.started_at,
                ended_at=manifest.ended_at,
                pre_event_seconds=manifest.pre_event_seconds,
                sha256=manifest.sha256,
                size=manifest.size,
                stored_at=stored_at,
                manifest_document=manifest_document,
                receipt_document=json.dumps(receipt, sort_keys=True),
                gps_track=json.dumps([p.to_json() for p in manifest.gps]),
                state="stored",
            )
            session.add(recording)
            session.execute(
                update(Upload)
                .where(Upload.id == upload_id)
                .values(state=UploadState.COMMITTED, updated_at=stored_at)
            )
            # Other uploads of it (a dock that lost the answer to its POST) end with it.
            closed = close_siblings(uow, manifest.recording_id, upload_id, stored_at)
            uow.audit(
                "dock:recording:ingest",
                actor,
                object_type="recording",
                object_id=manifest.recording_id,
                details={
                    "sha256": manifest.sha256,
                    "size": manifest.size,
                    "camera": manifest.device_serial,
                    "officer": manifest.officer_id,
                    "upload": upload_id,
                },
            )
            uow.after_commit(lambda: system.jobs.probe_recording(manifest.recording_id))
            # The store's Object Lock: kept at least until its 31-day baseline (locks).
            uow.after_commit(lambda: follow(system, [manifest.recording_id]))
            try:
                session.flush()
                # A complaint open for this officer and time holds it from its first moment.
                hold_for_complaints(uow, recording)
                uow.commit()
            except IntegrityError:
                # Another upload of the same recording committed first: fall through.
                uow.rollback()
            else:
                discard_staged(system, closed)
                return UploadStatus(
                    upload_id,
                    upload.length,
                    upload.length,
                    UploadState.COMMITTED,
                    status.expires_at_iso,
                    manifest.recording_id,
                )
    with system.unit_of_work() as uow:
        existing = uow.session.get(Recording, manifest.recording_id)
        if existing is None:
            # Only a racing commit of the same recording lands here: anything else is a fault.
            raise RuntimeError(f"recording {manifest.recording_id} was neither stored nor found")
        if existing.sha256 != manifest.sha256:
            uow.rollback()
            refuse_conflict(system, dock, manifest, actor)
        uow.session.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(state=UploadState.COMMITTED, updated_at=uow.now())
        )
        closed = close_siblings(uow, manifest.recording_id, upload_id, uow.now())
        uow.commit()
    discard_staged(system, closed)
    return UploadStatus(
        upload_id,
        status.length,
        status.length,
        UploadState.COMMITTED,
        status.expires_at_iso,
        manifest.recording_id,
    )


def _fail_upload(
    system: System,
    dock: DockIdentity,
    upload_id: str,
    manifest: Manifest,
    sha: str,
    size: int,
    actor: Actor,
) -> NoReturn:
    """The bytes do not match the manifest: the upload fails, its bytes go, a flag is raised."""
    detail = (
        f"received {size} bytes hashing to {sha}; the manifest promised "
        f"{manifest.size} bytes hashing to {manifest.sha256}"
    )
    with system.unit_of_work() as uow:
        uow.session.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(state=UploadState.FAILED, failure=detail, updated_at=uow.now())
        )
        uow.commit()
    system.staging.discard(upload_id)
    raise_flag(
        system,
        "content_mismatch",
        detail,
        dock,
        recording_id=manifest.recording_id,
        serial=manifest.device_serial,
        actor=actor,
    )
    raise ContentMismatch(f"the uploaded file does not match its manifest: {detail}")
