"""tus uploads as resources: opened for a declared recording, asked for their offset,
terminated by the dock, and expired when abandoned (`expiry`).

The bytes of a chunk are written by `chunks`; the last one is committed by `commit`.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select

from custody.db.models import Manifest as ManifestRow
from custody.db.models import Recording, Upload
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import (
    ContentMismatch,
    InvalidInput,
    NotFound,
    RecordingStored,
    UploadGone,
)
from custody.domain.uploads import (
    UploadState,
    check_dock_capacity,
    check_length,
    expiry_for,
    is_expired,
)
from custody.services.access import open_upload, same_station
from custody.services.fleet.registry import DockIdentity
from custody.services.system import System, UnitOfWork

# Where the tus endpoint serves uploads (DESIGN.md: a contract any tus client relies on).
UPLOADS_PATH = "/api/v1/uploads"


def upload_url(upload_id: str) -> str:
    """The path a dock resumes an upload at."""
    return f"{UPLOADS_PATH}/{upload_id}"


@dataclass(frozen=True)
class UploadStatus:
    """An upload as the tus answers state it (in headers: these never travel as JSON)."""

    upload_id: str
    offset: int
    length: int
    state: str
    expires_at_iso: str
    recording_id: str
    # What Upload-Metadata said at creation, decoded (HEAD gives it back).
    metadata: dict[str, str] = field(default_factory=dict)


def parse_upload_metadata(header: str | None) -> dict[str, str]:
    """Decode a tus Upload-Metadata header: comma-separated `key base64value` pairs."""
    result: dict[str, str] = {}
    if not header:
        return result
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2:
            raise InvalidInput("Upload-Metadata must be comma-separated 'key base64value' pairs")
        try:
            value = base64.b64decode(parts[1], validate=True).decode() if len(parts) == 2 else ""
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidInput(f"Upload-Metadata value of {parts[0]!r} is not base64") from None
        result[parts[0]] = value
    return result


def format_upload_metadata(metadata: dict[str, str]) -> str:
    """Encode decoded Upload-Metadata again: `key base64value` pairs, a bare key when empty."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" if value else key
        for key, value in metadata.items()
    )


def create_upload(
    system: System,
    dock: DockIdentity,
    length: int,
    metadata: dict[str, str],
    actor: Actor | None = None,
) -> UploadStatus:
    """Open a tus upload for a recording declared at a dock of this dock's station; its
    length must be the manifest's size.

    A recording the server holds already is refused (RecordingStored: its receipt is the
    answer), and so is an upload past the dock's cap on open uploads and staged bytes.
    """
    check_length(length)
    recording_id = metadata.get("recording_id")
    if not recording_id:
        raise InvalidInput("Upload-Metadata must name the recording_id")
    with system.unit_of_work() as uow:
        manifest = uow.session.get(ManifestRow, recording_id)
        # A manifest declared at another station's dock is, to this dock, none at all
        # (cameras move between the bays of a station, not between stations mid-upload).
        if manifest is None or not same_station(uow, dock.station, manifest.dock_id):
            raise InvalidInput(f"declare the manifest first: PUT /api/v1/manifests/{recording_id}")
        if uow.session.get(Recording, recording_id) is not None:
            raise RecordingStored(
                f"recording {recording_id} is stored already: fetch its receipt", recording_id
            )
        if manifest.size != length:
            raise ContentMismatch(
                f"Upload-Length {length} differs from the manifest's size {manifest.size}"
            )
        now = uow.now()
        open_count, staged = uow.session.execute(
            select(func.count(Upload.id), func.coalesce(func.sum(Upload.length), 0)).where(
                Upload.dock_id == dock.dock_id,
                Upload.state == UploadState.RECEIVING,
                Upload.expires_at > now,
            )
        ).one()
        check_dock_capacity(int(open_count), int(staged), length)
        upload = Upload(
            id=uuid.uuid4().hex,
            recording_id=recording_id,
            dock_id=dock.dock_id,
            length=length,
            offset=0,
            state=UploadState.RECEIVING,
            metadata_text=json.dumps(metadata, sort_keys=True),
            created_at=now,
            updated_at=now,
            expires_at=expiry_for(now, now),
        )
        system.staging.create(upload.id, length)
        uow.session.add(upload)
        uow.audit(
            "dock:upload:create",
            actor or dock.actor(),
            object_type="recording",
            object_id=recording_id,
            details={"upload": upload.id, "length": length},
        )
        uow.commit()
        return status_of(upload)


def status_of(upload: Upload) -> UploadStatus:
    """An upload's row as the tus answers state it."""
    return UploadStatus(
        upload.id,
        upload.offset,
        upload.length,
        upload.state,
        isoformat(upload.expires_at),
        upload.recording_id,
        _metadata_of(upload),
    )


def _metadata_of(upload: Upload) -> dict[str, str]:
    if not upload.metadata_text:
        return {}
    stored = json.loads(upload.metadata_text)
    return (
        {str(key): str(value) for key, value in stored.items()} if isinstance(stored, dict) else {}
    )


def upload_status(
    system: System, dock: DockIdentity, upload_id: str, actor: Actor | None = None
) -> UploadStatus:
    """The server's offset for one of this dock's uploads (tus HEAD)."""
    with system.unit_of_work() as uow:
        upload = open_upload(
            uow, dock.dock_id, upload_id, actor or dock.actor(), "dock:upload:status"
        )
        if upload.state in (UploadState.TERMINATED, UploadState.FAILED) or (
            upload.state == UploadState.RECEIVING and is_expired(upload.expires_at, uow.now())
        ):
            raise UploadGone("this upload was ended or has expired")
        return status_of(upload)


def get_upload(uow: UnitOfWork, upload_id: str) -> Upload:
    """The upload's row; NotFound for an id that is not one. (Whose it is was checked at
    the door, `open_upload`, when the dock's request began.)"""
    upload = uow.session.get(Upload, upload_id) if len(upload_id) == 32 else None
    if upload is None:
        raise NotFound("no such upload")
    return upload


def terminate_upload(
    system: System, dock: DockIdentity, upload_id: str, actor: Actor | None = None
) -> None:
    """tus termination: the upload resource ends and its partial bytes go.

    A completed upload ends too (tus: "the Server SHOULD free associated resources"), but
    its bytes are the recording's now: the recording, its file and receipt are not touched.
    """
    with system.unit_of_work() as uow:
        upload = open_upload(
            uow, dock.dock_id, upload_id, actor or dock.actor(), "dock:upload:terminate"
        )
        if upload.state == UploadState.TERMINATED:
            raise UploadGone("this upload was terminated already")
        completed = upload.state == UploadState.COMMITTED
        upload.state = UploadState.TERMINATED
        upload.updated_at = uow.now()
        uow.audit(
            "dock:upload:terminate",
            actor or dock.actor(),
            object_type="recording",
            object_id=upload.recording_id,
            details={"upload": upload_id, **({"completed": True} if completed else {})},
        )
        uow.commit()
    if not completed:
        system.staging.discard(upload_id)
