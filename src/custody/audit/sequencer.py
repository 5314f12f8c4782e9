"""The sequencer: pending events into the chain and the Merkle tree, in order, in batches.

Writers commit their events as `audit_pending` rows with the change they record, taking
no shared lock. The sequencer is the only writer of `audit_events`, `audit_tree_nodes` and
the head: under the head row's lock it takes the oldest pending rows, checks each against
its entry hash, gives it the next sequence number and its chain hash, adds it to the
Merkle tree (storing every complete subtree it closes), and deletes the pending rows, all
in one transaction. A crash at any point leaves either the batch sequenced or it still
pending: nothing is lost, nothing is chained twice.

It runs in the writer's process right after a unit of work that audited commits (not
waiting if another sequencer holds the lock: that one, or the next, takes the new rows),
on a timer in every server and worker process, and before anything that needs sequence
numbers (a checkpoint, a proof, the audit search, a recording's trail, `verify`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, false, func, insert, select, update
from sqlalchemy.orm import Session

from custody.audit.log import (
    GENESIS,
    HASHED_FIELDS,
    HEAD_ID,
    AuditEntry,
    OpenSession,
    pending_query,
    pending_row_ok,
    row_hash,
)
from custody.db.models import AuditEvent, AuditHead, AuditPending, AuditTreeNode
from custody.domain import merkle
from custody.domain.errors import CustodyError

log = logging.getLogger(__name__)

# Events sequenced per transaction: large enough to amortise the round trips, small
# enough that the head lock is held for a fraction of a second.
BATCH = 5_000
# `audit_tree_nodes.id` is level << LEVEL_SHIFT | index.
LEVEL_SHIFT = 48


class PendingTampered(CustodyError):
    """A pending event no longer matches its entry hash: the sequencer will not chain it."""

    code = "audit_pending_tampered"


class TreeBroken(CustodyError):
    """A stored tree node is missing or does not fit the events."""

    code = "audit_tree_broken"


def node_id(level: int, index: int) -> int:
    return level << LEVEL_SHIFT | index


def read_subtrees(
    session: Session, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The hashes of complete subtrees (level, index): leaves from the events, the rest stored.

    Two indexed lookups whatever the log's size.
    """
    wanted = set(wanted)
    found: dict[tuple[int, int], bytes] = {}
    leaves = sorted(index + 1 for level, index in wanted if level == 0)
    for chunk in _chunks(leaves):
        leaf_query = select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(chunk))
        for seq, digest in session.connection().execute(leaf_query):
            found[(0, seq - 1)] = merkle.leaf_hash(bytes.fromhex(digest))
    inner = sorted(node_id(level, index) for level, index in wanted if level > 0)
    for chunk in _chunks(inner):
        node_query = select(AuditTreeNode.id, AuditTreeNode.hash).where(AuditTreeNode.id.in_(chunk))
        for key, node in session.connection().execute(node_query):
            found[(key >> LEVEL_SHIFT, key & ((1 << LEVEL_SHIFT) - 1))] = bytes(node)
    missing = wanted - found.keys()
    if missing:
        level, index = min(missing)
        raise TreeBroken(
            f"the stored Merkle tree has no node at level {level}, index {index}: "
            "run `custody audit verify`"
        )
    return found


def _chunks(keys: list[int], size: int = 5_000) -> Iterable[list[int]]:
    # At least one, even empty: the same statements run whatever the log's size (a page's
    # statement count must not depend on it; an empty IN matches nothing).
    return (keys[start : start + size] for start in range(0, max(len(keys), 1), size))


def tree_at(session: Session, size: int) -> merkle.Accumulator:
    """The tree over the first `size` events, from its O(log n) stored complete subtrees."""
    parts = merkle.frontier_subtrees(size)
    found = read_subtrees(session, parts)
    return merkle.Accumulator.resume(size, [found[part] for part in parts])


def stored_root(session: Session, size: int) -> bytes:
    return tree_at(session, size).root()


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditPending)) or 0


def sequence(open_session: OpenSession, *, wait: bool = True, limit: int | None = None) -> int:
    """Sequence pending events, a batch per transaction; how many were sequenced.

    With `wait`, wait for another sequencer to finish and go on until nothing is pending
    (or `limit` events are done); without, return at once if another one holds the lock.
    """
    total = 0
    while limit is None or total < limit:
        done = _batch(open_session, wait=wait)
        if done is None:
            break
        total += done
        if done < BATCH:
            break
    return total


