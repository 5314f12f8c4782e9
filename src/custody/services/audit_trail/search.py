"""The auditor's tools: search the whole log (who did what, to which recording, when),
export what was found, and verify the log from the portal with its progress shown.

Searching is itself audited. Events that read only to those who see complaints stay
behind the same door as in a recording's trail (`services.access.shows_event`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update

from custody.audit.log import hashed_fields
from custody.db.models import AuditEvent, AuditHead, AuditVerification
from custody.domain.access import SystemAction, Viewer
from custody.domain.actor import Actor
from custody.domain.audit_words import describe, who
from custody.domain.clock import isoformat
from custody.domain.errors import InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.services import access
from custody.services.audit_trail.answers import FoundEvent, FoundEvents, VerificationView
from custody.services.audit_trail.trail import record_result, verify
from custody.services.system import System, UnitOfWork

MAX_PAGE = 200
# A CSV export is bounded: a force-wide export of millions of events is not a page's job.
MAX_EXPORT = 50_000
EXPORT_BATCH = 1000
# A worker writes its progress this often (events), not on every event.
PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class Query:
    """What the auditor asks for; every part optional, all combined."""

    person: str | None = None  # a username, or a whole actor ("dock:Hackney-1", "system")
    recording_id: str | None = None
    action: str | None = None  # a whole tag, or its last part ("stream", "view")
    since: datetime | None = None
    until: datetime | None = None
    refused_only: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.person:
            person = self.person.strip()
            actor = person if ":" in person or person == "system" else f"user:{person}"
            found.append(AuditEvent.actor == actor[:160])
        if self.recording_id:
            found.append(AuditEvent.object_type == "recording")
            found.append(AuditEvent.object_id == self.recording_id.strip()[:80])
        if self.action:
            action = self.action.strip()[:120]
            found.append(
                AuditEvent.tag == action if ":" in action else AuditEvent.tag.endswith(f":{action}")
            )
        if self.since is not None:
            found.append(AuditEvent.at >= self.since)
        if self.until is not None:
            found.append(AuditEvent.at < self.until)
        if self.refused_only:
            found.append(AuditEvent.allowed.is_(False))
        if self.since and self.until and self.until <= self.since:
            raise InvalidInput("until must be after since")
        return found

    def described(self) -> dict[str, object]:
        return {
            "person": self.person,
            "recording": self.recording_id,
            "action": self.action,
            "since": isoformat(self.since) if self.since else None,
            "until": isoformat(self.until) if self.until else None,
            "refused_only": self.refused_only,
        }


def _found(row: AuditEvent) -> FoundEvent:
    fields = hashed_fields(row)
    return FoundEvent.model_validate(
        {**fields, "hash": row.hash, "what": describe(row.tag, row.allowed), "who": who(row.actor)}
    )


def _reader(uow: UnitOfWork, principal: Principal, actor: Actor, tag: str) -> Viewer:
    return access.require(uow, principal, SystemAction.READ_AUDIT, actor, tag, "audit", "log")


def search_events(
    system: System,
    principal: Principal,
    actor: Actor,
    query: Query,
    *,
    before: int | None = None,
    limit: int = 50,
) -> FoundEvents:
    """One page of events that match, newest first (keyset paging on the sequence number,
    so a page costs the same deep in a log of millions)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
    conditions = query.conditions()
    tag = "user:audit:search"
    # Searches read sequence numbers (and page on them): sequence what is pending first, so
    # that every event committed before the search is found.
    system.sequence_audit()
    with system.unit_of_work() as uow:
        viewer = _reader(uow, principal, actor, tag)
        statement = select(AuditEvent).where(*conditions).order_by(AuditEvent.seq.desc())
        if before is not None:
            statement = statement.where(AuditEvent.seq < before)
        rows = list(uow.session.scalars(statement.limit(limit + 1)))
        more = len(rows) > limit
        shown = [_found(r) for r in rows[:limit] if access.shows_event(viewer, r.details)]
        uow.audit(
            tag,
            actor,
            object_type="audit",
            object_id="log",
            details=query.described() | {"found": len(shown)},
        )
        uow.commit()
    return FoundEvents(items=shown, limit=limit, next_before=rows[limit - 1].seq if more else None)


CSV_COLUMNS = (
    "seq", "at", "who", "what", "tag", "actor", "object_type", "object_id", "allowed",
    "reason", "address", "user_agent", "details", "hash",
)  # fmt: skip


