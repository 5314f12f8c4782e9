"""`custody audit verify`: recompute every event's hash and every checkpoint's root.

One pass over the log in `seq` order, holding only the Merkle frontier (a few dozen
hashes) whatever the log's size. Verification stops at the first event that does
not fit, because everything after a break is noise; the report names it.

What each kind of tampering looks like:

- an event edited in place: its contents no longer match its hash;
- an event edited and re-hashed: the next event no longer links to it;
- the whole chain re-hashed after an edit: it no longer matches the signed checkpoint
  over it (named by the range of events the checkpoint covers since the last good one);
- an event deleted: a gap in the sequence; the last event deleted: the head, or a
  checkpoint, counts more events than there are;
- an event inserted: a gap-free insert needs renumbering, which breaks the links; one
  added after the end is behind the chain head;
- events reordered: each event's sequence number is inside its hash;
- a pending event (committed, not yet sequenced) edited: it no longer matches its entry
  hash (the sequencer refuses to chain it, and verify names it);
- a stored tree node edited: the stored tree's root no longer matches the events' (and no
  proof is handed out from it: each is checked against its signed checkpoint first).

Speed: rows stream in one server-side cursor on PostgreSQL (pages of short transactions
on SQLite, whose readers must not hold its write lock); each page's hashes and links are
checked as whole lists, and each aligned page of 2^14 leaves is hashed level by level into
one complete subtree, so the Python work per event is a few C calls; on PostgreSQL, whole
blocks are checked by checker processes, one per core (`custody.audit.blocks.Checkers`,
fresh interpreters that import only what a block needs), and any block a checker did not
find whole is checked again here to name the fault. An incremental verify
starts where the last intact one ended (at a signed checkpoint, the tree carried on by its
frontier) and reads only what is new.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, func, select

from custody.audit import blocks, sequencer
from custody.audit.blocks import BLOCK, BLOCK_LEVEL, Summary, block_levels
from custody.audit.checkpoints import Checkpoint, all_checkpoints, frontier_of, signature_ok
from custody.audit.log import (
    GENESIS,
    HEAD_ID,
    PAGE,
    EventRow,
    OpenSession,
    check_link,
    iter_rows,
    pending_query,
    pending_row_ok,
    row_hash,
)
from custody.db.models import AuditEvent, AuditHead, AuditTreeNode
from custody.domain import merkle
from custody.domain.clock import isoformat

Progress = Callable[[int, int], None]
# Aligned blocks are checked by worker processes (on PostgreSQL) when there are at least
# this many to check: below it, starting the workers costs more than they save.
PARALLEL_FROM = 8
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class Fault:
    """Something that does not fit; `seq` names the first event concerned, if any."""

    seq: int | None
    problem: str
    checkpoint_id: int | None = None


@dataclass(frozen=True)
class Since:
    """Where an incremental verify starts: a checkpoint an earlier verify found intact, and
    the chain hash of its last event then."""

    checkpoint_id: int
    head_hash: str


@dataclass(frozen=True)
class Report:
    events: int  # how many events were checked and found to fit
    checkpoints: int  # how many checkpoints were recomputed and found to fit
    faults: tuple[Fault, ...]
    # Where the check ended, for the next incremental one: the last checkpoint that fitted
    # and the chain hash of its last event; and the events trusted from an earlier check.
    last_checkpoint: Checkpoint | None = None
    last_checkpoint_hash: str | None = None
    skipped: int = 0
    # CPU seconds worker processes spent checking blocks (not counted in this process's).
    worker_cpu: float = 0.0

    @property
    def intact(self) -> bool:
        return not self.faults

    @property
    def first(self) -> Fault | None:
        return self.faults[0] if self.faults else None


def _when(checkpoint: Checkpoint) -> str:
    signed = isoformat(checkpoint.signed_at)
    return f"checkpoint {checkpoint.id} (size {checkpoint.size}, signed {signed})"


def verify_log(
    open_session: OpenSession,
    public_key: Ed25519PublicKey | None,
    *,
    progress: Progress | None = None,
    page: int = PAGE,
    since: Since | None = None,
    workers: int | None = None,
) -> Report:
    """Check the chain, the head, the stored tree, the pending events and (given the
    server's public key) every checkpoint; from `since` only what is new after it."""
    # Checkpoints before the head: any checkpoint read here was published when the head
    # was at least its size, so a checkpoint larger than the head means events were cut.
    checkpoints = all_checkpoints(open_session) if public_key is not None else []
    with open_session() as session:
        head = session.get(AuditHead, HEAD_ID)
        head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    faults: list[Fault] = []
    signed: list[Checkpoint] = []
    for checkpoint in checkpoints:
        if public_key is not None and signature_ok(checkpoint.document(), public_key):
            signed.append(checkpoint)
        else:
            faults.append(
                Fault(
                    None, f"{_when(checkpoint)} is not signed by this server's key", checkpoint.id
                )
            )
    start = _start(open_session, signed, since)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4)
    chain = _walk(open_session, start, head_seq, head_hash, signed, progress, page, workers)
    if not chain.faults:
        chain.faults = _tree_faults(open_session, head_seq, chain.root)
    return Report(
        chain.events,
        chain.checkpoints,
        (*chain.faults, *faults, *_pending_faults(open_session)),
        chain.last_checkpoint,
        chain.last_checkpoint_hash,
        start.size,
        chain.worker_cpu,
    )


