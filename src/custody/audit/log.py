"""Appending to and reading the hash chain of audit events.

Each event stores the hash of the one before; the hash is SHA-256 over every
field of the event in RFC 8785 canonical JSON.

An append does not touch the chain: it adds an `AuditPending` row in the caller's
transaction (so the event is durable exactly when the change it records commits) and
takes no shared lock, so writers on many nodes never queue behind one another. The
sequencer (`custody.audit.sequencer`) then gives pending events, in order, their
sequence numbers, chain hashes and Merkle tree nodes under the head row's lock,
as transparency logs (Trillian, Rekor) do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

# The canonical JSON and hashes of events, which callers know from here.
from custody.audit.hashing import ENTRY_FIELDS as ENTRY_FIELDS
from custody.audit.hashing import HASHED_FIELDS as HASHED_FIELDS
from custody.audit.hashing import SAFE_INTEGER as SAFE_INTEGER
from custody.audit.hashing import EventRow as EventRow
from custody.audit.hashing import _entry_row_hash as _entry_row_hash
from custody.audit.hashing import canonical as canonical
from custody.audit.hashing import entry_hash as entry_hash
from custody.audit.hashing import event_hash as event_hash
from custody.audit.hashing import row_fields as row_fields
from custody.audit.hashing import row_hash as row_hash
from custody.db.models import AuditEvent, AuditPending
from custody.domain.actor import Actor
from custody.domain.clock import isoformat

GENESIS = "0" * 64
HEAD_ID = 1
# Reads walk the log in pages this big, each page in its own short transaction.
PAGE = 10_000

# Set on a session that added pending events, so its unit of work sequences after commit.
PENDING_FLAG = "custody.audit.pending"

_COLUMNS = [getattr(AuditEvent, name) for name in HASHED_FIELDS] + [AuditEvent.hash]


def hashed_fields(event: AuditEvent) -> dict[str, Any]:
    """The fields of a stored event that its hash covers, as they are hashed."""
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


_PENDING_COLUMNS = (
    [AuditPending.id] + [getattr(AuditPending, n) for n in ENTRY_FIELDS] + [AuditPending.entry_hash]
)

# The events a session has appended and not yet written, in order.
BUFFER = "custody.audit.buffer"


@dataclass(eq=False)
class AuditEntry:
    """An event a unit of work appended; `id` is its entry id once it is written (when the
    transaction commits, or before the transaction's next ORM statement)."""

    id: int | None = None


# Built once: an append is the hottest path there is. One statement for every event a
# transaction appended, the ids back in the order they were given.
_INSERT_PENDING = insert(AuditPending).returning(AuditPending.id, sort_by_parameter_order=True)


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
) -> AuditEntry:
    """Add an event to the log inside the caller's transaction (pending until sequenced);
    the entry by whose id its sequence number can be found once it is sequenced.

    No lock is taken and no statement sent: the events a transaction appends are written
    together, in one INSERT, just before it commits (or before its next ORM statement, so
    that it reads what it wrote). They are the caller's own until it commits; the
    sequencer runs after (and on a timer, and before any read that needs sequence
    numbers), so the event joins the chain within moments.
    """
    if actor.reason:
        # A stated reason is the event's reason; a refusal's own reason keeps its place.
        if reason is None:
            reason = actor.reason
        else:
            details = {**(details or {}), "stated_reason": actor.reason}
    fields: dict[str, Any] = {
        "at": at,
        "tag": tag,
        "actor": actor.name,
        "object_type": object_type,
        "object_id": object_id,
        "allowed": allowed,
        "reason": reason,
        "address": actor.address,
        "user_agent": (actor.user_agent or None) and actor.user_agent[:300],
        "details": json.dumps(details or {}, sort_keys=True, separators=(",", ":")),
    }
    fields["entry_hash"] = entry_hash({**fields, "at": isoformat(at)})
    entry = AuditEntry()
    if not session.in_transaction():
        # So that a rollback or close before anything else is sent drops the events too.
        session.begin()
    session.info.setdefault(BUFFER, []).append((fields, entry))
    session.info[PENDING_FLAG] = True
    return entry


_PENDING_NAMES = (*ENTRY_FIELDS, "entry_hash")
_PENDING_TYPES = dict(
    zip(_PENDING_NAMES, ("timestamptz", *["text"] * 4, "bool", *["text"] * 5), strict=True)
)
# PostgreSQL: one short statement whatever the number of events (each column an array), so
# that the driver parses and prepares it once, not a VALUES list as long as the events.
_INSERT_PENDING_ARRAYS = (
    f"INSERT INTO audit_pending ({', '.join(_PENDING_NAMES)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{_PENDING_TYPES[name]}[]" for name in _PENDING_NAMES)
    + ") RETURNING id"
)


def write_appended(session: Session) -> None:
    """Write the events the session appended and has not written yet, in one statement."""
    appended: list[tuple[dict[str, Any], AuditEntry]] | None = session.info.pop(BUFFER, None)
    if not appended:
        return
    # Core, not the ORM: one INSERT of many rows, no identity map (a hot path under load).
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        columns = tuple([fields[name] for fields, _ in appended] for name in _PENDING_NAMES)
        returned = connection.exec_driver_sql(_INSERT_PENDING_ARRAYS, columns).scalars().all()
        # The ids come from one sequence, drawn row by row in the order given, so in that
        # order they ascend (other writers' may fall between them).
        ids = sorted(returned)
    else:
        rows = [fields for fields, _ in appended]
        ids = list(connection.execute(_INSERT_PENDING, rows).scalars().all())
    for (_, entry), entry_id in zip(appended, ids, strict=True):
        entry.id = entry_id


