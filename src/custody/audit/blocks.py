"""Whole aligned blocks of the log checked in worker processes, for `verify` on PostgreSQL.

Checking an event is CPU work in Python (its canonical JSON, three SHA-256s, its share of
the Merkle tree), so a verify of millions of events is bound by one core. Aligned blocks of
2^14 events are independent of one another except at their edges: each worker reads a
block on its own connection and says only whether everything inside it fits (every event
matches its hash, links to the one before, the sequence has no gaps, every stored tree
node inside it is the one its events make), the block's first link and last hash, and its
subtree's root. The verifying process joins the blocks (the links between them, the tree
above them, the checkpoints) exactly as it does for blocks it checks itself; a block that
does not fit is checked again there, row by row, to name what is wrong.

A checker's work per event is what it must be: the row read (in the binary format, no text
parsed), its canonical JSON written in one comprehension, three SHA-256s and two list
compares. It never decides what is wrong, only that nothing is: anything it does not
expect (a column's type, a null, an error) counts as not whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import subprocess
import sys
import time
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import chain
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

from custody.audit.hashing import HASHED_FIELDS, SAFE_INTEGER, utc_rows_digests
from custody.domain import merkle

BLOCK_LEVEL = 14
BLOCK = 1 << BLOCK_LEVEL
LEVEL_SHIFT = 48  # as `sequencer.LEVEL_SHIFT` (not imported: workers import little)

# The block's rows in the driver's binary format (no text to parse: a third less work for
# the server and here); "at" as UTC wall time, written out as an event's hash has it.
_COLUMNS = ", ".join(
    "at AT TIME ZONE 'UTC'" if name == "at" else name for name in (*HASHED_FIELDS, "hash")
)
_ROWS = f"SELECT {_COLUMNS} FROM audit_events WHERE seq > %s AND seq <= %s ORDER BY seq"
# The PostgreSQL types (oids) those columns may have for `utc_rows_digests`, which takes
# each value to be of its column's type: a column of another type (an integer "allowed",
# say) sends the block to the verifying process, which reads it as `row_hash` does.
_STRING = frozenset({25, 1043})  # text, varchar
_TYPES = (frozenset({20}), frozenset({1114}), *[_STRING] * 4, frozenset({16}), *[_STRING] * 6)
# Every stored tree node inside the block, in id order (level by level, each level in index
# order): one range of ids per level (`sequencer.node_id`), read in one scan of the table's
# pages (the levels' nodes share them), and compared here node by node.
_NODES = (
    "SELECT id, hash FROM audit_tree_nodes WHERE "
    + " OR ".join(["(id >= %s AND id < %s)"] * BLOCK_LEVEL)
    + " ORDER BY id"
)


@dataclass(frozen=True)
class Summary:
    """What a worker found in the block of events after `low`."""

    low: int
    whole: bool  # everything inside the block fits
    first_prev: str  # the first event's link to the event before the block
    last_hash: str
    root: bytes  # the block's complete subtree
    cpu: float = 0.0  # CPU seconds the worker spent on it (beside the verifying process's)


def block_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every level of a complete subtree above its leaves, level by level (list
    comprehensions of C calls); the last holds its root."""
    sha256 = hashlib.sha256
    prefix = merkle.NODE_PREFIX
    levels: list[list[bytes]] = []
    level = leaves
    while len(level) > 1:
        level = [
            sha256(prefix + left + right).digest()
            for left, right in zip(level[0::2], level[1::2], strict=True)
        ]
        levels.append(level)
    return levels


_connection: Any = None


def _connect(dsn: dict[str, Any]) -> Any:
    # One connection per worker process, kept for every block it is given. No parallel
    # query: the workers are the parallelism, and PostgreSQL's own workers (and the sort
    # to merge theirs) would only compete with them for the same cores.
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(autocommit=True, **dsn)
        _connection.execute("SET max_parallel_workers_per_gather = 0")
    return _connection


def summarise(dsn: dict[str, Any], low: int) -> Summary:
    """Check the aligned block of events low+1 .. low+BLOCK on a connection of its own."""
    global _connection
    began = time.process_time()
    try:
        summary = _summarise(_connect(dsn), low)
    except psycopg.Error:
        # Whatever the database says (a value no event can hold, a lost connection), the
        # verifying process reads this block again itself, and names or raises it there.
        _connection = None
        summary = Summary(low, False, "", "", b"")
    return replace(summary, cpu=time.process_time() - began)


