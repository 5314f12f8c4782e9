"""Signed checkpoints: the size and Merkle root of the log, signed with the server's key.

A checkpoint commits the server to every event up to its size. Anyone who keeps a
copy can later prove that an event was in the log (an inclusion proof) and that
a later checkpoint extends it (a consistency proof); rewriting history would need
the server's private key, which the database does not hold.

The signed document is RFC 8785 canonical JSON of
`{"log": "custody-audit", "size": N, "root": "<hex>", "signed_at": "<ISO 8601 Z>"}`,
signed with Ed25519 (the same scheme as receipts, `custody.domain.signing`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from custody.audit import sequencer
from custody.audit.log import GENESIS, HEAD_ID, OpenSession, check_link, iter_rows
from custody.db.models import AuditCheckpoint, AuditEvent, AuditHead
from custody.domain import merkle, signing
from custody.domain.clock import isoformat
from custody.domain.errors import CustodyError, SignatureInvalid

LOG_ID = "custody-audit"


class ChainBroken(CustodyError):
    """The log does not verify, so the server refuses to sign a checkpoint over it."""

    code = "audit_chain_broken"


@dataclass(frozen=True)
class Checkpoint:
    id: int
    size: int
    root: str
    signed_at: datetime
    signature: str

    def document(self) -> dict[str, Any]:
        """The signed checkpoint as a third party receives it."""
        return {
            **checkpoint_document(self.size, self.root, self.signed_at),
            "signature": self.signature,
        }

    @classmethod
    def of(cls, row: AuditCheckpoint) -> Checkpoint:
        return cls(row.id, row.size, row.root, row.signed_at, row.signature)


def checkpoint_document(size: int, root: str, signed_at: datetime) -> dict[str, Any]:
    """What a checkpoint's signature covers."""
    return {"log": LOG_ID, "size": size, "root": root, "signed_at": isoformat(signed_at)}


def signature_ok(document: dict[str, Any], public_key: Ed25519PublicKey) -> bool:
    """True when a checkpoint document is signed by this key (and names this log)."""
    if document.get("log") != LOG_ID:
        return False
    try:
        signing.verify(document, public_key)
    except SignatureInvalid:
        return False
    return True


def all_checkpoints(open_session: OpenSession) -> list[Checkpoint]:
    """Every checkpoint, smallest first."""
    with open_session() as session:
        rows = session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.size, AuditCheckpoint.id)
        ).all()
        return [Checkpoint.of(row) for row in rows]


def latest(open_session: OpenSession) -> Checkpoint | None:
    """The checkpoint over the most events, if there is one."""
    with open_session() as session:
        row = session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
        ).first()
        return None if row is None else Checkpoint.of(row)


def find(open_session: OpenSession, checkpoint_id: int) -> Checkpoint | None:
    with open_session() as session:
        row = session.get(AuditCheckpoint, checkpoint_id)
        return None if row is None else Checkpoint.of(row)


def _frontier(row: AuditCheckpoint | None) -> merkle.Accumulator | None:
    """The tree as it stood at a checkpoint, if its saved frontier is intact."""
    if row is None or not row.frontier:
        return None
    try:
        nodes = [bytes.fromhex(node) for node in json.loads(row.frontier)]
        accumulator = merkle.Accumulator.resume(row.size, nodes)
    except (ValueError, TypeError):
        return None
    # The frontier is not signed; the root is. A frontier that does not fold to the
    # signed root is ignored and the tree recomputed from the first event.
    return accumulator if accumulator.root().hex() == row.root else None


def frontier_of(open_session: OpenSession, checkpoint_id: int) -> merkle.Accumulator | None:
    """The tree as it stood at a checkpoint, from its saved frontier (None if unusable)."""
    with open_session() as session:
        return _frontier(session.get(AuditCheckpoint, checkpoint_id))


def publish(open_session: OpenSession, key: Ed25519PrivateKey, now: datetime) -> Checkpoint | None:
    """Sign a checkpoint over every event so far; None when nothing was added since the last.

    Pending events are sequenced first, so the checkpoint commits to every event committed
    before it was asked for. Only the events since the last checkpoint are read (its
    frontier carries the tree on), and each is checked against the chain before it is
    signed over, and the stored tree's root against the root so computed: the server never
    signs a log, or hands out proofs from a tree, that does not verify. Two nodes
    publishing at once agree on the root; the unique size lets one insert win.
    """
    sequencer.sequence(open_session)
    with open_session() as session:
        head = session.get(AuditHead, HEAD_ID)
        if head is None:
            raise ChainBroken("the audit log has no head row")
        size = head.seq
        last = session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
        ).first()
        if size == 0 or (last is not None and last.size >= size):
            return None
        accumulator = _frontier(last)
        prev_hash = GENESIS
        if accumulator is not None and accumulator.size:
            found = session.scalar(
                select(AuditEvent.hash).where(AuditEvent.seq == accumulator.size)
            )
            if found is None:
                raise ChainBroken(f"event {accumulator.size} is missing")
            prev_hash = found
    if accumulator is None:
        accumulator = merkle.Accumulator()
    expected = accumulator.size + 1
    for row in iter_rows(open_session, after=accumulator.size, until=size):
        fault = check_link(row, expected, prev_hash)
        if fault is not None:
            raise ChainBroken(f"{fault.problem}: run `custody audit verify`")
        accumulator.add(merkle.leaf_hash(bytes.fromhex(row[-1])))
        prev_hash = row[-1]
        expected += 1
    if accumulator.size != size:
        raise ChainBroken(f"event {accumulator.size + 1} is missing: run `custody audit verify`")
    root = accumulator.root().hex()
    with open_session() as session:
        try:
            stored = sequencer.stored_root(session, size).hex()
        except sequencer.TreeBroken as exc:
            raise ChainBroken(str(exc)) from None
    if stored != root:
        raise ChainBroken(
            f"the stored Merkle tree over {size} events does not match the events: "
            "run `custody audit verify`"
        )
    signed = signing.sign(checkpoint_document(size, root, now), key)
    published = AuditCheckpoint(
        size=size,
        root=root,
        signed_at=now,
        signature=signed["signature"],
        frontier=json.dumps([node.hex() for node in accumulator.frontier]),
    )
    with open_session() as session:
        session.add(published)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return None
        return Checkpoint.of(published)
