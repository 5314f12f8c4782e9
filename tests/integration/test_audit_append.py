"""A transaction's audit events are written together, once, just before it commits: one
statement however many it records, none if it does not commit, and the transaction reads
what it wrote (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select

from custody.db.models import AuditEvent, AuditPending
from custody.domain.actor import Actor
from custody.services.system import System

ALICE = Actor("user:alice", "10.0.0.7", "Firefox")


@contextmanager
def pending_inserts(system: System) -> Iterator[list[str]]:
    """The statements that write pending events while the block runs."""
    seen: list[str] = []

    def watch(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_PENDING"):
            seen.append(statement)

    event.listen(system.engine, "before_cursor_execute", watch)
    try:
        yield seen
    finally:
        event.remove(system.engine, "before_cursor_execute", watch)


def chained(system: System) -> list[str | None]:
    system.sequence_audit()
    with system.sessions() as session:
        return list(session.scalars(select(AuditEvent.object_id).order_by(AuditEvent.seq)))


def test_twenty_events_of_one_transaction_are_one_statement_in_order(system: System) -> None:
    with pending_inserts(system) as seen, system.unit_of_work() as uow:
        entries = [
            uow.audit("user:recording:export", ALICE, object_type="recording", object_id=f"r{n}")
            for n in range(20)
        ]
        assert seen == [], "nothing is sent before the transaction needs it"
        uow.commit()
    if system.engine.dialect.name == "postgresql":
        assert len(seen) == 1  # one round trip (SQLite, in process, takes them one by one)
    ids = [entry.id for entry in entries if entry.id is not None]
    assert len(ids) == 20 and ids == sorted(ids)
    assert chained(system) == [f"r{n}" for n in range(20)]
    assert system.seqs_of(entries) == list(range(1, 21))


def test_events_of_a_transaction_that_does_not_commit_never_happened(system: System) -> None:
    with system.unit_of_work() as uow:
        uow.audit("user:recording:view", ALICE, object_id="rolled-back")
        uow.rollback()
        uow.audit("user:recording:view", ALICE, object_id="kept")
        uow.commit()
    with system.unit_of_work() as uow:
        uow.audit("user:recording:view", ALICE, object_id="left-open")
    # The same session, closed without committing, then used again: nothing carried over.
    with system.unit_of_work() as uow:
        uow.audit("user:recording:view", ALICE, object_id="closed")
        uow.session.close()
        uow.session.commit()
    assert chained(system) == ["kept"]


def test_a_transaction_reads_the_events_it_wrote(system: System) -> None:
    with system.unit_of_work() as uow:
        uow.audit("user:recording:view", ALICE, object_type="recording", object_id="r1")
        mine = uow.session.scalar(
            select(func.count()).select_from(AuditPending).where(AuditPending.object_id == "r1")
        )
        assert mine == 1
        uow.commit()
    assert chained(system) == ["r1"]
