"""Staging for the embedded sealed store: an upload's bytes sealed as they arrive.

Each upload's bytes are sealed segment by segment into `<upload>.sealed` as they arrive, in
the very format the store keeps (`storage/segments.py`) and under the object's own data
key, named by the manifest's SHA-256. The commit is then a rename, not a second copy: the
footage is written once, and it never lies in plaintext at rest, even unfinished.

A request may end inside a segment (a tus client's chunks need not fit the segments).
Those bytes are sealed apart, as a *tail record* under a key of their own with a random
nonce, in one of two slots past the object's end; a request writes the slot that does not
hold the durable tail, so one that dies leaves the last durable tail whole. The next
request opens the tail and seals the segment once its bytes are all there. The commit
truncates the slots away before the rename.

A segment's nonce is its index (Tink's format), so a segment sealed twice under one salt
must hold the same bytes both times. Bytes that a request sealed and that were never
acknowledged (the request died, or its checksum failed) may differ from those sealed
later: the next request finds them past the durable end and marks the upload
(`<upload>.reseal`), and its commit seals the object afresh, under a new salt, instead of
renaming the staged file.

Uploads staged in plaintext (`<upload>.part`, by a server before this staging, or for an
object stored before encryption at rest) carry on as `FilesystemStaging` keeps them.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag

from custody.domain.errors import (
    ContentMismatch,
    KeyDestroyed,
    ObjectCorrupt,
    UploadGone,
    UploadLocked,
)
from custody.private import PRIVATE_FILE, open_private
from custody.storage import segments
from custody.storage.base import BlobStore, StoredObject
from custody.storage.encryption import EncryptedStore, associated_data
from custody.storage.staging import (
    HASH_BLOCK,
    BackgroundSync,
    FilesystemStaging,
    StagedMismatch,
    StagedWriter,
)

# A tail record's head: the plaintext offset its bytes start at, how many, the nonce.
TAIL_HEAD = struct.Struct(">QI12s")
_STAGED = re.compile(r"^([0-9a-f]{32})\.(part|sealed|reseal)$")


class SealedFilesystemStaging(FilesystemStaging):
    """`<upload>.sealed` files, sealed for `store` as the bytes arrive; commit by rename."""

    def __init__(self, root: Path, store: EncryptedStore) -> None:
        super().__init__(root)
        self.store = store
        self.layout = store.layout

    def sealed_path(self, upload_id: str) -> Path:
        return self.path(upload_id).with_suffix(".sealed")

    def reseal_path(self, upload_id: str) -> Path:
        return self.path(upload_id).with_suffix(".reseal")

    def create(self, upload_id: str, length: int) -> None:
        self.sealed_path(upload_id).touch(mode=PRIVATE_FILE)

    def writer(self, upload_id: str, offset: int, length: int, sha256: str) -> StagedWriter:
        if offset > 0 and self.path(upload_id).exists():
            # Staged in plaintext (before this staging, or for a plaintext object).
            return super().writer(upload_id, offset, length, sha256)
        try:
            data_key = self.store.staging_key(sha256, create=offset == 0)
        except KeyDestroyed:
            raise UploadGone("this upload's key is gone; start a new one") from None
        if data_key is None:
            # Stored before encryption at rest: its copies are plaintext, as this one.
            if offset == 0:
                self.sealed_path(upload_id).unlink(missing_ok=True)
                return super().writer(upload_id, offset, length, sha256)
            raise UploadGone("this upload's partial bytes are gone; start a new one")
        if offset == 0:
            self.path(upload_id).unlink(missing_ok=True)
        return _SealingWriter(self, upload_id, offset, length, sha256, data_key)

    def has(self, upload_id: str) -> bool:
        return self.sealed_path(upload_id).exists() or self.path(upload_id).exists()

    def move_into(
        self, store: BlobStore, upload_id: str, length: int, sha256: str, verified: bool
    ) -> StoredObject:
        if self.path(upload_id).exists() or store is not self.store:
            return super().move_into(store, upload_id, length, sha256, verified)
        sealed = self.sealed_path(upload_id)
        if length == 0:
            # Nothing was sent, so nothing was sealed: the store seals the empty object.
            stored = _put_checked(self.store, iter(()), sha256, lambda: 0)
            self.discard(upload_id)
            return stored
        try:
            data_key = self.store.staging_key(sha256, create=False)
        except KeyDestroyed:
            data_key = None
        expected = self.layout.ciphertext_size(length)
        with open(sealed, "r+b") as handle:
            if data_key is None or os.fstat(handle.fileno()).st_size < expected:
                raise UploadGone("this upload's staged bytes are gone; start a new one")
            # The tail slots past the object's end go; the rename's fsync makes it durable.
            handle.truncate(expected)
            opened = _Opened(handle, data_key, sha256, self.layout, length)
            if self.reseal_path(upload_id).exists():
                # Some segment may have been sealed twice with different bytes: seal anew,
                # under a new salt, hashing on the way (nothing is stored if it is wrong).
                size = 0

                def counted() -> Iterator[bytes]:
                    nonlocal size
                    for block in opened.plaintext():
                        size += len(block)
                        yield block

                stored = _put_checked(self.store, counted(), sha256, lambda: size)
                self.discard(upload_id)
                return stored
            if verified:
                # Hashed as it arrived: only the last segment is opened, to prove the file
                # whole and under this key.
                opened.check_last()
            else:
                digest, size = hashlib.sha256(), 0
                for block in opened.plaintext():
                    digest.update(block)
                    size += len(block)
                if digest.hexdigest() != sha256 or size != length:
                    raise StagedMismatch(digest.hexdigest(), size, sha256)
        stored = self.store.put_sealed_file(sealed, sha256)
        self.discard(upload_id)
        return stored

    def discard(self, upload_id: str) -> None:
        super().discard(upload_id)
        self.sealed_path(upload_id).unlink(missing_ok=True)
        self.reseal_path(upload_id).unlink(missing_ok=True)

    def staged_ids(self) -> set[str]:
        if not self.root.is_dir():
            return set()
        return {m.group(1) for p in self.root.iterdir() if (m := _STAGED.match(p.name))}


def _put_checked(
    store: EncryptedStore, plaintext: Iterator[bytes], sha256: str, size: Callable[[], int]
) -> StoredObject:
    """The store hashes as it seals, and stores nothing if the bytes are not `sha256`."""
    try:
        return store.put_stream(plaintext, sha256)
    except ContentMismatch as mismatch:
        raise StagedMismatch(mismatch.actual_sha256 or "(differs)", size(), sha256) from None


class _Slots:
    """Where an upload's two tail records lie: past the object's end, a block apart."""

    def __init__(self, layout: segments.Layout, length: int, block: int) -> None:
        self.end = layout.ciphertext_size(length)
        self.block = block
        self.size = _round_up(TAIL_HEAD.size + layout.segment, block)
        self.base = _round_up(self.end, block)

    def at(self, slot: int) -> int:
        return self.base + slot * self.size


class _SealingWriter:
    """Seals one request's bytes into the upload's staged file, from the durable offset."""

    def __init__(
        self,
        staging: SealedFilesystemStaging,
        upload_id: str,
        offset: int,
        length: int,
        sha256: str,
        data_key: bytes,
    ) -> None:
        layout = staging.layout
        self.layout = layout
        self.length = length
        self.offset = offset
        self._last_index = layout.segments(length) - 1
        # The segment being gathered (a piece holding a whole one is sealed without it).
        self._segment = bytearray(layout.plain)
        self._filled = 0
        self._received = 0
        self._durable_slot: int | None = None
        self._reseal: Path | None = None
        self._compare_until = 0
        associated = associated_data(sha256)
        path = staging.sealed_path(upload_id)
        if offset > 0 and not path.exists():
            raise UploadGone("this upload's partial bytes are gone; start a new one")
        self._fd = open_private(path, os.O_RDWR)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise UploadLocked("another request is writing to this upload") from None
        try:
            self._slots = _Slots(layout, length, os.fstat(self._fd).st_blksize or 4096)
            self._index = layout.segment_of(offset)
            self._segment_start = layout.plain_start(self._index)
            self._segment_end = min(layout.plain_start(self._index + 1), length)
            self._position = layout.cipher_start(self._index)
            self._sync = BackgroundSync(self._fd)
            if offset == 0:
                # A fresh start: a new salt, so no nonce of an earlier attempt is used again.
                os.ftruncate(self._fd, 0)
                staging.reseal_path(upload_id).unlink(missing_ok=True)
                salt = os.urandom(segments.KEY_BYTES)
                self._prefix = os.urandom(segments.NONCE_PREFIX_BYTES)
                head = bytes([segments.HEADER_BYTES]) + salt + self._prefix
                os.pwrite(self._fd, head, 0)
            else:
                header = segments.Header.parse(os.pread(self._fd, segments.HEADER_BYTES, 0))
                salt, self._prefix = header.salt, header.prefix
            self._aead = segments.segment_key(data_key, salt, associated)
            self._tail_aead = segments.segment_key(data_key, salt, b"staged tail " + associated)
            if offset > 0:
                self._resume(staging.reseal_path(upload_id))
        except BaseException:
            os.close(self._fd)
            raise

    def _resume(self, reseal: Path) -> None:
        """Check the durable bytes open under this key, and take the tail back."""
        try:
            if self._index > 0:
                self._open_segment(self._index - 1)
            if self.offset > self._segment_start:
                tail = self._read_tail()
                self._segment[: len(tail)] = tail
                self._filled = len(tail)
        except (ObjectCorrupt, InvalidTag):
            raise UploadGone("this upload's staged bytes do not open; start a new one") from None
        if not reseal.exists():
            # Up to here, an unacknowledged request may have sealed segments: each one
            # sealed again is compared with what lies there (see above).
            self._reseal = reseal
            self._compare_until = _written_until(self._fd, self._position, self._slots.base)

    def _open_segment(self, index: int) -> bytes:
        start = index * self.layout.segment
        need = min(self._slots.end, start + self.layout.segment) - start
        piece = os.pread(self._fd, need, start)
        if len(piece) != need:
            raise ObjectCorrupt(f"the staged file ends inside segment {index}")
        skip = segments.HEADER_BYTES if index == 0 else 0
        nonce = _nonce(self._prefix, index, index == self._last_index)
        return self._aead.decrypt(nonce, piece[skip:], None)

    def _read_tail(self) -> bytes:
        want = (self._segment_start, self.offset - self._segment_start)
        for slot in (0, 1):
            at = self._slots.at(slot)
            head = os.pread(self._fd, TAIL_HEAD.size, at)
            if len(head) != TAIL_HEAD.size:
                continue
            start, count, nonce = TAIL_HEAD.unpack(head)
            if (start, count) != want:
                continue
            sealed = os.pread(self._fd, count + segments.TAG_BYTES, at + TAIL_HEAD.size)
            try:
                plain = self._tail_aead.decrypt(nonce, sealed, head[:12])
            except InvalidTag:
                continue
            self._durable_slot = slot
            return plain
        raise ObjectCorrupt("no tail record for the upload's offset")

    def write(self, data: bytes) -> None:
        self._received += len(data)
        with memoryview(data) as whole:
            view = whole
            while view:
                missing = self._segment_end - self._segment_start - self._filled
                if not self._filled and len(view) >= missing:
                    # A whole segment in this piece: sealed straight from it, no copy.
                    self._seal(view[:missing])
                    view = view[missing:]
                    continue
                take = min(missing, len(view))
                self._segment[self._filled : self._filled + take] = view[:take]
                self._filled += take
                view = view[take:]
                if self._filled == self._segment_end - self._segment_start:
                    with memoryview(self._segment) as buffered:
                        self._seal(buffered[: self._filled])
                    self._filled = 0

    def _seal(self, plaintext: memoryview) -> None:
        """Seal the current segment (its bytes all here) where it lies in the object."""
        last = self._index == self._last_index
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index, last), plaintext, None)
        if self._position < self._compare_until:
            self._compare(sealed)
        _pwrite_all(self._fd, sealed, self._position)
        self._position += len(sealed)
        self._sync.wrote(len(sealed))
        self._index += 1
        self._segment_start = self._segment_end
        self._segment_end = min(self.layout.plain_start(self._index + 1), self.length)

    def _compare(self, sealed: bytes) -> None:
        """Mark the upload for a fresh sealing if other bytes were sealed here before under
        this nonce (the same bytes seal the same: a request that died, resent, is fine)."""
        before = os.pread(self._fd, len(sealed), self._position).rstrip(b"\0")
        if before and sealed[: len(before)] != before and self._reseal is not None:
            # Durable before these bytes go down, so before any commit could rename them.
            os.close(os.open(self._reseal, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
            _fsync_dir(self._reseal.parent)
            self._compare_until = 0

    def keep(self) -> None:
        if self._received and self._filled:
            # Bytes short of a whole segment: sealed apart, in the slot not holding the
            # durable tail (a request that dies now leaves that one whole).
            slot = 0 if self._durable_slot is None else 1 - self._durable_slot
            nonce = os.urandom(12)
            head = TAIL_HEAD.pack(self._segment_start, self._filled, nonce)
            with memoryview(self._segment) as buffered, buffered[: self._filled] as tail:
                sealed = self._tail_aead.encrypt(nonce, tail, head[:12])
            _pwrite_all(self._fd, head + sealed, self._slots.at(slot))
            if self._durable_slot is None:
                # No durable tail to keep: a stale one in the other slot must not pass
                # for this offset's later.
                _pwrite_all(self._fd, bytes(TAIL_HEAD.size), self._slots.at(1 - slot))
        self._sync.wait()
        os.fsync(self._fd)

    def drop(self) -> None:
        # Nothing to undo: bytes past the durable offset are never read, and the next
        # request marks the upload for a fresh sealing if any segment was sealed.
        return None

    def acknowledged(self) -> None:
        return None

    def close(self) -> None:
        if self._fd >= 0:
            self._sync.settle()
            os.close(self._fd)
            self._fd = -1


class _Opened:
    """A complete staged file opened under its data key."""

    def __init__(
        self, handle: BinaryIO, data_key: bytes, sha256: str, layout: segments.Layout, length: int
    ) -> None:
        self.handle = handle
        self.layout = layout
        self.length = length
        self.size = layout.ciphertext_size(length)
        self.handle.seek(0)
        self.header = segments.Header.parse(self.handle.read(segments.HEADER_BYTES))
        self.aead = segments.segment_key(data_key, self.header.salt, associated_data(sha256))

    def plaintext(self) -> Iterator[bytes]:
        self.handle.seek(0)
        blocks = iter(lambda: self.handle.read(HASH_BLOCK), b"")
        stop = self.layout.segments(self.length)
        return segments.decrypt_segments(
            blocks, self.aead, self.header, 0, stop, self.size, self.layout
        )

    def check_last(self) -> None:
        last = self.layout.segments(self.length) - 1
        start = last * self.layout.segment
        self.handle.seek(start)
        piece = self.handle.read(self.size - start)
        for _ in segments.decrypt_segments(
            [piece], self.aead, self.header, last, last + 1, self.size, self.layout
        ):
            pass


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _round_up(value: int, block: int) -> int:
    return -(-value // block) * block


def _pwrite_all(fd: int, data: bytes, at: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, at)
        view = view[written:]
        at += written


def _written_until(fd: int, start: int, end: int) -> int:
    """Where bytes written in [start, end) of the file end (`start` if none: a hole)."""
    until = start
    at = start
    while at < end:
        try:
            data = os.lseek(fd, at, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                break
            raise
        if data >= end:
            break
        at = os.lseek(fd, data, os.SEEK_HOLE)
        until = min(at, end)
    return until


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