def export_events(
    system: System, principal: Principal, actor: Actor, query: Query
) -> Iterator[str]:
    """The events that match as CSV, newest first, streamed in batches (at most
    `MAX_EXPORT`); the export is audited before the first row leaves."""
    conditions = query.conditions()
    tag = "user:audit:export"
    with system.unit_of_work() as uow:
        viewer = _reader(uow, principal, actor, tag)
        uow.audit(tag, actor, object_type="audit", object_id="log", details=query.described())
        uow.commit()
    system.sequence_audit()  # every event committed so far, the export's own included
    return _rows(system, viewer, conditions)


def _rows(system: System, viewer: Viewer, conditions: list[ColumnElement[bool]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    sent, before = 0, None
    while sent < MAX_EXPORT:
        with system.sessions() as session:
            statement = select(AuditEvent).where(*conditions).order_by(AuditEvent.seq.desc())
            if before is not None:
                statement = statement.where(AuditEvent.seq < before)
            rows = list(session.scalars(statement.limit(min(EXPORT_BATCH, MAX_EXPORT - sent))))
        if not rows:
            return
        for row in rows:
            if access.shows_event(viewer, row.details):
                found = _found(row).model_dump()
                writer.writerow([found[c] for c in CSV_COLUMNS])
        sent += len(rows)
        before = rows[-1].seq
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# --- verification from the portal --------------------------------------------------------


def _verification(row: AuditVerification) -> VerificationView:
    return VerificationView(
        id=row.id,
        requested_by=row.requested_by,
        requested_at=isoformat(row.requested_at),
        started_at=isoformat(row.started_at) if row.started_at else None,
        finished_at=isoformat(row.finished_at) if row.finished_at else None,
        checked=row.checked,
        total=row.total,
        checkpoints=row.checkpoints,
        intact=row.intact,
        fault=row.fault,
    )


def request_verification(system: System, principal: Principal, actor: Actor) -> VerificationView:
    """Ask a worker to verify the whole log now; its progress is kept as it goes."""
    tag = "user:audit:verify"
    system.sequence_audit()
    with system.unit_of_work() as uow:
        access.require(uow, principal, SystemAction.VERIFY_AUDIT, actor, tag, "audit", "log")
        head = uow.session.get(AuditHead, 1)
        row = AuditVerification(
            requested_by=actor.name,
            requested_at=uow.now(),
            checked=0,
            total=head.seq if head is not None else 0,
            checkpoints=0,
        )
        uow.session.add(row)
        uow.session.flush()
        uow.audit(tag, actor, object_type="audit", object_id=f"verification:{row.id}")
        verification_id = row.id
        uow.after_commit(lambda: system.jobs.verify_audit(verification_id))
        view = _verification(row)
        uow.commit()
    return view


def verifications(
    system: System, principal: Principal, actor: Actor, *, limit: int = 10
) -> list[VerificationView]:
    with system.unit_of_work() as uow:
        access.require(uow, principal, SystemAction.VERIFY_AUDIT, actor)
        rows = uow.session.scalars(
            select(AuditVerification).order_by(AuditVerification.id.desc()).limit(limit)
        )
        return [_verification(r) for r in rows]


def get_verification(
    system: System, principal: Principal, verification_id: int, actor: Actor
) -> VerificationView:
    with system.unit_of_work() as uow:
        access.require(uow, principal, SystemAction.VERIFY_AUDIT, actor)
        row = uow.session.get(AuditVerification, verification_id)
        if row is None:
            raise NotFound(f"no verification {verification_id}")
        return _verification(row)


def run_verification(system: System, verification_id: int) -> None:
    """The worker's side: verify the log, writing progress as it goes (claimed once: a
    second worker given the same job finds it started and leaves it)."""
    with system.unit_of_work() as uow:
        claimed = uow.session.execute(
            update(AuditVerification)
            .where(
                AuditVerification.id == verification_id,
                AuditVerification.started_at.is_(None),
            )
            .values(started_at=uow.now())
        )
        uow.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return
    last = [0]

    def progress(checked: int, total: int) -> None:
        if checked - last[0] < PROGRESS_EVERY and checked != total:
            return
        last[0] = checked
        with system.unit_of_work() as uow:
            uow.session.execute(
                update(AuditVerification)
                .where(AuditVerification.id == verification_id)
                .values(checked=checked, total=total)
            )
            uow.commit()

    report = verify(system, progress=progress)
    with system.unit_of_work() as uow:
        row = uow.session.get_one(AuditVerification, verification_id)
        record_result(uow, row, report)
        uow.commit()
