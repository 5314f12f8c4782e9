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
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from custody.audit.hashing import HASHED_FIELDS, utc_rows_digests
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
# Every stored tree node inside the block, level by level, each level in index order: one
# range of ids per level (`sequencer.node_id`), compared here node by node.
_NODES = (
    "SELECT id, hash FROM ("
    + " UNION ALL ".join(
        ["SELECT id, hash FROM audit_tree_nodes WHERE id >= %s AND id < %s"] * BLOCK_LEVEL
    )
    + ") AS nodes ORDER BY id"
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
    began = time.process_time()
    summary = _summarise(_connect(dsn), low)
    return replace(summary, cpu=time.process_time() - began)


def _summarise(connection: Any, low: int) -> Summary:
    broken = Summary(low, False, "", "", b"")
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
    hashes = [row[-1] for row in rows]
    if (
        digests is None
        or list(map(bytes.hex, digests)) != hashes
        or [row[-2] for row in rows[1:]] != hashes[:-1]
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
    if [node[0] for node in stored] != ids or [node[1] for node in stored] != [
        node for level in levels for node in level
    ]:
        return broken
    return Summary(low, True, rows[0][-2], hashes[-1], levels[-1][0])