def _summarise(connection: Any, low: int) -> Summary:
    broken = Summary(low, False, "", "", b"")
    if low + BLOCK > SAFE_INTEGER:
        return broken  # sequence numbers no event can have: `row_hash` matches them to none
    cursor = connection.cursor(binary=True)
    rows = cursor.execute(_ROWS, (low, low + BLOCK)).fetchall()
    types = [column.type_code for column in cursor.description]
    if (
        len(rows) != BLOCK
        or rows[0][0] != low + 1
        or rows[-1][0] != low + BLOCK
        or not all(oid in kinds for oid, kinds in zip(types, _TYPES, strict=True))
    ):
        return broken
    digests = utc_rows_digests(rows)
    hashes = list(map(itemgetter(12), rows))
    if (
        digests is None
        or list(map(bytes.hex, digests)) != hashes
        or list(map(itemgetter(11), rows[1:])) != hashes[:-1]
    ):
        return broken
    sha256 = hashlib.sha256
    leaf_prefix = merkle.LEAF_PREFIX
    levels = block_levels([sha256(leaf_prefix + digest).digest() for digest in digests])
    bounds: list[int] = []
    ids: list[int] = []
    for height in range(1, BLOCK_LEVEL + 1):
        first = height << LEVEL_SHIFT | low >> height
        bounds += [first, first + (BLOCK >> height)]
        ids += range(first, first + (BLOCK >> height))
    stored = connection.cursor(binary=True).execute(_NODES, bounds).fetchall()
    if list(map(itemgetter(0), stored)) != ids or list(map(itemgetter(1), stored)) != list(
        chain.from_iterable(levels)
    ):
        return broken
    return Summary(low, True, rows[0][-2], hashes[-1], levels[-1][0])


# Where the custody package is imported from, for the checkers' interpreters to import the
# same code whatever path the verifying process was given.
_SOURCE = str(Path(__file__).resolve().parents[2])


class Checkers:
    """Worker processes that check blocks, each on its own connection.

    Fresh interpreters running this module (`python -m custody.audit.blocks`), not
    multiprocessing's children: those import the verifying process's main script again,
    which for a command or a benchmark is the whole application, seconds before the first
    block. Each reads a block's first event a line and answers with its summary.
    """

    def __init__(self, dsn: dict[str, Any], count: int) -> None:
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([_SOURCE, *([path] if path else [])])}
        self._processes = [
            subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(count)
        ]
        self._idle: queue.SimpleQueue[subprocess.Popen[str]] = queue.SimpleQueue()
        for process in self._processes:
            assert process.stdin is not None
            # Connection parameters (a password among them) on a pipe, not the command line.
            # One that died at once has its blocks checked by the verifying process.
            with contextlib.suppress(OSError):
                process.stdin.write(json.dumps(dsn) + "\n")
                process.stdin.flush()
            self._idle.put(process)

    def summaries(self, lows: list[int]) -> Generator[Summary, None, None]:
        """The blocks' summaries in order, each block given to the next checker free."""
        threads = ThreadPoolExecutor(len(self._processes))
        try:
            yield from threads.map(self._check, lows)
        finally:
            # A walk that stopped at a fault needs none of the blocks still queued.
            threads.shutdown(wait=True, cancel_futures=True)

    def _check(self, low: int) -> Summary:
        process = self._idle.get()
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(f"{low}\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except OSError:
            line = ""
        finally:
            self._idle.put(process)
        if not line:
            # A checker that died: the verifying process checks the block itself.
            return Summary(low, False, "", "", b"")
        low, whole, first_prev, last_hash, root, cpu = json.loads(line)
        return Summary(low, whole, first_prev, last_hash, bytes.fromhex(root), cpu)

    def __enter__(self) -> Checkers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for process in self._processes:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()  # the checker's loop ends, and it exits
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def serve() -> None:
    """A checker's loop: the connection parameters (a JSON line), then a block's first event
    a line; for each, its summary as a JSON line."""
    dsn = json.loads(sys.stdin.readline())
    for line in sys.stdin:
        summary = summarise(dsn, int(line))
        answer = [
            summary.low,
            summary.whole,
            summary.first_prev,
            summary.last_hash,
            summary.root.hex(),
            summary.cpu,
        ]
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
