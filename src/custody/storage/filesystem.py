"""The local filesystem store: objects under aa/bb/<sha256>, written atomically.

Folders are made 0700 and objects 0600 (`custody.private`): footage is the service's alone.

Bytes stream to a temporary file in the same filesystem while being hashed; the
file is fsync'd, renamed into place and its directory fsync'd. A power cut at any
moment leaves either no object or the whole object under its real name.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from custody.domain.errors import ContentMismatch, InvalidInput, NotFound
from custody.private import open_private, private_dir, tighten
from custody.storage.base import Replaced, StagedCheck, StoredObject

READ_BLOCK = 1024 * 1024
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class FilesystemStore:
    def __init__(self, root: Path) -> None:
        self.root = private_dir(root)
        tighten(root)
        self.tmp = private_dir(root / ".tmp")

    def path_of(self, sha256: str) -> Path:
        if not SHA256_HEX.match(sha256):
            raise InvalidInput("not a SHA-256 object name")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_stream(
        self, chunks: Iterable[bytes], expected_sha256: str | None = None
    ) -> StoredObject:
        digest = hashlib.sha256()
        size = 0
        temp = self.tmp / f"{uuid.uuid4().hex}.part"
        try:
            with os.fdopen(open_private(temp, os.O_WRONLY | os.O_EXCL), "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            if expected_sha256 is not None and sha != expected_sha256:
                raise ContentMismatch(f"bytes hash to {sha}, expected {expected_sha256}", sha)
            self._place(temp, sha)
            return StoredObject(sha, size)
        finally:
            temp.unlink(missing_ok=True)

    def put_named(self, name: str, chunks: Iterable[bytes]) -> int:
        final = self.path_of(name)
        temp = self.tmp / f"{uuid.uuid4().hex}.part"
        size = 0
        try:
            with os.fdopen(open_private(temp, os.O_WRONLY | os.O_EXCL), "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if final.exists():
                return final.stat().st_size
            self._place(temp, name)
            return size
        finally:
            temp.unlink(missing_ok=True)

    def replace_named(self, name: str, chunks: Iterable[bytes], check: StagedCheck) -> Replaced:
        final = self.path_of(name)
        temp = self.tmp / f"{uuid.uuid4().hex}.part"
        size = 0
        try:
            with os.fdopen(open_private(temp, os.O_WRONLY | os.O_EXCL), "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            check(_read_range(open(temp, "rb"), 0, None))  # noqa: SIM115  (the reader closes it)
            # rename(2) over the old file: a reader sees the old bytes or the new, never a mix.
            os.replace(temp, final)
            _fsync_dir(final.parent)
            return Replaced(size)
        finally:
            temp.unlink(missing_ok=True)

    def put_file(self, path: Path, sha256: str) -> StoredObject:
        size = path.stat().st_size
        with open(path, "rb+") as handle:
            os.fsync(handle.fileno())
        self._place(path, sha256)
        return StoredObject(sha256, size)

    def _place(self, temp: Path, sha256: str) -> None:
        final = self.path_of(sha256)
        if final.exists():
            # Same name, same bytes: content addressing makes a second put a no-op.
            temp.unlink(missing_ok=True)
            return
        private_dir(final.parent)
        os.replace(temp, final)
        _fsync_dir(final.parent)

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def size(self, sha256: str) -> int:
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"object {sha256} is not in the store") from None

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self.path_of(sha256)
        try:
            handle = open(path, "rb")  # noqa: SIM115  (closed by the generator)
        except FileNotFoundError:
            raise NotFound(f"object {sha256} is not in the store") from None
        return _read_range(handle, start, end)

    def delete(self, sha256: str) -> bool:
        path = self.path_of(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def iter_objects(self) -> Iterator[str]:
        for path in self.root.glob("??/??/*"):
            if SHA256_HEX.match(path.name):
                yield path.name

    @property
    def object_lock(self) -> bool:
        # Anyone who can write the folder can delete from it: say so (custody doctor).
        return False

    def protect(self, sha256: str, keep_for: timedelta, hold: bool) -> None:
        return None


def _read_range(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else end - start
        while remaining is None or remaining > 0:
            want = READ_BLOCK if remaining is None else min(READ_BLOCK, remaining)
            block = handle.read(want)
            if not block:
                return
            if remaining is not None:
                remaining -= len(block)
            yield block


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
