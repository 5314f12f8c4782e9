"""The object-store interface: small enough that an S3-compatible store can follow."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse
from urllib.request import url2pathname


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    size: int


@dataclass(frozen=True)
class Replaced:
    """What a replacement left: the new bytes' size, and how many older copies of the name
    the store still keeps because Object Lock refuses their deletion (S3 versions)."""

    size: int
    older_kept: int = 0


# Reads back the bytes a replacement staged, before they take the name (raises if wrong).
StagedCheck = Callable[[Iterator[bytes]], None]


class BlobStore(Protocol):
    """Content-addressed, immutable objects. A put is durable when it returns."""

    def put_stream(
        self, chunks: Iterable[bytes], expected_sha256: str | None = None
    ) -> StoredObject:
        """Store the bytes, hashing as they stream; ContentMismatch if the hash is not expected."""
        ...

    def put_file(self, path: Path, sha256: str) -> StoredObject:
        """Move a local file whose SHA-256 the caller has just verified into the store."""
        ...

    def put_named(self, name: str, chunks: Iterable[bytes]) -> int:
        """Store bytes under a name the caller vouches for, without hashing them: how a
        wrapper (encryption) keeps an object under its plaintext's SHA-256. Atomic: if
        `chunks` raises, nothing is stored; an existing object of that name is kept.
        Returns the stored size."""
        ...

    def replace_named(self, name: str, chunks: Iterable[bytes], check: StagedCheck) -> Replaced:
        """Replace the bytes under an existing name (sealing an object stored in plaintext):
        the new bytes are staged apart, `check` reads them back (and raises if they are not
        right: nothing changes), then they take the name atomically. Older copies are
        removed where the store allows."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def size(self, sha256: str) -> int:
        """NotFound if absent."""
        ...

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream bytes [start, end) of an object (end None: to its end)."""
        ...

    def delete(self, sha256: str) -> bool:
        """Remove an object for good; False if it was not there."""
        ...

    def iter_objects(self) -> Iterator[str]:
        """Every object's SHA-256, for fixity and reconciliation."""
        ...

    @property
    def object_lock(self) -> bool:
        """Does the store itself refuse early deletes (S3 Object Lock)? docs/storage.md."""
        ...

    def protect(self, sha256: str, keep_for: timedelta, hold: bool) -> None:
        """Make the store refuse to delete an object: for `keep_for` from the store's own
        now (retention is only ever extended), and while `hold` is on (a legal hold,
        lifted with hold=False). A no-op where the store has no Object Lock."""
        ...


def open_store(url: str) -> BlobStore:
    """The store for a CUSTODY_STORAGE_URL."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        from custody.storage.filesystem import FilesystemStore

        return FilesystemStore(Path(url2pathname(parsed.path)))
    if parsed.scheme == "s3":
        from custody.storage.s3 import S3Store

        return S3Store.from_url(url)
    raise ValueError(f"unsupported storage URL scheme {parsed.scheme!r} (file:// or s3://)")
