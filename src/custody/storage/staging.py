"""Where a tus upload's bytes gather until the commit moves them into the store.

The database's offset is the truth about how many bytes an upload holds: a writer makes
its bytes durable (`keep`) before the offset moves, and whatever a staging area holds past
the offset (a request died before its offset moved) is never read. Two kinds:

- `FilesystemStaging`: one `<upload>.part` file per upload in the data dir (one server,
  or nodes sharing a filesystem);
- `custody.storage.s3.S3Staging`: an S3 multipart upload per tus upload, so that server
  nodes share nothing but the database and the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Protocol

from custody.domain.errors import ContentMismatch, UploadGone, UploadLocked
from custody.private import PRIVATE_FILE, open_private, private_dir
from custody.storage.base import BlobStore, StoredObject
from custody.storage.encryption import EncryptedStore
from custody.storage.filesystem import FilesystemStore

SYNC_EVERY = 4 * 1024 * 1024
HASH_BLOCK = 4 * 1024 * 1024
# A staging file's name: the upload's id (32 lower-case hex digits) and `.part`.
_STAGED = re.compile(r"^([0-9a-f]{32})\.part$")


class StagedMismatch(ContentMismatch):
    """The staged bytes do not hash to what the manifest promised."""

    def __init__(self, sha256: str, size: int, expected: str) -> None:
        super().__init__(f"staged bytes hash to {sha256}, expected {expected}", sha256)
        self.sha256 = sha256
        self.size = size


class StagedWriter(Protocol):
    """Appends one request's bytes to an upload at the offset it was opened at."""

    def write(self, data: bytes) -> None: ...

    def keep(self) -> None:
        """Make every byte written durable: the offset may move once this returns."""
        ...

    def drop(self) -> None:
        """Forget the bytes written (their offset will not move)."""
        ...

    def acknowledged(self) -> None:
        """The offset moved past the bytes kept: what only backed older offsets may go."""
        ...

    def close(self) -> None:
        """Release the upload (always called; drops what was not kept)."""
        ...


class Staging(Protocol):
    def create(self, upload_id: str, length: int) -> None:
        """Make room for a new upload (before its row is committed)."""
        ...

    def writer(self, upload_id: str, offset: int, length: int, sha256: str) -> StagedWriter:
        """A writer at `offset` (the database's) for bytes to be stored as `sha256` (what
        the manifest promises). UploadGone if the bytes before it are gone, UploadLocked if
        another request of this process is writing it."""
        ...

    def has(self, upload_id: str) -> bool:
        """Does the staging area still hold this upload's bytes?"""
        ...

    def move_into(
        self, store: BlobStore, upload_id: str, length: int, sha256: str, verified: bool
    ) -> StoredObject:
        """Move a complete upload's `length` bytes into the store as `sha256`.

        Unless `verified` (the caller hashed every byte as it arrived), the bytes are
        hashed on the way: StagedMismatch if they are not `sha256`, and nothing is stored.
        """
        ...

    def discard(self, upload_id: str) -> None:
        """Delete whatever is staged for the upload (nothing there is fine)."""
        ...

    def staged_ids(self) -> set[str]:
        """The uploads the staging area holds bytes for (to clean leftovers)."""
        ...


# Shared by every staged file of the process: a flush is only a head start (`keep` fsyncs).
_FLUSHES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="staging-flush")


class BackgroundSync:
    """Writes a staged file's bytes back to the disk while more arrive, on another thread:
    the disk works while the next bytes are hashed (and sealed) instead of in turn, and the
    fsync that makes a chunk durable has little left to wait for."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.unsynced = 0
        self._pending: Future[None] | None = None

    def wrote(self, count: int) -> None:
        self.unsynced += count
        if self.unsynced < SYNC_EVERY:
            return
        if self._pending is not None:
            if not self._pending.done():
                return  # still writing back: it takes the new bytes too, or the next one will
            self._pending.result()  # an I/O error fails the request now
        self._pending = _FLUSHES.submit(os.fdatasync, self.fd)
        self.unsynced = 0

    def wait(self) -> None:
        """Wait for the flush under way (before the fsync, or before the file closes); one
        still queued behind other files' is dropped (the fsync that follows does its work)."""
        pending, self._pending = self._pending, None
        if pending is not None and not pending.cancel():
            pending.result()

    def settle(self) -> None:
        """`wait`, with the error left to whoever fsyncs next (the file is being closed)."""
        with contextlib.suppress(OSError):
            self.wait()