def _batch(open_session: OpenSession, *, wait: bool) -> int | None:
    with open_session() as session:
        locking = select(AuditHead).where(AuditHead.id == HEAD_ID)
        locking = locking.with_for_update(skip_locked=not wait)
        head = session.execute(locking).scalar_one_or_none()
        if head is None:
            if not wait:
                return None  # another sequencer is at work; it or the next takes these rows
            raise TreeBroken("the audit log has no head row")
        connection = session.connection()
        rows = connection.execute(pending_query(BATCH)).all()
        if not rows:
            return 0
        tree = tree_at(session, head.seq) if head.seq else merkle.Accumulator()
        events, nodes = chain(tree, head.seq, head.hash if head.seq else GENESIS, rows)
        ids = [row[0] for row in rows]
        last = events[-1]
        if connection.dialect.name == "postgresql" and len(events) <= SMALL_BATCH:
            _write_small(connection, events, nodes, ids)
            session.commit()
            return len(events)
        if connection.dialect.name == "postgresql":
            write_postgres(connection, events, nodes)
            # Never "id <= the last": a row with a smaller id may commit after this batch
            # was read.
            connection.exec_driver_sql("DELETE FROM audit_pending WHERE id = ANY(%s)", (ids,))
        else:
            connection.execute(
                insert(AuditEvent),
                [dict(zip(EVENT_COLUMNS, event, strict=True)) for event in events],
            )
            # One statement whether the batch closed no subtree or many (at most BATCH rows of
            # two values: within SQLite's limit on parameters).
            if nodes:
                connection.execute(
                    insert(AuditTreeNode).values([{"id": key, "hash": node} for key, node in nodes])
                )
            else:
                nothing = select(AuditTreeNode.id, AuditTreeNode.hash).where(false())
                connection.execute(insert(AuditTreeNode).from_select(["id", "hash"], nothing))
            for chunk in _chunks(ids, 500):
                connection.execute(delete(AuditPending).where(AuditPending.id.in_(chunk)))
        connection.execute(
            update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=last[0], hash=last[12])
        )
        session.commit()
        return len(events)


# The columns of `audit_events` in the order `chain` gives an event's values.
EVENT_COLUMNS = (*HASHED_FIELDS, "hash", "entry_id")
# An event as `chain` makes it (values in EVENT_COLUMNS order) and a stored tree node.
EventValues = tuple[Any, ...]
NodeValues = tuple[int, bytes]


# Batches up to this size are written in one statement (PostgreSQL): the few events a
# busy second brings in cost one round trip, not a COPY's several.
SMALL_BATCH = 1_000
_EVENT_TYPES = ("bigint", "timestamptz", *["text"] * 4, "bool", *["text"] * 6, "bigint")
_WRITE_SMALL = (
    f"WITH events AS (INSERT INTO audit_events ({', '.join(EVENT_COLUMNS)}) "
    f"SELECT * FROM unnest({', '.join(f'%s::{kind}[]' for kind in _EVENT_TYPES)})), "
    "nodes AS (INSERT INTO audit_tree_nodes (id, hash) "
    "SELECT * FROM unnest(%s::bigint[], %s::bytea[])), "
    # Never "id <= the last": a row with a smaller id may commit after this batch was read.
    "gone AS (DELETE FROM audit_pending WHERE id = ANY(%s)) "
    f"UPDATE audit_head SET seq = %s, hash = %s WHERE id = {HEAD_ID}"
)


def _write_small(
    connection: Connection,
    events: Sequence[EventValues],
    nodes: Sequence[NodeValues],
    ids: list[int],
) -> None:
    """The batch's events, tree nodes, pending rows' deletion and the head's move, in one
    statement (columns as arrays)."""
    columns = [list(column) for column in zip(*events, strict=True)]
    node_ids = [key for key, _ in nodes]
    node_hashes = [node for _, node in nodes]
    last = events[-1]
    connection.exec_driver_sql(
        _WRITE_SMALL, (*columns, node_ids, node_hashes, ids, last[0], last[12])
    )


def write_postgres(
    connection: Connection, events: Sequence[EventValues], nodes: Sequence[NodeValues]
) -> None:
    """COPY chained events and their tree nodes in, in the caller's transaction (several
    times cheaper than INSERTs of thousands of rows)."""
    raw: Any = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY audit_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
            write = copy.write_row
            for event in events:
                write(event)
        if nodes:
            with cursor.copy("COPY audit_tree_nodes (id, hash) FROM STDIN") as copy:
                write = copy.write_row
                for node in nodes:
                    write(node)


