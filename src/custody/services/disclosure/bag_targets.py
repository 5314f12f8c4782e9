"""Where a bundle's bytes go as they are made: a folder, or one zip; never half offered.

Each target writes under a temporary name beside the final one and renames it into place
only after its last byte is durable (fsync), so a bundle killed half-way is never found
under its real name, and a zip is written front to back (stored entries, ZIP64 sizes and
data descriptors) without seeking, hashing itself as it goes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from custody.domain.errors import Conflict, InvalidInput

PARTIAL = ".partial"


class BagTarget(Protocol):
    def add(self, name: str, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Write one file of the bag (path relative to its root); its SHA-256 and size."""
        ...

    def publish(self) -> None:
        """Make the finished bag appear under its real name (after its last byte)."""
        ...

    def abandon(self) -> None:
        """Remove whatever a failed export left under the temporary name."""
        ...


def _refuse_existing(out: Path) -> None:
    if out.exists():
        raise Conflict(f"{out} exists already: choose another place for the bundle")
    if not out.parent.is_dir():
        raise InvalidInput(f"{out.parent} is not a folder")


def partial_of(out: Path) -> Path:
    return out.with_name(out.name + PARTIAL)


class FolderTarget:
    """The bag as a folder: written to `<out>.partial/`, renamed to `<out>` when sealed."""

    def __init__(self, out: Path) -> None:
        _refuse_existing(out)
        self.out = out
        self.temp = partial_of(out)
        # A leftover of an export killed earlier is never finished: start again.
        shutil.rmtree(self.temp, ignore_errors=True)
        self.temp.mkdir()

    def add(self, name: str, chunks: Iterable[bytes]) -> tuple[str, int]:
        path = self.temp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with open(path, "xb") as handle:
            for chunk in chunks:
                digest.update(chunk)
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        return digest.hexdigest(), size

    def publish(self) -> None:
        for folder, _, _ in os.walk(self.temp):
            _fsync_dir(Path(folder))
        os.rename(self.temp, self.out)
        _fsync_dir(self.out.parent)

    def abandon(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


class _Sink(io.RawIOBase):
    """A write-only, unseekable file that hashes what passes: zipfile then streams."""

    def __init__(self, handle: io.BufferedWriter) -> None:
        super().__init__()
        self.handle = handle
        self.digest = hashlib.sha256()
        self.position = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data)
        self.digest.update(view)
        self.handle.write(view)
        self.position += len(view)
        return len(view)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.handle.flush()


class ZipTarget:
    """The bag as one zip holding one folder named after it (BagIt's serialisation)."""

    def __init__(self, out: Path, made_at: datetime, *, replace_existing: bool = False) -> None:
        if not replace_existing:
            _refuse_existing(out)
        self.out = out
        self.temp = partial_of(out)
        self.folder = out.name.removesuffix(".zip") or "bundle"
        self.when = (made_at.year, made_at.month, made_at.day, made_at.hour, made_at.minute, 0)
        self._file = open(self.temp, "wb")  # noqa: SIM115  (closed by publish or abandon)
        self.sink = _Sink(self._file)
        self.archive = zipfile.ZipFile(self.sink, "w", compression=zipfile.ZIP_STORED)
        self.sha256 = ""
        self.size = 0

    def add(self, name: str, chunks: Iterable[bytes]) -> tuple[str, int]:
        info = zipfile.ZipInfo(f"{self.folder}/{name}", self.when)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        digest = hashlib.sha256()
        size = 0
        with self.archive.open(info, "w", force_zip64=True) as entry:
            for chunk in chunks:
                digest.update(chunk)
                entry.write(chunk)
                size += len(chunk)
        return digest.hexdigest(), size

    def seal(self) -> None:
        """Write the zip's central directory and make its bytes durable (not yet published)."""
        self.archive.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.sha256 = self.sink.digest.hexdigest()
        self.size = self.sink.position

    def publish(self) -> None:
        self.seal()
        os.rename(self.temp, self.out)
        _fsync_dir(self.out.parent)

    def abandon(self) -> None:
        # Already failing: only the leftover matters, not a second error closing it.
        with contextlib.suppress(Exception):
            self.archive.close()
        self._file.close()
        self.temp.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
