"""Ingest: manifests declared by docks, tus uploads written chunk by chunk, and the commit.

The order of durability is what keeps footage safe (invariants 1 and 2):
chunk bytes are fsync'd before the offset in the database moves; the whole file is
re-read and hashed against the signed manifest before it is renamed into the
object store; the recording row and its receipt are committed after the object is
durable. A crash between any two steps leaves a state the next request repairs:
bytes past the recorded offset are cut off, and a complete upload whose file has
already moved into the store is committed from the store.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from custody.db.models import Camera, IngestFlag, Recording, Upload
from custody.db.models import Manifest as ManifestRow
from custody.domain import signing
from custody.domain.actor import Actor
from custody.domain.errors import (
    ChecksumMismatch,
    ContentMismatch,
    CustodyError,
    InvalidInput,
    NotFound,
    RecordingConflict,
    SignatureInvalid,
    UnknownCamera,
    UploadGone,
    UploadLocked,
)
from custody.domain.manifest import Manifest, parse_manifest
from custody.domain.receipt import Receipt, issue_receipt
from custody.domain.uploads import UploadState, check_length, check_patch, expiry_for, is_expired
from custody.services.fleet import assignments
from custody.services.fleet.registry import DockIdentity
from custody.services.system import System, UnitOfWork

HASH_BLOCK = 4 * 1024 * 1024
SYNC_EVERY = 4 * 1024 * 1024


@dataclass(frozen=True)
class UploadInProgress:
    upload_id: str
    offset: int
    length: int


@dataclass(frozen=True)
class ManifestStatus:
    """What the server already holds of a declared recording."""

    recording_id: str
    stored: bool
    receipt: dict[str, Any] | None
    uploads: list[UploadInProgress] = field(default_factory=list)


@dataclass(frozen=True)
class UploadStatus:
    upload_id: str
    offset: int
    length: int
    state: str
    expires_at_iso: str
    recording_id: str


def _flag(
    system: System,
    kind: str,
    detail: str,
    dock: DockIdentity | None,
    *,
    recording_id: str | None = None,
    serial: str | None = None,
    actor: Actor | None = None,
) -> None:
    """Record a refused ingest for people to look at, in its own transaction."""
    with system.unit_of_work() as uow:
        uow.session.add(
            IngestFlag(
                kind=kind,
                recording_id=recording_id,
                camera_serial=serial,
                dock_id=dock.dock_id if dock else None,
                detail=detail,
                raised_at=uow.now(),
            )
        )
        uow.audit(
            f"dock:recording:{kind}",
            actor or Actor("dock:unknown"),
            object_type="recording",
            object_id=recording_id,
            allowed=False,
            reason=detail,
            details={"camera": serial},
        )
        uow.commit()


def declare_manifest(
    system: System, dock: DockIdentity, document: Any, actor: Actor | None = None
) -> ManifestStatus:
    """Accept a signed manifest before its footage; refuse a bad one before any byte moves."""
    actor = actor or dock.actor()
    try:
        manifest = parse_manifest(document)
    except CustodyError as exc:
        rid = document.get("recording_id") if isinstance(document, dict) else None
        _flag(
            system,
            "manifest_invalid",
            exc.message,
            dock,
            recording_id=rid if isinstance(rid, str) else None,
            actor=actor,
        )
        raise
    with system.unit_of_work() as uow:
        camera = uow.session.scalar(select(Camera).where(Camera.serial == manifest.device_serial))
        camera_id, public_key = (camera.id, camera.public_key) if camera else (None, None)
    if camera_id is None or public_key is None:
        _flag(
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
        _flag(
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
                _conflict(system, dock, manifest, actor)
            return ManifestStatus(
                manifest.recording_id, True, json.loads(recording.receipt_document)
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
            return ManifestStatus(manifest.recording_id, False, None)
        if existing.sha256 != manifest.sha256 or existing.size != manifest.size:
            uow.rollback()
            _conflict(system, dock, manifest, actor)
        now = uow.now()
        uploads = session.scalars(
            select(Upload)
            .where(
                Upload.recording_id == manifest.recording_id,
                Upload.state == UploadState.RECEIVING,
                Upload.expires_at > now,
            )
            .order_by(Upload.offset.desc())
        ).all()
        return ManifestStatus(
            manifest.recording_id,
            False,
            None,
            [UploadInProgress(u.id, u.offset, u.length) for u in uploads],
        )


def _conflict(system: System, dock: DockIdentity, manifest: Manifest, actor: Actor) -> None:
    detail = (
        f"recording {manifest.recording_id} arrived again with different content "
        f"(sha256 {manifest.sha256})"
    )
    _flag(
        system,
        "conflict",
        detail,
        dock,
        recording_id=manifest.recording_id,
        serial=manifest.device_serial,
        actor=actor,
    )
    raise RecordingConflict(detail)


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


def create_upload(
    system: System,
    dock: DockIdentity,
    length: int,
    metadata: dict[str, str],
    actor: Actor | None = None,
) -> UploadStatus:
    """Open a tus upload for a declared recording; its length must be the manifest's size."""
    check_length(length)
    recording_id = metadata.get("recording_id")
    if not recording_id:
        raise InvalidInput("Upload-Metadata must name the recording_id")
    with system.unit_of_work() as uow:
        manifest = uow.session.get(ManifestRow, recording_id)
        if manifest is None:
            raise InvalidInput(f"declare the manifest first: PUT /api/v1/manifests/{recording_id}")
        if manifest.size != length:
            raise ContentMismatch(
                f"Upload-Length {length} differs from the manifest's size {manifest.size}"
            )
        now = uow.now()
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
            expires_at=expiry_for(now),
        )
        _staging_file(system, upload.id).touch()
        uow.session.add(upload)
        uow.audit(
            "dock:upload:create",
            actor or dock.actor(),
            object_type="recording",
            object_id=recording_id,
            details={"upload": upload.id, "length": length},
        )
        uow.commit()
        return _status(upload)