def entry_ids(session: Session, entries: Sequence[AuditEntry]) -> list[int]:
    """The entry ids of events the session appended, writing them now if not yet written
    (for a writer that must record them before its transaction commits)."""
    write_appended(session)
    ids = [entry.id for entry in entries]
    if None in ids:
        raise ValueError("an audit entry of another transaction was never written")
    return [entry_id for entry_id in ids if entry_id is not None]


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_appended(session)


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    # A transaction reads what it appended (a viewing's check reads pending events).
    if BUFFER in state.session.info:
        write_appended(state.session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction(session: Session, transaction: SessionTransaction) -> None:
    # Events appended in a transaction that ended without committing (rolled back, or its
    # session closed) never happened; a committed one wrote them before it committed.
    if transaction.parent is None:
        session.info.pop(BUFFER, None)


def pending_row_ok(row: Sequence[Any]) -> bool:
    """Whether a row read by `iter_pending` still matches its entry hash."""
    try:
        return bool(_entry_row_hash(row) == row[-1])
    except (TypeError, ValueError):
        return False


OpenSession = Callable[[], AbstractContextManager[Session]]


def _pages(after: int, until: int, page: int) -> Iterator[tuple[int, int]]:
    # Pages are ranges of sequence numbers, not LIMITs: the chain has no gaps, so a range
    # holds at most `page` rows, and every database plans it as a short index range scan
    # (a LIMIT over "everything after X" can turn into a scan of the rest of the table).
    low = after
    while low < until:
        high = min(until, low + page)
        yield low, high
        low = high


_STREAM = (
    f"SELECT {', '.join(HASHED_FIELDS)}, hash FROM audit_events "
    "WHERE seq > %s AND seq <= %s ORDER BY seq"
)


def iter_rows(
    open_session: OpenSession,
    *,
    until: int,
    after: int = 0,
    page: int = PAGE,
) -> Iterator[EventRow]:
    """Every event with after < seq <= until, in order, as rows of HASHED_FIELDS + hash.

    On PostgreSQL the rows stream from one server-side cursor (one snapshot, no lock held:
    readers never block writers there). On SQLite each page is read in its own short
    transaction, so a walk over millions of events never holds its write lock for long.
    The log only grows, so pages read at different moments still make one consistent prefix.
    """
    with open_session() as session:
        streaming = session.get_bind().dialect.name == "postgresql"
    if streaming:
        with open_session() as session:
            connection = session.connection()
            # Times in UTC from the server, so that they need no conversion here; and the
            # driver's own named cursor, whose plain tuples cost a third of ORM-typed rows.
            connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
            raw: Any = connection.connection.dbapi_connection
            with raw.cursor(name="custody_audit_walk") as cursor:
                cursor.itersize = page
                cursor.execute(_STREAM, (after, until))
                while rows := cursor.fetchmany(page):
                    yield from rows
        return
    for low, high in _pages(after, until, page):
        query = (
            select(*_COLUMNS)
            .where(AuditEvent.seq > low, AuditEvent.seq <= high)
            .order_by(AuditEvent.seq)
        )
        with open_session() as session:
            # Core, not the ORM: plain rows, several times cheaper per row.
            rows = session.connection().execute(query).all()
        yield from rows  # outside the transaction: the caller's work holds no lock


def iter_hashes(open_session: OpenSession, *, until: int, page: int = PAGE) -> Iterator[str]:
    """The chain hashes of events 1..until in order: all a Merkle proof needs to read."""
    for low, high in _pages(0, until, page):
        query = (
            select(AuditEvent.hash)
            .where(AuditEvent.seq > low, AuditEvent.seq <= high)
            .order_by(AuditEvent.seq)
        )
        with open_session() as session:
            hashes = session.connection().execute(query).scalars().all()
        yield from hashes


def pending_query(limit: int | None = None) -> Any:
    """Pending events oldest first, as rows of id, ENTRY_FIELDS, entry_hash."""
    query = select(*_PENDING_COLUMNS).order_by(AuditPending.id)
    return query if limit is None else query.limit(limit)


@dataclass(frozen=True)
class ChainFault:
    seq: int
    problem: str


def check_link(row: EventRow, expected_seq: int, expected_prev: str) -> ChainFault | None:
    """What, if anything, is wrong with the event at the place `expected_seq` in the chain."""
    seq = row[0]
    if seq != expected_seq:
        return ChainFault(expected_seq, f"event {expected_seq} is missing (the next is {seq})")
    if row_hash(row) != row[-1]:
        return ChainFault(seq, f"event {seq}: its contents do not match its hash")
    if row[-2] != expected_prev:
        # Both events are whole in themselves, so one was rewritten with a fresh hash:
        # the earlier one is the first that may not be what was recorded.
        before = seq - 1
        return ChainFault(
            before,
            f"event {seq} does not link to event {before}: event {before} was changed and "
            f"re-hashed (or event {seq} was)",
        )
    return None


def verify_chain(session: Session, batch: int = PAGE) -> Iterator[ChainFault]:
    """Yield the first place the stored chain disagrees with itself or with its head."""
    from custody.audit.verify import verify_log

    report = verify_log(lambda: Borrowed(session), None, page=batch)
    for fault in report.faults[:1]:
        yield ChainFault(fault.seq or 0, fault.problem)


class Borrowed(AbstractContextManager[Session]):
    """A caller's session, used as a context manager without being closed by it."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, *_: object) -> None:
        return None
