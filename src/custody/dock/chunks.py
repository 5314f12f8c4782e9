"""Reading a recording in chunks, each with its SHA-256, one chunk ahead of the network.

While one chunk is on the wire the next is read and hashed on another thread
(hashlib and file reads release the GIL), so the disk, the hash and the socket
work at the same time instead of in turn.

Each chunk is a durable step on the server (its bytes fsync'd, then its offset committed)
that the dock waits for before sending the next. On a fast link that wait, not the bytes,
sets the pace: a busy server disk took as long to make 16 MiB durable as 64 MiB. So a
chunk answered quickly is followed by one twice its size, up to a bound (`next_size`);
a slow one by one half its size, so that a connection lost mid-chunk costs seconds of
sending, not minutes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path

from custody.domain.errors import ContentMismatch

# A chunk answered this fast: the wait for its durable step weighs more than its bytes.
FAST_SECONDS = 1.0
# Answered this slowly: a lost connection would cost this much sending again.
SLOW_SECONDS = 8.0


def next_size(size: int, seconds: float, least: int, most: int) -> int:
    """The size of the chunk after one of `size` bytes that the server answered in
    `seconds`: doubled when fast, halved when slow, never outside [least, most]."""
    if seconds < FAST_SECONDS:
        size *= 2
    elif seconds > SLOW_SECONDS:
        size //= 2
    return max(least, min(most, size))


@dataclass(frozen=True)
class Chunk:
    offset: int
    data: bytes
    sha256: bytes

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


class ChunkSource:
    """The chunks of one file of known size, read with pread at any offset; `chunk_size`
    may change between chunks."""

    def __init__(self, path: Path, size: int, chunk_size: int, ahead: Executor | None) -> None:
        self.path = path
        self.size = size
        self.chunk_size = chunk_size
        self._ahead = ahead
        self._next: Future[Chunk] | None = None
        self._next_offset = -1
        self._next_size = 0
        self._fd = os.open(path, os.O_RDONLY)
        actual = os.fstat(self._fd).st_size
        if actual != size:
            os.close(self._fd)
            raise ContentMismatch(f"{path.name} is {actual} bytes; its manifest says {size}")
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)

    def chunk_at(self, offset: int) -> Chunk:
        """The chunk that starts at `offset`; starts reading the one after it in the background.

        A chunk read ahead before `chunk_size` grew is sent as it is (its bytes are read and
        hashed); one read ahead before it shrank is read again at the smaller size."""
        pending, self._next = self._next, None
        if (
            pending is not None
            and self._next_offset == offset
            and self._next_size <= self.chunk_size
        ):
            chunk = pending.result()
        else:
            if pending is not None:
                # The server's offset moved elsewhere, or chunks are smaller now: that
                # read-ahead is of no use.
                pending.cancel()
            chunk = self._read(offset, self.chunk_size)
        if self._ahead is not None and chunk.end < self.size:
            self._next_offset = chunk.end
            self._next_size = self.chunk_size
            self._next = self._ahead.submit(self._read, chunk.end, self.chunk_size)
        return chunk

    def _read(self, offset: int, chunk_size: int) -> Chunk:
        want = min(chunk_size, self.size - offset)
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
