"""The audit log: append-only, each event chained to the one before by hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # The auditor's search by person walks one person's events newest first.
    __table_args__ = (Index("ix_audit_events_actor_seq", "actor", "seq"),)

    # Sequence numbers are assigned by the sequencer under the head row's lock: no gaps,
    # no forks. Writers never take that lock: they add an `AuditPending` row instead.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Shaped source:subject:action, e.g. "dock:recording:upload".
    tag: Mapped[str] = mapped_column(String(120), index=True)
    actor: Mapped[str] = mapped_column(String(160))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80), index=True)
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The id the event had while pending (none for events chained before 0013), so that a
    # writer that must name its own events later (a bundle's export events) can find their
    # sequence numbers. Not hashed: it says which row a writer wrote, not what happened.
    entry_id: Mapped[int | None] = mapped_column(BigInteger, index=True)


class AuditPending(Base):
    """An event committed with its change but not yet sequenced into the chain.

    Writers insert these without any shared lock; the sequencer (`custody.audit.sequencer`)
    moves them, in `id` order, into `audit_events` with a sequence number, chain hash and
    Merkle tree nodes, and deletes them in the same transaction. `entry_hash` covers every
    field but the two the sequencer assigns (seq, prev_hash), so an edit of a row waiting
    here is caught by the sequencer (which refuses to chain it) and by `verify`.
    """

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    tag: Mapped[str] = mapped_column(String(120))
    actor: Mapped[str] = mapped_column(String(160))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80))
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text, default="{}")
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditTreeNode(Base):
    """A complete subtree of the RFC 6962 Merkle tree over the chain (levels 1 and up).

    `id` is `level << 48 | index`: the node over leaves [index * 2^level, (index + 1) *
    2^level). Leaves (level 0) are not stored: they are SHA-256(0x00 || event hash) of
    `audit_events`. Nodes of complete subtrees never change as the log grows, so any
    proof for any checkpoint is O(log n) lookups. Written by the sequencer with the events.
    """

    __tablename__ = "audit_tree_nodes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    """One row: the chain's last sequence number and hash. The sequencer locks it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed Merkle tree head over the first `size` events (RFC 6962 hashing)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One checkpoint per size: two server nodes publishing at once agree, and one insert wins.
    size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signature: Mapped[str] = mapped_column(String(120))
    # The roots of the perfect subtrees the tree is made of (JSON list of hex), so the next
    # checkpoint hashes only the events since this one. Checked against `root` before use.
    frontier: Mapped[str | None] = mapped_column(Text)


class AuditVerification(Base):
    """A check of the whole log someone asked for from the portal, run by a worker, with
    its progress, so that a page can show how far it has got and what it found."""

    __tablename__ = "audit_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(160))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    checkpoints: Mapped[int] = mapped_column(Integer, default=0)
    # What this check covered: a later incremental check starts after `size` (whose chain
    # hash was `head_hash`), with the tree carried on by the checkpoint it ended on.
    size: Mapped[int | None] = mapped_column(BigInteger)
    head_hash: Mapped[str | None] = mapped_column(String(64))
    checkpoint_id: Mapped[int | None] = mapped_column(Integer)
    # null while running; then true, or false with the first fault found.
    intact: Mapped[bool | None] = mapped_column(Boolean)
    fault: Mapped[str | None] = mapped_column(Text)
