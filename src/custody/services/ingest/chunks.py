"""tus PATCH: one chunk's bytes written at the server's offset, made durable, then counted.

The bytes are made durable in the staging area (`custody.storage.staging`) before the
offset in the database moves, and the offset moves only from the value the request
started at; the last byte commits the recording.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from custody.db.models import Manifest as ManifestRow
from custody.db.models import Upload
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import ChecksumMismatch, InvalidInput, UploadGone
from custody.domain.uploads import UploadState, check_patch, expiry_for
from custody.services.access import open_upload
from custody.services.fleet.registry import DockIdentity
from custody.services.ingest.commit import commit_upload
from custody.services.ingest.hashing import RUNNING_HASHES
from custody.services.ingest.uploads import UploadStatus, status_of
from custody.services.system import System
from custody.storage.staging import StagedWriter

if TYPE_CHECKING:
    from hashlib import _Hash

# Pieces handed to the hashing thread and not yet hashed, at most (each up to 1 MiB).
MAX_HASHING = 8

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
        sha256: str,
    ) -> None:
        self.system = system
        self.dock = dock
        self.upload = upload
        self.checksum = checksum
        self.actor = actor
        self.written = 0
        # The chunk's own digest, by the algorithm its Upload-Checksum names (none without).
        self._digest = hashlib.new(checksum.algorithm) if checksum else None
        self._running = RUNNING_HASHES.take(upload.upload_id, upload.offset)
        self._finished = False
        self._staged: StagedWriter | None = None
        # The chunk's two digests are taken on a thread of their own while the staging
        # writes (and seals) the same bytes: hashlib and AES-GCM both let go of the GIL.
        self._hashing: ThreadPoolExecutor | None = None
        self._hashed: deque[Future[None]] = deque()
        if upload.offset == upload.length:
            # Every byte is here already (a commit was interrupted): nothing to write,
            # and the staged bytes may have moved into the store, so do not touch them.
            return
        # Staged for the object the manifest names (the embedded store seals it as it comes).
        self._staged = system.staging.writer(upload.upload_id, upload.offset, upload.length, sha256)

    @property
    def remaining(self) -> int:
        return self.upload.length - self.upload.offset - self.written

    def write(self, data: bytes) -> None:
        if not data:
            return
        if len(data) > self.remaining or self._staged is None:
            raise InvalidInput("the chunk runs past Upload-Length")
        if self._hashing is None:
            self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tus-hash")
        self._hashed.append(self._hashing.submit(self._hash, data))
        self._staged.write(data)
        if len(self._hashed) > MAX_HASHING:
            self._hashed.popleft().result()
        self.written += len(data)

    def _hash(self, data: bytes) -> None:
        if self._digest is not None:
            self._digest.update(data)
        if self._running is not None:
            self._running.update(data)

    def _hashes_taken(self) -> None:
        """Every piece written is in both digests (in order: one thread takes them)."""
        while self._hashed:
            self._hashed.popleft().result()

    def finish(self, complete_body: bool = True) -> UploadStatus:
        """Make the chunk durable and move the offset; commit the recording on the last byte.

        `complete_body` is False when the client went away mid-chunk: without a checksum
        the bytes that did arrive are kept (tus core); with one, none are.
        """
        if self._staged is None:
            self._finished = True
            return commit_upload(self.system, self.dock, self.upload.upload_id, self.actor)
        self._hashes_taken()
        if self.checksum is not None and (
            not complete_body or self._digest is None or not self.checksum.matches(self._digest)
        ):
            self._discard()
            if complete_body:
                raise ChecksumMismatch("the chunk's bytes do not match Upload-Checksum")
            return self.upload
        self._staged.keep()
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
        self._staged.acknowledged()
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
        if self._staged is not None:
            self._staged.drop()
        self._finished = True

    def _release_lock_file(self) -> None:
        if self._staged is not None:
            self._staged.close()

    def close(self) -> None:
        if self._hashing is not None:
            self._hashing.shutdown(wait=True, cancel_futures=True)
        if not self._finished and self._staged is not None:
            self._staged.drop()
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
        sha256 = uow.session.scalar(
            select(ManifestRow.sha256).where(ManifestRow.recording_id == upload.recording_id)
        )
    if sha256 is None:
        raise InvalidInput(
            f"declare the manifest first: PUT /api/v1/manifests/{status.recording_id}"
        )
    return ChunkWriter(system, dock, status, checksum, actor, sha256)
