"""Atomic writes: a camera never holds half a file under a real name.

Everything is first written to a dot-named temporary file in the same directory,
fsync'd, renamed over its real name and the directory fsync'd, so that a power cut
at any moment leaves either the old state or the whole new file.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

# Readers of the format ignore names that start with a dot: these are never finished files.
TEMP_SUFFIX = ".part"
READ_BLOCK = 1024 * 1024


def staging_path(final: Path) -> Path:
    """A fresh temporary name beside `final`, hidden from readers of the format."""
    return final.parent / f".{final.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}"


def fsync_dir(directory: Path) -> None:
    """Make renames and unlinks in `directory` durable."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def place(staged: Path, final: Path) -> None:
    """Flush a finished temporary file to disk and rename it to its real name."""
    with open(staged, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(staged, final)
    fsync_dir(final.parent)


def write_atomic(final: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `final` so that readers see the old file or the new one, never a part."""
    staged = staging_path(final)
    try:
        # O_EXCL with the final mode: a key file is never readable by others, not even briefly.
        handle = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, final)
        fsync_dir(final.parent)
    finally:
        staged.unlink(missing_ok=True)


def unlink_durably(path: Path) -> None:
    """Remove a file (if present) and make the removal durable before returning."""
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)


def sha256_of(path: Path) -> tuple[str, int]:
    """A file's SHA-256 (lower-case hex) and size in bytes."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