class FilesystemStaging:
    """`<upload>.part` files, written in place, fsync'd before the offset moves."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, upload_id: str) -> Path:
        private_dir(self.root)
        return self.root / f"{upload_id}.part"

    def create(self, upload_id: str, length: int) -> None:
        self.path(upload_id).touch(mode=PRIVATE_FILE)

    def writer(self, upload_id: str, offset: int, length: int, sha256: str) -> StagedWriter:
        return _FileWriter(self.path(upload_id), offset)

    def has(self, upload_id: str) -> bool:
        return self.path(upload_id).exists()

    def move_into(
        self, store: BlobStore, upload_id: str, length: int, sha256: str, verified: bool
    ) -> StoredObject:
        part = self.path(upload_id)
        if verified and part.stat().st_size == length:
            # Hashed as it arrived: a rename on a bare store, one sealing pass on a sealed one.
            return store.put_file(part, sha256)
        if isinstance(store, FilesystemStore):
            # A bare store on this filesystem: one read to hash it, then a rename.
            actual, size = _hash_file(part)
            if actual != sha256 or size != length:
                raise StagedMismatch(actual, size, sha256)
            return store.put_file(part, sha256)
        # One pass: the store hashes the bytes as it seals and writes them, and stores
        # nothing if they are not `sha256` (read once, hashed once, sealed once, written once).
        size = 0

        def blocks(handle: BinaryIO) -> Iterator[bytes]:
            nonlocal size
            while block := handle.read(HASH_BLOCK):
                size += len(block)
                yield block

        try:
            with open(part, "rb") as handle:
                stored = store.put_stream(blocks(handle), sha256)
        except ContentMismatch as mismatch:
            raise StagedMismatch(mismatch.actual_sha256 or "(differs)", size, sha256) from None
        self.discard(upload_id)
        return stored

    def discard(self, upload_id: str) -> None:
        self.path(upload_id).unlink(missing_ok=True)

    def staged_ids(self) -> set[str]:
        if not self.root.is_dir():
            return set()
        return {m.group(1) for p in self.root.iterdir() if (m := _STAGED.match(p.name))}


class _FileWriter:
    def __init__(self, path: Path, offset: int) -> None:
        self.offset = offset
        self._kept = False
        try:
            self._file: BinaryIO = open(path, "r+b")  # noqa: SIM115  (open for the request)
        except FileNotFoundError:
            if offset > 0:
                raise UploadGone("this upload's partial bytes are gone; start a new one") from None
            self._file = os.fdopen(open_private(path, os.O_RDWR | os.O_TRUNC), "r+b")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise UploadLocked("another request is writing to this upload") from None
        # Bytes past the recorded offset come from a request that died before the
        # offset moved: they were never acknowledged, so they go.
        self._file.truncate(offset)
        self._file.seek(offset)
        self._sync = BackgroundSync(self._file.fileno())

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._sync.wrote(len(data))

    def keep(self) -> None:
        self._file.flush()
        self._sync.wait()
        os.fsync(self._file.fileno())
        self._kept = True

    def drop(self) -> None:
        if not self._file.closed:
            self._file.truncate(self.offset)
        self._kept = True  # nothing left to drop at close

    def acknowledged(self) -> None:
        return None

    def close(self) -> None:
        if not self._file.closed:
            self._sync.settle()
            if not self._kept:
                self._file.truncate(self.offset)
            self._file.close()


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def open_staging(storage_url: str, staging_dir: Path, store: BlobStore | None = None) -> Staging:
    """Staging beside the store: in the bucket for `s3://`, else files in the data dir,
    sealed as they arrive for a sealed store on the filesystem (the embedded default)."""
    if storage_url.startswith("s3://"):
        from custody.storage.s3 import S3Store

        # The store's own client when it is the S3 store itself (not wrapped): one pool.
        same = store if isinstance(store, S3Store) else S3Store.from_url(storage_url)
        return same.staging()
    if isinstance(store, EncryptedStore) and isinstance(store.inner, FilesystemStore):
        from custody.storage.sealed_staging import SealedFilesystemStaging

        return SealedFilesystemStaging(staging_dir, store)
    return FilesystemStaging(staging_dir)