def _status(upload: Upload) -> UploadStatus:
    from custody.domain.clock import isoformat

    return UploadStatus(
        upload.id,
        upload.offset,
        upload.length,
        upload.state,
        isoformat(upload.expires_at),
        upload.recording_id,
    )


def upload_status(system: System, upload_id: str) -> UploadStatus:
    """The server's offset for an upload (tus HEAD)."""
    with system.unit_of_work() as uow:
        upload = _get_upload(uow, upload_id)
        if upload.state in (UploadState.TERMINATED, UploadState.FAILED) or (
            upload.state == UploadState.RECEIVING and is_expired(upload.expires_at, uow.now())
        ):
            raise UploadGone("this upload was ended or has expired")
        return _status(upload)


def _get_upload(uow: UnitOfWork, upload_id: str) -> Upload:
    upload = uow.session.get(Upload, upload_id) if len(upload_id) == 32 else None
    if upload is None:
        raise NotFound("no such upload")
    return upload


def _staging_file(system: System, upload_id: str) -> Path:
    staging = system.settings.staging_dir
    staging.mkdir(parents=True, exist_ok=True)
    return staging / f"{upload_id}.part"


def parse_checksum(header: str | None) -> bytes | None:
    """Decode a tus Upload-Checksum header; only sha256 is supported."""
    if header is None:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm != "sha256":
        raise InvalidInput("Upload-Checksum algorithm must be sha256")
    try:
        digest = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise InvalidInput("Upload-Checksum value is not base64") from None
    if len(digest) != 32:
        raise InvalidInput("Upload-Checksum is not a SHA-256 digest")
    return digest


class RunningHashes:
    """The SHA-256 of each upload's bytes so far, for uploads this process wrote in order.

    Only a shortcut: it spares the commit a second read of the whole file when one
    process received every chunk. Anything else (another node wrote a chunk, the process
    restarted) finds no entry at the right offset, and the commit re-reads the file.
    """

    def __init__(self, limit: int = 256) -> None:
        self._entries: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def take(self, upload_id: str, offset: int) -> Any:
        """A hash object over exactly the first `offset` bytes, or None."""
        with self._lock:
            entry = self._entries.pop(upload_id, None)
        if offset == 0:
            return hashlib.sha256()
        if entry is None or entry[0] != offset:
            return None
        return entry[1]

    def put(self, upload_id: str, offset: int, running: Any) -> None:
        with self._lock:
            self._entries[upload_id] = (offset, running)
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)

    def digest(self, upload_id: str, length: int) -> str | None:
        """The whole file's SHA-256 if this process hashed all `length` bytes."""
        with self._lock:
            entry = self._entries.pop(upload_id, None)
        if entry is None or entry[0] != length:
            return None
        return str(entry[1].hexdigest())


RUNNING_HASHES = RunningHashes()