@dataclass
class _Start:
    size: int = 0
    tree: merkle.Accumulator = field(default_factory=merkle.Accumulator)
    prev: str = GENESIS
    checkpoint: Checkpoint | None = None


def _start(open_session: OpenSession, signed: list[Checkpoint], since: Since | None) -> _Start:
    """Where to begin: the first event, or after a checkpoint an earlier check found whole
    (when its signed root, its frontier and its last event's hash still agree)."""
    if since is None:
        return _Start()
    checkpoint = next((c for c in signed if c.id == since.checkpoint_id), None)
    if checkpoint is None or checkpoint.size == 0:
        return _Start()
    tree = frontier_of(open_session, checkpoint.id)
    with open_session() as session:
        last = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == checkpoint.size))
    if tree is None or last != since.head_hash:
        return _Start()  # anything amiss there: check everything
    return _Start(checkpoint.size, tree, last, checkpoint)


@dataclass
class _Walk:
    events: int = 0
    checkpoints: int = 0
    faults: tuple[Fault, ...] = ()
    root: bytes = merkle.EMPTY_ROOT
    last_checkpoint: Checkpoint | None = None
    last_checkpoint_hash: str | None = None
    worker_cpu: float = 0.0


def _pages(
    open_session: OpenSession, after: int, until: int, page: int
) -> Iterator[list[EventRow]]:
    """The rows in lists that end on multiples of BLOCK where they can (aligned blocks are
    hashed whole)."""
    rows = iter_rows(open_session, after=after, until=until, page=page)
    size = BLOCK - after % BLOCK
    while True:
        chunk = list(islice(rows, size))
        if not chunk:
            return
        yield chunk
        size = BLOCK


# Nodes computed from the events, by level: (index of the first, their hashes in order).
_Made = dict[int, tuple[int, list[bytes]]]


def _gather(made: _Made, nodes: list[tuple[int, int, bytes]]) -> None:
    for level, index, node in nodes:
        _, hashes = made.setdefault(level, (index, []))
        hashes.append(node)


def _node_fault(open_session: OpenSession, made: _Made) -> Fault | None:
    """The first stored tree node that differs from the one computed from the events
    (each level's nodes are one index range: one short range scan per level)."""
    shift = sequencer.LEVEL_SHIFT
    with open_session() as session:
        for level in sorted(made):
            first, hashes = made[level]
            low = sequencer.node_id(level, first)
            stored = (
                session.connection()
                .execute(
                    select(AuditTreeNode.id, AuditTreeNode.hash)
                    .where(AuditTreeNode.id >= low, AuditTreeNode.id < low + len(hashes))
                    .order_by(AuditTreeNode.id)
                )
                .all()
            )
            if [bytes(row[1]) for row in stored] == hashes:
                continue
            found = {row[0] - low: bytes(row[1]) for row in stored}
            for offset, node in enumerate(hashes):
                if found.get(offset) != node:
                    index = (low + offset) & ((1 << shift) - 1)
                    span = 1 << level
                    return Fault(
                        index * span + 1,
                        f"the stored Merkle tree node over events {index * span + 1} to "
                        f"{(index + 1) * span} does not match them: it was changed or removed "
                        "(no proof is given through it)",
                    )
    return None


