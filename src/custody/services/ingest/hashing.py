"""The SHA-256 of what arrived: whole files and streams, and the running hash of an upload."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import _Hash

HASH_BLOCK = 4 * 1024 * 1024


class RunningHashes:
    """The SHA-256 of each upload's bytes so far, for uploads this process wrote in order.

    Only a shortcut: it spares the commit a second read of the whole file when one
    process received every chunk. Anything else (another node wrote a chunk, the process
    restarted) finds no entry at the right offset, and the commit re-reads the file.
    """

    def __init__(self, limit: int = 256) -> None:
        self._entries: OrderedDict[str, tuple[int, _Hash]] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def take(self, upload_id: str, offset: int) -> _Hash | None:
        """A hash object over exactly the first `offset` bytes, or None."""
        with self._lock:
            entry = self._entries.pop(upload_id, None)
        if offset == 0:
            return hashlib.sha256()
        if entry is None or entry[0] != offset:
            return None
        return entry[1]

    def put(self, upload_id: str, offset: int, running: _Hash) -> None:
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
        return entry[1].hexdigest()


RUNNING_HASHES = RunningHashes()


def hash_file(path: Path) -> tuple[str, int]:
    """The SHA-256 (hex) and size of a file, read a block at a time."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def hash_stream(blocks: Iterable[bytes]) -> str:
    """The SHA-256 (hex) of a stream of blocks."""
    digest = hashlib.sha256()
    for block in blocks:
        digest.update(block)
    return digest.hexdigest()
