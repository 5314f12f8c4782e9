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
- events reordered: each event's sequence number is inside its hash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from custody.audit.checkpoints import Checkpoint, all_checkpoints, signature_ok
from custody.audit.log import GENESIS, HEAD_ID, PAGE, OpenSession, check_link, iter_rows
from custody.db.models import AuditEvent, AuditHead
from custody.domain import merkle
from custody.domain.clock import isoformat

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Fault:
    """Something that does not fit; `seq` names the first event concerned, if any."""

    seq: int | None
    problem: str
    checkpoint_id: int | None = None


@dataclass(frozen=True)
class Report:
    events: int  # how many events were checked and found to fit
    checkpoints: int  # how many checkpoints were recomputed and found to fit
    faults: tuple[Fault, ...]

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
) -> Report:
    """Check the chain, the head and (given the server's public key) every checkpoint."""
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
    chain = _walk(open_session, head_seq, head_hash, signed, progress, page)
    return Report(chain.events, chain.checkpoints, (*chain.faults, *faults))


@dataclass
class _Walk:
    events: int = 0
    checkpoints: int = 0
    faults: tuple[Fault, ...] = ()


def _walk(
    open_session: OpenSession,
    head_seq: int,
    head_hash: str,
    checkpoints: list[Checkpoint],
    progress: Progress | None,
    page: int,
) -> _Walk:
    walk = _Walk()
    tree = merkle.Accumulator()
    expected_prev = GENESIS
    pending = iter(checkpoints)
    upcoming = next(pending, None)
    good_size = 0  # events covered by the last checkpoint that fitted
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
    for row in iter_rows(open_session, until=head_seq, page=page):
        fault = check_link(row, walk.events + 1, expected_prev)
        if fault is not None:
            walk.faults = (Fault(fault.seq, fault.problem),)
            return walk
        tree.add(merkle.leaf_hash(bytes.fromhex(row[-1])))
        expected_prev = row[-1]
        walk.events += 1
        while upcoming is not None and upcoming.size == tree.size:
            if tree.root().hex() != upcoming.root:
                first = good_size + 1
                problem = (
                    f"events {first} to {upcoming.size} do not match {_when(upcoming)}: "
                    f"event {first} or one after it was changed and the chain re-hashed"
                )
                walk.faults = (Fault(first, problem, upcoming.id),)
                return walk
            good_size = upcoming.size
            walk.checkpoints += 1
            upcoming = next(pending, None)
        if progress is not None and (walk.events % page == 0 or walk.events == head_seq):
            progress(walk.events, head_seq)
    last = walk.events
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


def _behind_head(open_session: OpenSession) -> int | None:
    """The first event past the chain head, if any row sits there."""
    with open_session() as session:
        # The highest seq first, then the head: an append commits both at once, so a head
        # read after the maximum is at least as far on, unless a row was put there by hand.
        top = session.scalar(select(func.max(AuditEvent.seq)))
        head = session.get(AuditHead, HEAD_ID)
        head_seq = head.seq if head is not None else 0
    if top is not None and top > head_seq:
        return head_seq + 1
    return None
