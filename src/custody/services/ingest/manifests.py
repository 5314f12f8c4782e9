"""Manifests: a dock declares a recording's signed manifest before any byte of it moves.

A forged, unknown or conflicting recording is refused here, first; a dock that lost its
state learns whether the recording is stored already or which uploads of it are open.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from custody.db.models import Camera, Recording, Upload
from custody.db.models import Manifest as ManifestRow
from custody.domain import signing
from custody.domain.actor import Actor
from custody.domain.errors import CustodyError, SignatureInvalid, UnknownCamera
from custody.domain.manifest import MAX_RECORDING_ID, parse_manifest
from custody.domain.uploads import UploadState
from custody.services.access import same_station
from custody.services.fleet.registry import DockIdentity
from custody.services.ingest.answers import ManifestStatus, SignedReceipt, UploadInProgress
from custody.services.ingest.flags import raise_flag, refuse_conflict
from custody.services.ingest.uploads import upload_url
from custody.services.system import System


def declare_manifest(
    system: System, dock: DockIdentity, document: dict[str, object], actor: Actor | None = None
) -> ManifestStatus:
    """Accept a signed manifest before its footage; refuse a bad one before any byte moves."""
    actor = actor or dock.actor()
    try:
        manifest = parse_manifest(document)
    except CustodyError as exc:
        rid = document.get("recording_id")
        raise_flag(
            system,
            "manifest_invalid",
            exc.message,
            dock,
            # Only an id of an id's length is kept with the flag: nothing unbounded is copied.
            recording_id=rid if isinstance(rid, str) and len(rid) <= MAX_RECORDING_ID else None,
            actor=actor,
        )
        raise
    with system.unit_of_work() as uow:
        camera = uow.session.scalar(select(Camera).where(Camera.serial == manifest.device_serial))
        camera_id, public_key = (camera.id, camera.public_key) if camera else (None, None)
    if camera_id is None or public_key is None:
        raise_flag(
            system,
            "unknown_camera",
            f"camera {manifest.device_serial} is not registered",
            dock,
            recording_id=manifest.recording_id,
            serial=manifest.device_serial,
            actor=actor,
        )
        raise UnknownCamera(f"camera {manifest.device_serial} is not registered")
    try:
        signing.verify(document, signing.load_public_key(public_key))
    except SignatureInvalid as exc:
        raise_flag(
            system,
            "signature_invalid",
            exc.message,
            dock,
            recording_id=manifest.recording_id,
            serial=manifest.device_serial,
            actor=actor,
        )
        raise SignatureInvalid(
            f"the manifest of {manifest.recording_id} is not signed by camera "
            f"{manifest.device_serial}'s key"
        ) from exc

    with system.unit_of_work() as uow:
        session = uow.session
        recording = session.get(Recording, manifest.recording_id)
        if recording is not None:
            if recording.sha256 != manifest.sha256:
                uow.rollback()
                refuse_conflict(system, dock, manifest, actor)
            return ManifestStatus(
                recording_id=manifest.recording_id,
                stored=True,
                receipt=SignedReceipt.model_validate_json(recording.receipt_document),
                uploads=[],
            )
        existing = session.get(ManifestRow, manifest.recording_id)
        if existing is None:
            session.add(
                ManifestRow(
                    recording_id=manifest.recording_id,
                    camera_id=camera_id,
                    sha256=manifest.sha256,
                    size=manifest.size,
                    document=json.dumps(document, sort_keys=True),
                    received_at=uow.now(),
                    dock_id=dock.dock_id,
                )
            )
            uow.audit(
                "dock:manifest:declare",
                actor,
                object_type="recording",
                object_id=manifest.recording_id,
                details={
                    "camera": manifest.device_serial,
                    "sha256": manifest.sha256,
                    "size": manifest.size,
                },
            )
            uow.commit()
            return ManifestStatus(
                recording_id=manifest.recording_id, stored=False, receipt=None, uploads=[]
            )
        if existing.sha256 != manifest.sha256 or existing.size != manifest.size:
            uow.rollback()
            refuse_conflict(system, dock, manifest, actor)
        now = uow.now()
        if not same_station(uow, dock.station, existing.dock_id):
            # The camera moved to another station with the signed manifest: the recording
            # is now declared there (the first station's uploads stay its docks' own).
            existing.dock_id = dock.dock_id
            uow.audit(
                "dock:manifest:declare",
                actor,
                object_type="recording",
                object_id=manifest.recording_id,
                details={"camera": manifest.device_serial, "moved_station": True},
            )
            uow.commit()
        uploads = session.scalars(
            select(Upload)
            .where(
                Upload.recording_id == manifest.recording_id,
                # Only this dock's own: another's answer 404 to it.
                Upload.dock_id == dock.dock_id,
                Upload.state == UploadState.RECEIVING,
                Upload.expires_at > now,
            )
            .order_by(Upload.offset.desc())
        ).all()
        return ManifestStatus(
            recording_id=manifest.recording_id,
            stored=False,
            receipt=None,
            uploads=[
                UploadInProgress(
                    upload_id=u.id, offset=u.offset, length=u.length, url=upload_url(u.id)
                )
                for u in uploads
            ],
        )