class ChunkWriter:
    """Writes one PATCH's bytes at the server's offset, under an exclusive lock on the upload.

    Use `write` for each piece of the body, then `finish`; `close` always (it releases
    the lock and discards what `finish` did not accept).
    """

    def __init__(
        self,
        system: System,
        dock: DockIdentity,
        upload: UploadStatus,
        checksum: bytes | None,
        actor: Actor,
    ) -> None:
        self.system = system
        self.dock = dock
        self.upload = upload
        self.checksum = checksum
        self.actor = actor
        self.path = _staging_file(system, upload.upload_id)
        self.written = 0
        self._digest = hashlib.sha256()
        self._running = RUNNING_HASHES.take(upload.upload_id, upload.offset)
        self._unsynced = 0
        self._finished = False
        self._file: BinaryIO | None = None
        if upload.offset == upload.length:
            # Every byte is here already (a commit was interrupted): nothing to write,
            # and the part file may have moved into the store, so do not touch it.
            return
        try:
            self._file = open(self.path, "r+b")  # noqa: SIM115  (open for the whole request)
        except FileNotFoundError:
            if upload.offset > 0:
                raise UploadGone("this upload's partial bytes are gone; start a new one") from None
            self._file = open(self.path, "w+b")  # noqa: SIM115
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise UploadLocked("another request is writing to this upload") from None
        # Bytes past the recorded offset come from a request that died before the
        # offset moved: they were never acknowledged, so they go.
        self._file.truncate(upload.offset)
        self._file.seek(upload.offset)

    @property
    def remaining(self) -> int:
        return self.upload.length - self.upload.offset - self.written

    def write(self, data: bytes) -> None:
        if not data:
            return
        if len(data) > self.remaining or self._file is None:
            raise InvalidInput("the chunk runs past Upload-Length")
        self._file.write(data)
        self._digest.update(data)
        if self._running is not None:
            self._running.update(data)
        self._unsynced += len(data)
        if self._unsynced >= SYNC_EVERY:
            # Flush as the bytes arrive (this runs beside the receiving loop), so the fsync
            # that makes the chunk durable at its end has little left to wait for.
            os.fdatasync(self._file.fileno())
            self._unsynced = 0
        self.written += len(data)

    def finish(self, complete_body: bool = True) -> UploadStatus:
        """Make the chunk durable and move the offset; commit the recording on the last byte.

        `complete_body` is False when the client went away mid-chunk: without a checksum
        the bytes that did arrive are kept (tus core); with one, none are.
        """
        if self._file is None:
            self._finished = True
            return commit_upload(self.system, self.dock, self.upload.upload_id, self.actor)
        if self.checksum is not None and (
            not complete_body or self._digest.digest() != self.checksum
        ):
            self._discard()
            if complete_body:
                raise ChecksumMismatch("the chunk's bytes do not match Upload-Checksum")
            return self.upload
        self._file.flush()
        os.fsync(self._file.fileno())
        new_offset = self.upload.offset + self.written
        with self.system.unit_of_work() as uow:
            now = uow.now()
            result = uow.session.execute(
                update(Upload)
                .where(
                    Upload.id == self.upload.upload_id,
                    Upload.offset == self.upload.offset,
                    Upload.state == UploadState.RECEIVING,
                )
                .values(offset=new_offset, updated_at=now, expires_at=expiry_for(now))
            )
            # The offset moves only from the value this request started at: exactly one row.
            if getattr(result, "rowcount", 0) != 1:
                self._discard()
                raise UploadGone("the upload changed under this request; ask for its offset again")
            uow.commit()
        self._finished = True
        if self._running is not None:
            RUNNING_HASHES.put(self.upload.upload_id, new_offset, self._running)
        status = UploadStatus(
            self.upload.upload_id,
            new_offset,
            self.upload.length,
            UploadState.RECEIVING,
            self.upload.expires_at_iso,
            self.upload.recording_id,
        )
        if new_offset == self.upload.length:
            self._release_lock_file()
            return commit_upload(self.system, self.dock, self.upload.upload_id, self.actor)
        return status

    def _discard(self) -> None:
        if self._file is not None:
            self._file.truncate(self.upload.offset)
        self._finished = True

    def _release_lock_file(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()

    def close(self) -> None:
        if not self._finished and self._file is not None and not self._file.closed:
            self._file.truncate(self.upload.offset)
        self._release_lock_file()


def begin_chunk(
    system: System,
    dock: DockIdentity,
    upload_id: str,
    claimed_offset: int,
    content_length: int | None,
    checksum_header: str | None,
    actor: Actor | None = None,
) -> ChunkWriter:
    """Check a PATCH against the upload's state and open a writer for its body."""
    checksum = parse_checksum(checksum_header)
    with system.unit_of_work() as uow:
        upload = _get_upload(uow, upload_id)
        check_patch(
            UploadState(upload.state),
            upload.expires_at,
            uow.now(),
            upload.offset,
            upload.length,
            claimed_offset,
            content_length,
        )
        status = _status(upload)
    return ChunkWriter(system, dock, status, checksum, actor or dock.actor())


def commit_upload(
    system: System, dock: DockIdentity, upload_id: str, actor: Actor | None = None
) -> UploadStatus:
    """Turn a complete upload into a recording: hash check, durable store, receipt.

    Idempotent: committing an upload whose recording exists returns its status.
    """
    actor = actor or dock.actor()
    with system.unit_of_work() as uow:
        upload = _get_upload(uow, upload_id)
        status = _status(upload)
        if upload.state == UploadState.COMMITTED:
            return status
        if upload.offset != upload.length:
            raise InvalidInput("the upload is not complete")
        manifest_row = uow.session.get(ManifestRow, upload.recording_id)
        assert manifest_row is not None
        manifest = parse_manifest(json.loads(manifest_row.document))
        manifest_document = manifest_row.document

    part = _staging_file(system, upload_id)
    if part.exists():
        known = RUNNING_HASHES.digest(upload_id, manifest.size)
        size = part.stat().st_size
        sha = known if known is not None and size == manifest.size else _hash_file(part)[0]
        if sha != manifest.sha256 or size != manifest.size:
            _fail_upload(system, dock, upload_id, manifest, sha, size, actor)
        system.store.put_file(part, sha)
    elif not (
        system.store.exists(manifest.sha256)
        and _hash_stream(system.store.read(manifest.sha256)) == manifest.sha256
    ):
        # The part file moved into the store before a crash, or was lost: only a verified
        # object in the store lets us commit now; otherwise the dock must send it again.
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
            assert camera is not None
            # The assignment history names the officer (services.assignments explains why).
            officer_id = assignments.officer_at_ingest(uow, camera, manifest, dock.dock_id, actor)
            session.add(
                Recording(
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
            )
            session.execute(
                update(Upload)
                .where(Upload.id == upload_id)
                .values(state=UploadState.COMMITTED, updated_at=stored_at)
            )
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
            try:
                uow.commit()
            except IntegrityError:
                # Another upload of the same recording committed first: fall through.
                uow.rollback()
            else:
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
        assert existing is not None
        if existing.sha256 != manifest.sha256:
            uow.rollback()
            _conflict(system, dock, manifest, actor)
        uow.session.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(state=UploadState.COMMITTED, updated_at=uow.now())
        )
        uow.commit()
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
) -> None:
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
    _staging_file(system, upload_id).unlink(missing_ok=True)
    _flag(
        system,
        "content_mismatch",
        detail,
        dock,
        recording_id=manifest.recording_id,
        serial=manifest.device_serial,
        actor=actor,
    )
    raise ContentMismatch(f"the uploaded file does not match its manifest: {detail}")


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _hash_stream(blocks: Any) -> str:
    digest = hashlib.sha256()
    for block in blocks:
        digest.update(block)
    return digest.hexdigest()