def _walk(
    open_session: OpenSession,
    start: _Start,
    head_seq: int,
    head_hash: str,
    checkpoints: list[Checkpoint],
    progress: Progress | None,
    page: int,
    workers: int,
) -> _Walk:
    walk = _Walk(last_checkpoint=start.checkpoint, last_checkpoint_hash=start.prev)
    tree = start.tree
    expected_prev = start.prev
    pending = iter([c for c in checkpoints if c.size > start.size])
    walk.checkpoints = sum(1 for c in checkpoints if c.size <= start.size)
    upcoming = next(pending, None)
    good_size = start.size  # events covered by the last checkpoint that fitted
    position = start.size
    while upcoming is not None and upcoming.size == 0:
        # Nothing to walk for a checkpoint over no events: its root is the empty tree's.
        if upcoming.root != merkle.EMPTY_ROOT.hex():
            walk.faults = (
                Fault(
                    None,
                    f"{_when(upcoming)} has a root for an empty log that is not the empty tree's",
                    upcoming.id,
                ),
            )
            return walk
        walk.checkpoints += 1
        upcoming = next(pending, None)
    # Whole blocks with a checkpoint inside are checked here, the checkpoint in its place.
    inside = {c.size - c.size % BLOCK for c in checkpoints if c.size % BLOCK}
    for piece in _pieces(open_session, start.size, head_seq, page, inside, workers):
        made: _Made = {}
        if isinstance(piece, Summary):
            walk.worker_cpu += piece.cpu
        if (
            isinstance(piece, Summary)
            and piece.whole
            and piece.low == position
            and piece.first_prev == expected_prev
        ):
            # A worker found the block whole: join it to the chain and the tree.
            _gather(made, tree.add_subtree(piece.root, BLOCK_LEVEL))
            expected_prev = piece.last_hash
            position += BLOCK
        else:
            rows = piece if isinstance(piece, list) else _block_rows(open_session, piece, head_seq)
            if not rows:
                break  # nothing where a block should be: named after the walk
            position, expected_prev, upcoming, good_size = _check_rows(
                walk,
                rows,
                made,
                tree,
                position,
                start.size,
                expected_prev,
                upcoming,
                pending,
                good_size,
            )
            if walk.faults:
                return walk
        walk.events = position - start.size
        while upcoming is not None and upcoming.size == tree.size:
            upcoming, good_size = _check(walk, tree, upcoming, pending, good_size)
            if walk.faults:
                return walk
            walk.last_checkpoint_hash = expected_prev
        # The stored nodes after the events and the signed roots: a rewritten chain is
        # named by the checkpoint it no longer matches, not by the nodes it left behind.
        if made:
            node_fault = _node_fault(open_session, made)
            if node_fault is not None:
                walk.faults = (node_fault,)
                return walk
        if progress is not None:
            progress(position, head_seq)
    walk.root = tree.root()
    last = position
    if last < head_seq:
        walk.faults = (
            Fault(
                last + 1,
                f"event {last + 1} is missing: the chain head counts "
                f"{head_seq} events, the log ends at {last}",
            ),
        )
    elif expected_prev != head_hash:
        walk.faults = (Fault(last, f"event {last} does not match the chain head"),)
    elif upcoming is not None:
        walk.faults = (
            Fault(
                last + 1,
                f"event {last + 1} is missing: {_when(upcoming)} "
                f"covers {upcoming.size} events, the log ends at {last}",
                upcoming.id,
            ),
        )
    else:
        extra = _behind_head(open_session)
        if extra is not None:
            walk.faults = (
                Fault(
                    extra,
                    f"event {extra} is not part of the chain: it was added "
                    "behind the chain head (inserted directly)",
                ),
            )
    return walk


def _check_rows(
    walk: _Walk,
    rows: list[EventRow],
    made: _Made,
    tree: merkle.Accumulator,
    position: int,
    start_size: int,
    expected_prev: str,
    upcoming: Checkpoint | None,
    pending: Iterator[Checkpoint],
    good_size: int,
) -> tuple[int, str, Checkpoint | None, int]:
    """Check a page of rows after event `position` and add them to the tree (checking any
    checkpoint that falls inside the page); the position, last hash, next checkpoint and
    the size of the last checkpoint that fitted after it. A fault is left in `walk`."""
    count = len(rows)
    hashes = [row[-1] for row in rows]
    whole = (
        rows[0][0] == position + 1
        and rows[-1][0] == position + count
        and [row_hash(row) for row in rows] == hashes
        and [row[-2] for row in rows] == [expected_prev, *hashes[:-1]]
    )
    if not whole:
        # Somewhere in this page something does not fit: find and name it, row by row.
        for offset, row in enumerate(rows):
            fault = check_link(row, position + offset + 1, expected_prev)
            if fault is not None:
                walk.events = position + offset - start_size
                walk.faults = (Fault(fault.seq, fault.problem),)
                return position, expected_prev, upcoming, good_size
            expected_prev = row[-1]
        # Every row fits but some are missing at the end: named after the walk.
    leaf_prefix = merkle.LEAF_PREFIX
    leaves = [_sha256(leaf_prefix + bytes.fromhex(digest)).digest() for digest in hashes]
    end = position + count
    aligned = count == BLOCK and position % BLOCK == 0 and whole
    if aligned and (upcoming is None or upcoming.size >= end):
        levels = block_levels(leaves)
        for height, hashes_at in enumerate(levels, start=1):
            made[height] = (position >> height, hashes_at)
        _gather(made, tree.add_subtree(levels[-1][0], BLOCK_LEVEL))
    else:
        for leaf in leaves:
            _gather(made, tree.add_recording(leaf))
            if upcoming is not None and upcoming.size == tree.size and tree.size < end:
                upcoming, good_size = _check(walk, tree, upcoming, pending, good_size)
                if walk.faults:
                    return position, expected_prev, upcoming, good_size
                walk.last_checkpoint_hash = hashes[tree.size - position - 1]
    return end, hashes[-1], upcoming, good_size