def chain(
    tree: merkle.Accumulator,
    head_seq: int,
    head_hash: str,
    rows: Sequence[Any],
    *,
    check: bool = True,
) -> tuple[list[EventValues], list[NodeValues]]:
    """The events and tree nodes pending rows (as `pending_query` reads them) become after
    event `head_seq` whose hash is `head_hash`; `tree` is carried on to the last of them.

    With `check` (always, but for a benchmark's synthetic rows) each row is first checked
    against its entry hash. Plain tuples and C calls: this is the sequencer's whole cost.
    """
    prev = head_hash
    seq = head_seq
    events: list[EventValues] = []
    nodes: list[NodeValues] = []
    add = tree.add_recording
    leaf_prefix = merkle.LEAF_PREFIX
    sha256 = hashlib.sha256
    fromhex = bytes.fromhex
    for row in rows:
        if check and not pending_row_ok(row):
            raise PendingTampered(
                f"pending audit event {row[0]} does not match its entry hash: it was changed "
                "after it was written; run `custody audit verify`"
            )
        seq += 1
        # The event's own fields, from `at` to `details`, as the chain hashes them.
        fields = row[1:11]
        digest = row_hash((seq, *fields, prev, None))
        events.append((seq, *fields, prev, digest, row[0]))
        for level, index, node in add(sha256(leaf_prefix + fromhex(digest)).digest()):
            nodes.append((level << LEVEL_SHIFT | index, node))
        prev = digest
    return events, nodes


def build_tree(session: Session, *, after: int = 0, until: int, page: int = 10_000) -> int:
    """Store the tree nodes for events after..until from their chain hashes (a migration's
    job for a log that was written before nodes were stored); how many nodes were stored."""
    tree = tree_at(session, after) if after else merkle.Accumulator()
    stored = 0
    low = after
    while low < until:
        high = min(until, low + page)
        hashes = session.connection().execute(
            select(AuditEvent.hash)
            .where(AuditEvent.seq > low, AuditEvent.seq <= high)
            .order_by(AuditEvent.seq)
        )
        nodes = [
            {"id": node_id(level, index), "hash": node}
            for digest in hashes.scalars()
            for level, index, node in tree.add_recording(merkle.leaf_hash(bytes.fromhex(digest)))
        ]
        if nodes:
            session.connection().execute(insert(AuditTreeNode), nodes)
            stored += len(nodes)
        low = high
    if tree.size != until:
        raise TreeBroken(f"the log has {tree.size} events, the head counts {until}")
    return stored


def seqs_of(open_session: OpenSession, entries: Sequence[AuditEntry]) -> list[int]:
    """The sequence numbers of committed events by their entries, in the same order
    (sequencing what is pending first); TreeBroken for an entry that is not chained."""
    sequence(open_session)
    wanted = [entry.id for entry in entries]
    found: dict[int, int] = {}
    with open_session() as session:
        for chunk in _chunks(sorted({key for key in wanted if key is not None})):
            query = select(AuditEvent.entry_id, AuditEvent.seq).where(
                AuditEvent.entry_id.in_(chunk)
            )
            for entry, seq in session.connection().execute(query):
                if entry is not None:
                    found[entry] = seq
    missing = [key for key in wanted if key is None or key not in found]
    if missing:
        raise TreeBroken(f"audit entry {missing[0]} was never chained")
    return [found[key] for key in wanted if key is not None]


class Background:
    """A daemon thread that sequences soon after commits (one run for a burst of them) and
    every `period` seconds whatever happens (events left by a node that died after commit).

    Server and worker processes run one each; the head lock (taken without waiting) keeps
    it to one sequencer at a time across all nodes. Runs in one process are at least
    `spacing` apart: a sequencing run is a transaction of its own, with its own commit
    (an fsync), so running once per audited commit would double the database's commits
    and halve what writers get through; a run every `spacing` seconds per node takes
    everything committed meanwhile in one batch.
    """

    def __init__(
        self,
        open_session: OpenSession,
        *,
        gather: float = 0.02,
        spacing: float = 0.5,
        period: float = 2.0,
    ) -> None:
        self.open_session = open_session
        self.gather = gather
        self.spacing = spacing
        self.period = period
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sequencer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        last = 0.0
        while not self._stopping.is_set():
            self._wake.wait(self.period)
            # Let a burst of commits gather into one batch (and keep runs `spacing` apart);
            # a shutdown still sequences, at once.
            pause = max(self.gather, last + self.spacing - time.monotonic())
            self._stopping.wait(pause)
            self._wake.clear()
            last = time.monotonic()
            try:
                sequence(self.open_session, wait=False)
            except Exception as exc:  # logged: the events stay pending, the next run retries
                log_failure(exc)


def log_failure(exc: Exception) -> None:
    # After a commit the business change stands and its events are safe as pending rows;
    # a failed sequencing is retried by the timer or the next read. Say so, loudly.
    log.warning("audit sequencing after commit failed (events stay pending): %s", exc)