def terminate_upload(
    system: System, dock: DockIdentity, upload_id: str, actor: Actor | None = None
) -> None:
    """tus termination: the upload ends and its partial bytes go; a committed one stays."""
    with system.unit_of_work() as uow:
        upload = _get_upload(uow, upload_id)
        if upload.state == UploadState.COMMITTED:
            raise InvalidInput("a committed upload is a recording now and cannot be terminated")
        if upload.state == UploadState.TERMINATED:
            raise UploadGone("this upload was terminated already")
        upload.state = UploadState.TERMINATED
        upload.updated_at = uow.now()
        uow.audit(
            "dock:upload:terminate",
            actor or dock.actor(),
            object_type="recording",
            object_id=upload.recording_id,
            details={"upload": upload_id},
        )
        uow.commit()
    _staging_file(system, upload_id).unlink(missing_ok=True)


def receipt_for(system: System, recording_id: str) -> dict[str, Any]:
    """The signed receipt of a stored recording, for a dock that lost the answer to its commit."""
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, recording_id)
        if recording is None:
            raise NotFound(f"recording {recording_id} is not stored")
        document: dict[str, Any] = json.loads(recording.receipt_document)
        return document


def expire_uploads(system: System) -> int:
    """Remove the partial bytes of uploads past their expiry; the camera still holds the footage."""
    with system.unit_of_work() as uow:
        stale = uow.session.scalars(
            select(Upload).where(
                Upload.state == UploadState.RECEIVING, Upload.expires_at <= uow.now()
            )
        ).all()
        for upload in stale:
            upload.state = UploadState.TERMINATED
            upload.failure = "expired"
        ids = [u.id for u in stale]
        uow.commit()
    for upload_id in ids:
        _staging_file(system, upload_id).unlink(missing_ok=True)
    return len(ids)