def _pieces(
    open_session: OpenSession,
    after: int,
    until: int,
    page: int,
    inside: set[int],
    workers: int,
) -> Iterator[list[EventRow] | Summary]:
    """The events after..until as pages of rows, or, for the whole aligned blocks among them
    (but those in `inside`) on PostgreSQL, as the summaries worker processes made of them."""
    first = -(-after // BLOCK) * BLOCK
    lows = [low for low in range(first, until - BLOCK + 1, BLOCK) if low not in inside]
    dsn = _worker_dsn(open_session) if workers > 1 and len(lows) >= PARALLEL_FROM else None
    if dsn is None:
        yield from _pages(open_session, after, until, page)
        return
    with (
        blocks.Checkers(dsn, workers) as checkers,
        closing(checkers.summaries(lows)) as summaries,
    ):
        position = after
        for low, summary in zip(lows, summaries, strict=True):
            if position < low:
                yield from _pages(open_session, position, low, page)
            yield summary
            position = low + BLOCK
        if position < until:
            yield from _pages(open_session, position, until, page)


def _worker_dsn(open_session: OpenSession) -> dict[str, Any] | None:
    """How a worker connects to the log's PostgreSQL database, as the engine does (None
    for another database)."""
    with open_session() as session:
        bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name != "postgresql":
        return None
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    # Connection parameters only (not the dialect's adapters, which a worker has no use for).
    return {key: value for key, value in kwargs.items() if isinstance(value, str | int)}


def _block_rows(open_session: OpenSession, summary: Summary, head_seq: int) -> list[EventRow]:
    """A block a worker did not find whole, read again here to name what is wrong."""
    return list(
        iter_rows(open_session, after=summary.low, until=min(summary.low + BLOCK, head_seq))
    )


def _check(
    walk: _Walk,
    tree: merkle.Accumulator,
    upcoming: Checkpoint,
    pending: Iterator[Checkpoint],
    good_size: int,
) -> tuple[Checkpoint | None, int]:
    """Compare the tree with the checkpoint over its size; the next checkpoint to meet."""
    if tree.root().hex() != upcoming.root:
        first = good_size + 1
        problem = (
            f"events {first} to {upcoming.size} do not match {_when(upcoming)}: "
            f"event {first} or one after it was changed and the chain re-hashed"
        )
        walk.faults = (Fault(first, problem, upcoming.id),)
        return upcoming, good_size
    walk.checkpoints += 1
    walk.last_checkpoint = upcoming
    return next(pending, None), upcoming.size


def _tree_faults(open_session: OpenSession, head_seq: int, root: bytes) -> tuple[Fault, ...]:
    """Whether the stored tree (which proofs are read from) folds to the events' root."""
    if head_seq == 0:
        return ()
    with open_session() as session:
        try:
            stored = sequencer.stored_root(session, head_seq)
        except sequencer.TreeBroken as exc:
            return (Fault(None, exc.message),)
    if stored != root:
        return (
            Fault(
                None,
                f"the stored Merkle tree over {head_seq} events does not match the events: "
                "a tree node was changed (proofs from it are refused)",
            ),
        )
    return ()


def _pending_faults(open_session: OpenSession) -> tuple[Fault, ...]:
    """Pending events (committed, not yet sequenced) that no longer match their entry hash."""
    with open_session() as session:
        rows: Sequence[EventRow] = session.connection().execute(pending_query()).all()
    for row in rows:
        if not pending_row_ok(row):
            return (
                Fault(
                    None,
                    f"pending event {row[0]} (not yet sequenced) does not match its entry "
                    "hash: it was changed after it was written",
                ),
            )
    return ()


def _behind_head(open_session: OpenSession) -> int | None:
    """The first event past the chain head, if any row sits there."""
    with open_session() as session:
        # The highest seq first, then the head: the sequencer commits both at once, so a
        # head read after the maximum is at least as far on, unless a row was put there.
        top = session.scalar(select(func.max(AuditEvent.seq)))
        head = session.get(AuditHead, HEAD_ID)
        head_seq = head.seq if head is not None else 0
    if top is not None and top > head_seq:
        return head_seq + 1
    return None
