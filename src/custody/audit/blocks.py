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

from custody.audit.log import HASHED_FIELDS, row_hash
from custody.domain import merkle

BLOCK_LEVEL = 14
BLOCK = 1 << BLOCK_LEVEL
LEVEL_SHIFT = 48  # as `sequencer.LEVEL_SHIFT` (not imported: workers import little)

_ROWS = (
    f"SELECT {', '.join(HASHED_FIELDS)}, hash FROM audit_events "
    "WHERE seq > %s AND seq <= %s ORDER BY seq"
)
# Per level of the block: how many stored nodes there are, how many are not 32 bytes long,
# and a digest of them all in order (so equal digests of 32-byte nodes mean equal nodes):
# compared without sending them, in one statement.
_NODES = " UNION ALL ".join(
    f"SELECT {level}, count(*), count(*) FILTER (WHERE length(hash) <> 32), "
    f"sha256(coalesce(string_agg(hash, ''::bytea ORDER BY id), ''::bytea)) "
    f"FROM audit_tree_nodes WHERE id >= %s AND id < %s"
    for level in range(1, BLOCK_LEVEL + 1)
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
    # One connection per worker process, kept for every block it is given.
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(autocommit=True, **dsn)
        _connection.execute("SET TIME ZONE 'UTC'")  # times in UTC need no conversion
    return _connection


def summarise(dsn: dict[str, Any], low: int) -> Summary:
    """Check the aligned block of events low+1 .. low+BLOCK on a connection of its own."""
    began = time.process_time()
    summary = _summarise(dsn, low)
    return replace(summary, cpu=time.process_time() - began)


def _summarise(dsn: dict[str, Any], low: int) -> Summary:
    connection = _connect(dsn)
    rows = connection.execute(_ROWS, (low, low + BLOCK)).fetchall()
    if len(rows) != BLOCK:
        return Summary(low, False, "", "", b"")
    hashes = [row[-1] for row in rows]
    whole = (
        rows[0][0] == low + 1
        and rows[-1][0] == low + BLOCK
        and [row_hash(row) for row in rows] == hashes
        and [row[-2] for row in rows[1:]] == hashes[:-1]
    )
    if not whole:
        return Summary(low, False, "", "", b"")
    sha256 = hashlib.sha256
    leaf_prefix = merkle.LEAF_PREFIX
    fromhex = bytes.fromhex
    levels = block_levels([sha256(leaf_prefix + fromhex(digest)).digest() for digest in hashes])
    bounds: list[int] = []
    for height in range(1, BLOCK_LEVEL + 1):
        first = height << LEVEL_SHIFT | low >> height
        bounds += [first, first + (BLOCK >> height)]
    stored = {
        level: (count, odd, bytes(digest))
        for level, count, odd, digest in connection.execute(_NODES, bounds).fetchall()
    }
    for height, nodes in enumerate(levels, start=1):
        if stored.get(height) != (len(nodes), 0, sha256(b"".join(nodes)).digest()):
            return Summary(low, False, "", "", b"")
    return Summary(low, True, rows[0][-2], hashes[-1], levels[-1][0])
