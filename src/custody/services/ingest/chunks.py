"""tus PATCH: one chunk's bytes written at the server's offset, made durable, then counted.

The bytes are fsync'd before the offset in the database moves, and the offset moves
only from the value the request started at; the last byte commits the recording.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import select, update

from custody.db.models import Upload
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import ChecksumMismatch, InvalidInput, UploadGone, UploadLocked
from custody.domain.uploads import UploadState, check_patch, expiry_for
from custody.private import open_private
from custody.services.access import open_upload
from custody.services.fleet.registry import DockIdentity
from custody.services.ingest.commit import commit_upload
from custody.services.ingest.hashing import RUNNING_HASHES
from custody.services.ingest.uploads import UploadStatus, staging_file, status_of
from custody.services.system import System

if TYPE_CHECKING:
    from hashlib import _Hash

SYNC_EVERY = 4 * 1024 * 1024
# The tus checksum extension: "The Server MUST support at least the SHA1 checksum
# algorithm". Names as tus spells them, in the order Tus-Checksum-Algorithm lists them.
CHECKSUM_ALGORITHMS = ("sha1", "sha256")


@dataclass(frozen=True)
class Checksum:
    """What an Upload-Checksum header promises: the chunk's digest by one algorithm."""

    algorithm: str
    digest: bytes

    def matches(self, data_hash: _Hash) -> bool:
        return hmac.compare_digest(data_hash.digest(), self.digest)


def parse_checksum(header: str | None) -> Checksum | None:
    """Decode a tus Upload-Checksum header: `<algorithm> <base64 digest>`, sha1 or sha256."""
    if header is None:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise InvalidInput(
            f"Upload-Checksum algorithm must be one of {','.join(CHECKSUM_ALGORITHMS)}"
        )
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        raise InvalidInput("Upload-Checksum value is not base64") from None
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise InvalidInput(f"Upload-Checksum is not a {algorithm} digest")
    return Checksum(algorithm, digest)


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
        checksum: Checksum | None,
        actor: Actor,
    ) -> None:
        self.system = system
        self.dock = dock
        self.upload = upload
        self.checksum = checksum
        self.actor = actor
        self.path = staging_file(system, upload.upload_id)
        self.written = 0
        # The chunk's own digest, by the algorithm its Upload-Checksum names.
        self._digest = hashlib.new(checksum.algorithm if checksum else "sha256")
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
            self._file = os.fdopen(open_private(self.path, os.O_RDWR | os.O_TRUNC), "r+b")
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
            not complete_body or not self.checksum.matches(self._digest)
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
            created_at = uow.session.scalar(
                select(Upload.created_at).where(Upload.id == self.upload.upload_id)
            )
            expires_at = expiry_for(now, created_at if created_at is not None else now)
            result = uow.session.execute(
                update(Upload)
                .where(
                    Upload.id == self.upload.upload_id,
                    Upload.offset == self.upload.offset,
                    Upload.state == UploadState.RECEIVING,
                )
                .values(offset=new_offset, updated_at=now, expires_at=expires_at)
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
            isoformat(expires_at),
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
    actor = actor or dock.actor()
    with system.unit_of_work() as uow:
        upload = open_upload(uow, dock.dock_id, upload_id, actor, "dock:upload:chunk")
        check_patch(
            UploadState(upload.state),
            upload.expires_at,
            uow.now(),
            upload.offset,
            upload.length,
            claimed_offset,
            content_length,
        )
        status = status_of(upload)
    return ChunkWriter(system, dock, status, checksum, actor)
