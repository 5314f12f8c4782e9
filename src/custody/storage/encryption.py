"""Encryption at rest: a store that seals every object under its own data key, around any store.

Objects keep their plaintext SHA-256 as their name (the rest of Custody relies on it); the
bytes the inner store holds are Tink's streaming AEAD format (`storage/segments.py`), so a
range read opens only the segments it needs. Each object's data key is wrapped by the
key-encryption key (`storage/kek.py`) and kept apart from the object, in the database
(`DataKeys`): destroying that one row makes every copy of the object, backups included,
unreadable. `docs/storage.md`, "Encryption at rest", explains the choice.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custody.domain.errors import (
    ContentMismatch,
    KeyDestroyed,
    ObjectCorrupt,
    WrongKeyEncryptionKey,
)
from custody.storage import segments
from custody.storage.base import BlobStore, Replaced, StagedCheck, StoredObject
from custody.storage.kek import Keyring

READ_BLOCK = 1024 * 1024
# The key row of an object stored before encryption at rest: kept as it is, read as it is.
PLAINTEXT = "plaintext"


@dataclass(frozen=True)
class WrappedKey:
    """A data key sealed by the key-encryption key named `kek_id`."""

    kek_id: str
    wrapped: bytes
    # Sealing in place has begun (services/objects/sealing.py): the bytes at rest may still
    # be the plaintext until the sealed copy replaces them; a reader tells them apart.
    resealing: bool = False


class KeyEncryptionKey(Protocol):
    """Wraps data keys; held outside the database (a file, or a hardware security module)."""

    @property
    def kek_id(self) -> str:
        """A name for this key that reveals nothing of it, stored beside every wrapped key."""
        ...

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes:
        """The data key; WrongKeyEncryptionKey if this key did not wrap it."""
        ...


class DataKeys(Protocol):
    """Where wrapped data keys live, one per object name; never inside the object."""

    def find(self, sha256: str) -> WrappedKey | None: ...

    def keep(self, sha256: str, key: WrappedKey) -> WrappedKey:
        """Keep `key` for the object unless one is kept already; return the one that is.
        Durable when it returns (before the object's bytes are)."""
        ...

    def destroy(self, sha256: str) -> bool:
        """Forget the object's key for good; False if there was none."""
        ...


# What a read opened is kept this long and for this many objects (see `_recall`).
OPENED_SECONDS = 60.0
OPENED_MAX = 4096


@dataclass(frozen=True)
class _Opened:
    aead: AESGCM
    header: segments.Header
    ciphertext_size: int
    at: float


class EncryptedStore:
    """A BlobStore whose objects are sealed at rest; reads give back the plaintext."""

    def __init__(
        self,
        inner: BlobStore,
        keys: DataKeys,
        kek: KeyEncryptionKey,
        layout: segments.Layout = segments.Layout(),
        *,
        remember_openings: bool = False,
    ) -> None:
        self.inner = inner
        self.remember_openings = remember_openings
        self.keys = keys
        self.kek = kek
        self.layout = layout
        self._opened: OrderedDict[str, _Opened] = OrderedDict()
        self._opened_lock = threading.Lock()

    # Writing

    def put_stream(
        self, chunks: Iterable[bytes], expected_sha256: str | None = None
    ) -> StoredObject:
        if expected_sha256 is None:
            return self._put_unnamed(chunks)
        digest = hashlib.sha256()
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                yield chunk
            # Raised inside the inner store's put: it stores nothing.
            if digest.hexdigest() != expected_sha256:
                raise ContentMismatch(
                    f"bytes hash to {digest.hexdigest()}, expected {expected_sha256}",
                    digest.hexdigest(),
                )

        self._seal_into(expected_sha256, counted())
        return StoredObject(expected_sha256, size)

    def staging_key(self, sha256: str, *, create: bool) -> bytes | None:
        """The data key to seal an object's bytes under before they reach the store (the
        embedded staging seals an upload as it arrives, `storage/sealed_staging.py`): with
        `create`, kept now if there is none, so that it is durable before any byte sealed
        under it. None for an object stored before encryption at rest (its copies stay
        plaintext); KeyDestroyed if there is none and not `create`."""
        kept = self.keys.find(sha256)
        if create and kept is None and self.inner.exists(sha256):
            # As in `_seal_into`: bytes with no key are a shredded object's noise.
            self.inner.delete(sha256)
        return self._data_key(sha256, kept, create=create)

    def put_sealed_file(self, path: Path, sha256: str) -> StoredObject:
        """Move a local file already sealed under the object's own data key (its staging
        sealed it as it arrived) into the store: a rename where the inner store can, never
        sealed or written again."""
        size = self.layout.plaintext_size(path.stat().st_size)
        if self.inner.exists(sha256):
            # Content addressing: the same bytes are stored already, under the same key.
            path.unlink()
            return StoredObject(sha256, size)
        try:
            self.inner.put_file(path, sha256)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # The staging is on another filesystem than the store: copied, as sealed.
            with open(path, "rb") as handle:
                self.inner.put_named(sha256, _blocks(handle))
            path.unlink()
        return StoredObject(sha256, size)

    def put_file(self, path: Path, sha256: str) -> StoredObject:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            self._seal_into(sha256, _blocks(handle))
        path.unlink()
        return StoredObject(sha256, size)

    def _put_unnamed(self, chunks: Iterable[bytes]) -> StoredObject:
        """The name is the SHA-256 of bytes not yet seen: spool them sealed under a key that
        lives only in memory (a crash leaves noise, never plaintext), then seal for good."""
        spool_key = os.urandom(segments.KEY_BYTES)
        digest = hashlib.sha256()
        size = 0

        def hashed() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        with tempfile.TemporaryFile() as spool:
            for sealed in segments.encrypt(hashed(), spool_key, b"spool", self.layout):
                spool.write(sealed)
            spool.flush()
            spool.seek(0)
            sha256 = digest.hexdigest()
            if self.inner.exists(sha256) and self.keys.find(sha256) is not None:
                return StoredObject(sha256, size)  # content addressing: already stored
            plaintext = _open_spool(spool, spool_key, self.layout)
            self._seal_into(sha256, plaintext)
        return StoredObject(sha256, size)

    def _seal_into(self, sha256: str, plaintext: Iterable[bytes]) -> None:
        there = self.inner.exists(sha256)
        kept = self.keys.find(sha256)
        data_key = self._data_key(sha256, kept, create=True)
        if there and kept is None:
            # Bytes under this name with no key: a shredded object whose purge has not run
            # yet. Noise now, they must not stand in for the same content stored anew.
            self.inner.delete(sha256)
        if data_key is None:
            # Stored before encryption at rest: its other copies are plaintext too.
            self.inner.put_named(sha256, plaintext)
            return
        self.inner.put_named(
            sha256, segments.encrypt(plaintext, data_key, associated_data(sha256), self.layout)
        )

    def _data_key(
        self, sha256: str, kept: WrappedKey | None, *, create: bool = False
    ) -> bytes | None:
        """The object's data key from `kept`, what `keys.find` just gave for it (looked up
        once by the caller, which needs it too); None for an object stored before
        encryption at rest."""
        if kept is not None and kept.kek_id == PLAINTEXT:
            return None
        if kept is None:
            if not create:
                raise KeyDestroyed(
                    f"object {sha256} has no data key: it was deleted, and every copy of "
                    "its bytes is unreadable"
                )
            # The same bytes keep one key in every store (a migration copies sealed bytes).
            fresh = os.urandom(segments.KEY_BYTES)
            kept = self.keys.keep(sha256, self.wrap(fresh))
        return self.unwrap(kept.kek_id, kept.wrapped)

    def wrap(self, data_key: bytes) -> WrappedKey:
        """A new data key wrapped by the key the installation wraps with now (one key, its
        name and its wrapping read together: a rotation may begin meanwhile)."""
        kek = self.kek.wrapping() if isinstance(self.kek, Keyring) else self.kek
        return WrappedKey(kek.kek_id, kek.wrap(data_key))

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes:
        """A data key, unwrapped by the key-encryption key that wrapped it."""
        if isinstance(self.kek, Keyring):
            return self.kek.get(kek_id).unwrap(wrapped)
        if kek_id != self.kek.kek_id:
            raise WrongKeyEncryptionKey(
                f"data key wrapped by {kek_id}, but the key here is {self.kek.kek_id}"
            )
        return self.kek.unwrap(wrapped)

    # Reading

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)

    def size(self, sha256: str) -> int:
        size = self.inner.size(sha256)
        if self._recall(sha256, size) is None and self._opening(sha256, size) is None:
            return size
        return self.layout.plaintext_size(size)

    def _opening(self, sha256: str, ciphertext_size: int) -> bytes | None:
        """The key that opens the object's bytes as they lie now; None if they are plaintext
        (stored before encryption at rest, or their sealing in place not finished)."""
        return self._opening_settled(sha256, ciphertext_size, self.keys.find(sha256))[0]

    def _opening_settled(
        self, sha256: str, ciphertext_size: int, kept: WrappedKey | None
    ) -> tuple[bytes | None, bool]:
        """`_opening`, and whether the object's key is settled (sealed, not being sealed)."""
        data_key = self._data_key(sha256, kept)
        if data_key is not None and kept is not None and kept.resealing:
            return (data_key if self.opens(sha256, data_key, ciphertext_size) else None), False
        return data_key, data_key is not None

    def opens(self, sha256: str, data_key: bytes, ciphertext_size: int) -> bool:
        """Whether the bytes at rest are sealed under `data_key`: their first segment's tag
        says so (a plaintext's bytes never pass it)."""
        try:
            self.layout.plaintext_size(ciphertext_size)
            first = b"".join(self.inner.read(sha256, 0, min(ciphertext_size, self.layout.segment)))
            header = segments.Header.parse(first[: segments.HEADER_BYTES])
            aead = segments.segment_key(data_key, header.salt, associated_data(sha256))
            next(
                segments.decrypt_segments([first], aead, header, 0, 1, ciphertext_size, self.layout)
            )
        except ObjectCorrupt:
            return False
        return True

    def seal_in_place(self, sha256: str, data_key: bytes) -> Replaced:
        """Replace an object's plaintext at rest with its sealed form: sealed as it is read
        (hashing it: bytes that are not the object's own are refused, nothing replaced),
        staged, opened whole and hashed again, and only then put in place."""
        digest = hashlib.sha256()

        def plaintext() -> Iterator[bytes]:
            for block in self.inner.read(sha256):
                digest.update(block)
                yield block
            if digest.hexdigest() != sha256:
                raise ContentMismatch(
                    f"the plaintext at rest hashes to {digest.hexdigest()}, not {sha256}"
                )

        written = 0

        def counted() -> Iterator[bytes]:
            nonlocal written
            for sealed in segments.encrypt(
                plaintext(), data_key, associated_data(sha256), self.layout
            ):
                written += len(sealed)
                yield sealed

        def check(staged: Iterator[bytes]) -> None:
            head = next(staged, b"")
            while len(head) < segments.HEADER_BYTES and (more := next(staged, None)):
                head += more
            header = segments.Header.parse(head[: segments.HEADER_BYTES])
            aead = segments.segment_key(data_key, header.salt, associated_data(sha256))
            stop = -(-written // self.layout.segment)
            opened = hashlib.sha256()
            for plain in segments.decrypt_segments(
                itertools.chain([head], staged), aead, header, 0, stop, written, self.layout
            ):
                opened.update(plain)
            if opened.hexdigest() != sha256:
                raise ObjectCorrupt(f"the sealed copy of {sha256} does not open to its bytes")

        check_staged: StagedCheck = check
        self._forget(sha256)
        return self.inner.replace_named(sha256, counted(), check_staged)

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        # Size first, so that a missing object raises NotFound now, as the inner store does.
        ciphertext_size = self.inner.size(sha256)
        cached = self._recall(sha256, ciphertext_size)
        data_key, cacheable = None, False
        if cached is None:
            kept = self.keys.find(sha256)
            data_key, cacheable = self._opening_settled(sha256, ciphertext_size, kept)
            if data_key is None:
                return self.inner.read(sha256, start, end)
        plaintext_size = self.layout.plaintext_size(ciphertext_size)
        end = plaintext_size if end is None else min(end, plaintext_size)
        return self._read(sha256, data_key, cached, cacheable, start, end, ciphertext_size)

    def _read(
        self,
        sha256: str,
        data_key: bytes | None,
        cached: _Opened | None,
        cacheable: bool,
        start: int,
        end: int,
        ciphertext_size: int,
    ) -> Iterator[bytes]:
        layout = self.layout
        first = layout.segment_of(start) if start < end else 0
        stop = layout.segment_of(end - 1) + 1 if start < end else 1
        if start >= end and ciphertext_size != segments.HEADER_BYTES + segments.TAG_BYTES:
            return  # nothing asked of a non-empty object (an empty one still proves it opens)
        # Read from a segment boundary: segment 0's read carries the header with it.
        sealed = iter(
            self.inner.read(
                sha256, first * layout.segment, min(ciphertext_size, stop * layout.segment)
            )
        )
        if cached is not None:
            header, aead = cached.header, cached.aead
        else:
            if first == 0:
                head = next(sealed, b"")
                while len(head) < segments.HEADER_BYTES and (more := next(sealed, None)):
                    head += more
                header = segments.Header.parse(head[: segments.HEADER_BYTES])
                sealed = itertools.chain([head], sealed)
            else:
                header = segments.Header.parse(
                    b"".join(self.inner.read(sha256, 0, segments.HEADER_BYTES))
                )
            if data_key is None:
                raise KeyDestroyed(f"object {sha256} has no data key")
            aead = segments.segment_key(data_key, header.salt, associated_data(sha256))
            if cacheable and self.remember_openings:
                self._remember(sha256, _Opened(aead, header, ciphertext_size, time.monotonic()))
        offset = start - layout.plain_start(first)
        remaining = end - start
        opened = segments.decrypt_segments(
            sealed, aead, header, first, stop, ciphertext_size, layout
        )
        yielded = False
        try:
            for plain in opened:
                piece = (
                    plain
                    if offset == 0 and remaining >= len(plain)
                    else plain[offset : offset + remaining]
                )
                offset = 0
                remaining -= len(piece)
                if piece:
                    yielded = True
                    yield piece
        except ObjectCorrupt:
            if cached is None or yielded:
                raise
            # Opened from memory, and the bytes are not those any more (stored anew under
            # a new key after a deletion): forget them and open afresh.
            self._forget(sha256)
            yield from self.read(sha256, start, end)
            return

    # What a read opened, kept a short while (the installation's own store only): a player's
    # range requests then skip the key lookup, the unwrapping, the key derivation and the
    # header read. Only sealed objects whose key is settled (not plaintext, not being
    # sealed). Crypto-shredding is not weakened: a deletion destroys the key and deletes
    # these bytes from this very store, and copies elsewhere (a backup, a migration's
    # target) are opened through other stores, which remember nothing. Bytes stored anew
    # under a new key fail the tag of the remembered opening and are opened afresh.

    def _recall(self, sha256: str, ciphertext_size: int) -> _Opened | None:
        if not self.remember_openings:
            return None
        with self._opened_lock:
            found = self._opened.get(sha256)
            if found is None:
                return None
            if (
                found.ciphertext_size != ciphertext_size
                or time.monotonic() - found.at > OPENED_SECONDS
            ):
                del self._opened[sha256]
                return None
            self._opened.move_to_end(sha256)
            return found

    def _remember(self, sha256: str, opened: _Opened) -> None:
        with self._opened_lock:
            self._opened[sha256] = opened
            self._opened.move_to_end(sha256)
            while len(self._opened) > OPENED_MAX:
                self._opened.popitem(last=False)

    def _forget(self, sha256: str) -> None:
        with self._opened_lock:
            self._opened.pop(sha256, None)

    # Removing and listing

    def delete(self, sha256: str) -> bool:
        """Remove the sealed bytes. The data key is destroyed by the use case that decides
        the deletion, in its own transaction (services.object_keys.shred), so that the key
        goes when the deletion commits: then every other copy (a backup) is noise too."""
        self._forget(sha256)
        return self.inner.delete(sha256)

    def iter_objects(self) -> Iterator[str]:
        return self.inner.iter_objects()

    @property
    def object_lock(self) -> bool:
        return self.inner.object_lock

    def protect(self, sha256: str, keep_for: timedelta, hold: bool) -> None:
        """Object Lock is the stored (sealed) object's: the name is the same."""
        self.inner.protect(sha256, keep_for, hold)

    def put_named(self, name: str, chunks: Iterable[bytes]) -> int:
        """Sealed bytes of another store's copy (a migration): stored as they are."""
        return self.inner.put_named(name, chunks)

    def replace_named(self, name: str, chunks: Iterable[bytes], check: StagedCheck) -> Replaced:
        """Bytes as they are to lie at rest (sealing goes through `seal_in_place`)."""
        return self.inner.replace_named(name, chunks, check)

    def read_sealed(self, sha256: str) -> Iterator[bytes]:
        """The object's bytes as they lie at rest, for a copy to another store."""
        return self.inner.read(sha256)


def looks_sealed(head: bytes, size: int, layout: segments.Layout = segments.Layout()) -> bool:
    """Whether an object's first bytes and size are those of a sealed object (MP4 footage
    begins with a box length, JPEG with 0xFF, neither with Tink's header length, 40)."""
    if not head or head[0] != segments.HEADER_BYTES:
        return False
    try:
        layout.plaintext_size(size)
    except ObjectCorrupt:
        return False
    return True


def associated_data(sha256: str) -> bytes:
    # Binds the sealed bytes to their name: one object's bytes put under another's name fail.
    return f"custody object {sha256}".encode("ascii")


def _blocks(handle: BinaryIO) -> Iterator[bytes]:
    while block := handle.read(READ_BLOCK):
        yield block


def _open_spool(spool: BinaryIO, key: bytes, layout: segments.Layout) -> Iterator[bytes]:
    size = os.fstat(spool.fileno()).st_size
    header = segments.Header.parse(spool.read(segments.HEADER_BYTES))
    aead = segments.segment_key(key, header.salt, b"spool")
    stop = -(-size // layout.segment)
    spool.seek(0)
    return segments.decrypt_segments(_blocks(spool), aead, header, 0, stop, size, layout)


def unsealed(store: BlobStore) -> BlobStore:
    """The store under an encryption wrapper (itself if it has none)."""
    return store.inner if isinstance(store, EncryptedStore) else store
