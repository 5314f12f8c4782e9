"""Reading a recording in chunks, each with its SHA-256, one chunk ahead of the network.

While one chunk is on the wire the next is read and hashed on another thread
(hashlib and file reads release the GIL), so the disk, the hash and the socket
work at the same time instead of in turn.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path

from custody.domain.errors import ContentMismatch


@dataclass(frozen=True)
class Chunk:
    offset: int
    data: bytes
    sha256: bytes

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


class ChunkSource:
    """The chunks of one file of known size, read with pread at any offset."""

    def __init__(self, path: Path, size: int, chunk_size: int, ahead: Executor | None) -> None:
        self.path = path
        self.size = size
        self.chunk_size = chunk_size
        self._ahead = ahead
        self._next: Future[Chunk] | None = None
        self._next_offset = -1
        self._fd = os.open(path, os.O_RDONLY)
        actual = os.fstat(self._fd).st_size
        if actual != size:
            os.close(self._fd)
            raise ContentMismatch(f"{path.name} is {actual} bytes; its manifest says {size}")
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)

    def chunk_at(self, offset: int) -> Chunk:
        """The chunk that starts at `offset`; starts reading the one after it in the background."""
        pending, self._next = self._next, None
        if pending is not None and self._next_offset == offset:
            chunk = pending.result()
        else:
            if pending is not None:
                # The server's offset moved elsewhere: that read-ahead is of no use.
                pending.cancel()
            chunk = self._read(offset)
        if self._ahead is not None and chunk.end < self.size:
            self._next_offset = chunk.end
            self._next = self._ahead.submit(self._read, chunk.end)
        return chunk

    def _read(self, offset: int) -> Chunk:
        want = min(self.chunk_size, self.size - offset)
        data = os.pread(self._fd, want, offset)
        if len(data) < want:
            # pread may return short in principle; joining is rare, so the copy is too.
            parts = [data]
            got = len(data)
            while got < want:
                more = os.pread(self._fd, want - got, offset + got)
                if not more:
                    raise OSError(f"{self.path.name} ended at {offset + got} bytes")
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        return Chunk(offset, data, hashlib.sha256(data).digest())

    def close(self) -> None:
        """Wait out any read-ahead, then close the file."""
        pending, self._next = self._next, None
        if pending is not None and not pending.cancel():
            with contextlib.suppress(OSError):
                pending.result()
        os.close(self._fd)

    def __enter__(self) -> ChunkSource:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
