"""Appending to and verifying the hash chain of audit events.

Each event stores the hash of the one before; the hash covers every field of the
event in RFC 8785 canonical JSON. Appends lock the single head row, so concurrent
writers on PostgreSQL queue up behind each other instead of forking the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from custody.db.models import AuditEvent, AuditHead
from custody.domain.clock import isoformat

GENESIS = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True)
class Actor:
    """Who did it and from where: a user, a dock, or the system itself."""

    name: str
    address: str | None = None
    user_agent: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls("system")


def event_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(rfc8785.dumps(fields)).hexdigest()


def _hashed_fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": isoformat(event.at),
        "tag": event.tag,
        "actor": event.actor,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "allowed": event.allowed,
        "reason": event.reason,
        "address": event.address,
        "user_agent": event.user_agent,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }


def append(
    session: Session,
    *,
    at: datetime,
    tag: str,
    actor: Actor,
    object_type: str | None = None,
    object_id: str | None = None,
    allowed: bool = True,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event to the chain inside the caller's transaction."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one()
    event = AuditEvent(
        seq=head.seq + 1,
        at=at,
        tag=tag,
        actor=actor.name,
        object_type=object_type,
        object_id=object_id,
        allowed=allowed,
        reason=reason,
        address=actor.address,
        user_agent=(actor.user_agent or None) and actor.user_agent[:300],
        details=json.dumps(details or {}, sort_keys=True, separators=(",", ":")),
        prev_hash=head.hash,
    )
    event.hash = event_hash(_hashed_fields(event))
    session.add(event)
    head.seq = event.seq
    head.hash = event.hash
    session.flush()
    return event


@dataclass(frozen=True)
class ChainFault:
    seq: int
    problem: str


def verify_chain(session: Session, batch: int = 10_000) -> Iterator[ChainFault]:
    """Yield every place the stored chain disagrees with itself or with its head."""
    expected_prev = GENESIS
    expected_seq = 1
    last = 0
    stmt = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    for event in session.execute(stmt).scalars():
        if event.seq != expected_seq:
            yield ChainFault(expected_seq, f"event {expected_seq} is missing (next is {event.seq})")
            return
        if event.prev_hash != expected_prev:
            yield ChainFault(event.seq, "does not link to the event before it")
            return
        if event_hash(_hashed_fields(event)) != event.hash:
            yield ChainFault(event.seq, "its contents do not match its hash")
            return
        expected_prev = event.hash
        expected_seq += 1
        last = event.seq
    head = session.get(AuditHead, HEAD_ID)
    if head is None or head.seq != last or head.hash != expected_prev:
        yield ChainFault(last + 1, "the log was truncated: events after the last one are missing")
