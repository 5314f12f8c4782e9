"""The audit log: append-only, each event chained to the one before by hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from custody.db.base import Base
from custody.db.types import UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # The auditor's search by person walks one person's events newest first.
    __table_args__ = (Index("ix_audit_events_actor_seq", "actor", "seq"),)

    # Sequence numbers are assigned under the head row's lock: no gaps, no forks.
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


class AuditHead(Base):
    """One row: the chain's last sequence number and hash. Locking it serialises appends."""

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
    # null while running; then true, or false with the first fault found.
    intact: Mapped[bool | None] = mapped_column(Boolean)
    fault: Mapped[str | None] = mapped_column(Text)
