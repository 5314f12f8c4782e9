"""Supervision that prevents lost evidence: the compliance page and the sign-off.

Audits in Durham, Austin and Atlanta found officers who never categorise and supervisors
who never review. Per team (force-wide readers) and per officer (a team): footage of the
last 31 days uncategorised, due for deletion within 7 days and neither reviewed nor
signed off, doubtfully categorised (`custody.domain.compliance`), and weekly rates.

Every count is of footage the reader may list (`services.access.visible_recordings`), and
due dates are the ones they may know (`due_columns`): the page tells no one of a complaint
hold or of footage their role does not list. A supervisor signs off their team's
non-evidential footage before the sweep takes it; doubtful footage is left for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, or_, select, update
from sqlalchemy.sql.util import ClauseAdapter

from custody.db.models import Officer, Recording
from custody.db.types import shifted
from custody.domain.access import SystemAction, Viewer, roles_that_may
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.compliance import (
    ANNOTATED,
    DUE_SOON,
    INCIDENT,
    NEARBY_EVIDENTIAL,
    rate,
)
from custody.domain.errors import InvalidInput
from custody.domain.principal import Principal
from custody.domain.retention import DELETED
from custody.services.access import due_columns, require, visible_recordings
from custody.services.retention.answers import (
    Compliance,
    ComplianceRow,
    DoubtfulItem,
    SignedOff,
    WeekRate,
)
from custody.services.system import System, UnitOfWork

WINDOW = timedelta(days=31)
WEEKS = 8
MAX_DOUBTFUL_SHOWN = 50
MAX_SIGN_OFF = 5000

# Each recording's own facts, kept on its row by every change that moves them (migration
# 0024): the month of a team is read from one covering index, with no query per recording.
categorised = Recording.categorised.is_(True)
evidential = Recording.evidential.is_(True)
annotated = Recording.annotated.is_(True)
unreviewed = and_(Recording.last_reviewed_at.is_(None), Recording.signed_off_at.is_(None))


def force_wide(viewer: Viewer) -> bool:
    """Those who may search the whole force see it whole; a supervisor sees their team."""
    return viewer.role in roles_that_may(SystemAction.SEARCH_FORCE_WIDE) | roles_that_may(
        SystemAction.SEE_COMPLAINT_HOLDS
    )


def _scope(
    uow: UnitOfWork, principal: Principal, viewer: Viewer, team: str | None
) -> tuple[str, list[ColumnElement[bool]]]:
    """The reader's team (or the force) and the footage in it they may list, at any time."""
    if not force_wide(viewer):
        team = viewer.unit
        if team is None:
            raise InvalidInput("you supervise no team: ask an administrator to set your unit")
    where: list[ColumnElement[bool]] = [
        Recording.state != DELETED,
        Recording.officer_id.is_not(None),
        visible_recordings(uow, principal),
    ]
    if team:
        where.append(Recording.officer_id.in_(select(Officer.id).where(Officer.unit == team)))
    return team or "force", where


def _flag(condition: ColumnElement[bool]) -> Any:
    return case((condition, 1), else_=0)


def _nearby_evidential(
    uow: UnitOfWork, principal: Principal, month_start: datetime
) -> ColumnElement[bool]:
    """A condition on `Recording`: the same officer recorded evidential footage within
    `INCIDENT` of it, footage this reader may list (`custody.domain.compliance.doubts`, in
    SQL: the (officer, started) index finds the officer's few recordings around it)."""
    other = Recording.__table__.alias("nearby")
    listed = ClauseAdapter(other).traverse(visible_recordings(uow, principal))
    # Selecting the officer (not the id) keeps the probe within the index (SQLite's
    # secondary indexes carry the rowid, not the recording's id).
    return exists(
        select(other.c.officer_id).where(
            other.c.officer_id == Recording.officer_id,
            other.c.started_at >= shifted(Recording.started_at, -INCIDENT),
            other.c.started_at <= shifted(Recording.started_at, INCIDENT),
            other.c.started_at >= month_start - INCIDENT,
            other.c.state != DELETED,
            listed,
            other.c.evidential.is_(True),
        )
    )


@dataclass(frozen=True)
class _Terms:
    """The page's conditions on a recording of the reader's scope, as SQL."""

    base: list[ColumnElement[bool]]
    month: ColumnElement[bool]
    unsigned: ColumnElement[bool]
    doubtful: ColumnElement[bool]
    nearby: ColumnElement[bool]


def _terms(
    uow: UnitOfWork,
    principal: Principal,
    viewer: Viewer,
    base: list[ColumnElement[bool]],
    now: datetime,
) -> _Terms:
    """Due dates as this person may know them; doubtful as `custody.domain.compliance`
    decides it (categorised, not evidential, and a note or evidential footage nearby)."""
    delete_due, _ = due_columns(viewer)
    due_soon = and_(delete_due.is_not(None), delete_due <= now + DUE_SOON)
    month_start = now - WINDOW
    nearby = _nearby_evidential(uow, principal, month_start)
    return _Terms(
        base=base,
        month=Recording.started_at >= month_start,
        unsigned=and_(not_(evidential), due_soon, unreviewed),
        doubtful=and_(categorised, not_(evidential), or_(nearby, annotated)),
        nearby=nearby,
    )


def _rows(uow: UnitOfWork, terms: _Terms, *, by_officer: bool) -> list[ComplianceRow]:
    """Per team or officer, counted in SQL over the month (one GROUP BY). A team's officers
    are grouped by their id, in the order the index gives, and named by a second query of
    the team's few hundred officers (grouping by their names sorted every recording)."""
    key = Recording.officer_id if by_officer else Officer.unit
    counted = select(
        key,
        func.count(),
        func.sum(_flag(not_(categorised))),
        func.sum(_flag(terms.unsigned)),
        func.sum(_flag(terms.doubtful)),
        func.sum(_flag(Recording.signed_off_at.is_not(None))),
    )
    if not by_officer:
        counted = counted.join(Officer, Officer.id == Recording.officer_id)
    found = uow.session.execute(counted.where(*terms.base, terms.month).group_by(key)).all()
    names: dict[Any, tuple[str | None, str | None, str | None]] = {
        row[0]: (row[0], None, row[0]) for row in found
    }
    if by_officer:
        names = {
            oid: (unit, warrant, name)
            for oid, unit, warrant, name in uow.session.execute(
                select(Officer.id, Officer.unit, Officer.warrant_number, Officer.name).where(
                    Officer.id.in_(sorted(row[0] for row in found))
                )
            )
        }
    rows = []
    for row in found:
        unit, warrant, name = names[row[0]]
        total, uncategorised, unsigned, doubtful, signed = (int(v or 0) for v in row[-5:])
        rows.append(
            (
                (unit or "", name or ""),
                ComplianceRow(
                    name=name,
                    officer=warrant,
                    recordings=total,
                    uncategorised=uncategorised,
                    due_soon_unreviewed=unsigned,
                    doubtful=doubtful,
                    signed_off=signed,
                    categorised_rate=rate(total - uncategorised, total),
                ),
            )
        )
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def _weeks(uow: UnitOfWork, terms: _Terms, first_monday: datetime) -> list[WeekRate]:
    """The last eight weeks (this one last), further back than the tables' 31 days."""
    starts = [first_monday + timedelta(weeks=back) for back in range(WEEKS)]
    end = first_monday + timedelta(weeks=WEEKS)
    # Footage started after the eighth week (a camera's clock ahead) is week -1, counted in
    # none: the end is no bound of the WHERE, which SQLite would take for a narrow range of
    # the force's time index rather than walk each officer's (officer, started) range.
    week = case(
        (Recording.started_at >= end, -1),
        *((Recording.started_at >= start, WEEKS - 1 - n) for n, start in enumerate(starts[::-1])),
        else_=-1,
    )
    counted: dict[int, tuple[int, int, int]] = {}
    # Counted per team and week, through the officers as the month's rows are: each
    # officer's weeks are then a range of the covering (officer, started) index, where the
    # force's time index would look every recording's row up; the teams are summed here.
    for _, number, recorded, done, reviewed in uow.session.execute(
        select(
            Officer.unit,
            week,
            func.count(),
            func.sum(_flag(categorised)),
            func.sum(_flag(not_(unreviewed))),
        )
        .join(Officer, Officer.id == Recording.officer_id)
        .where(
            *terms.base,
            Recording.started_at >= first_monday,
        )
        .group_by(Officer.unit, week)
    ):
        was = counted.get(int(number), (0, 0, 0))
        counted[int(number)] = (
            was[0] + int(recorded),
            was[1] + int(done or 0),
            was[2] + int(reviewed or 0),
        )
    return [
        WeekRate(
            week_starting=isoformat(start),
            recorded=counted.get(n, (0, 0, 0))[0],
            categorised=counted.get(n, (0, 0, 0))[1],
            reviewed=counted.get(n, (0, 0, 0))[2],
        )
        for n, start in enumerate(starts)
    ]


def _doubtful(uow: UnitOfWork, terms: _Terms) -> list[DoubtfulItem]:
    """The month's first doubtful recordings, oldest first, each with why."""
    found = uow.session.execute(
        select(Recording.id, Officer.warrant_number, Recording.started_at, _flag(terms.nearby))
        .join(Officer, Officer.id == Recording.officer_id)
        .where(*terms.base, terms.month, terms.doubtful)
        .order_by(Recording.started_at, Recording.id)
        .limit(MAX_DOUBTFUL_SHOWN)
    ).all()
    return [
        DoubtfulItem(
            recording_id=rid,
            officer=warrant,
            started_at=isoformat(started),
            why=NEARBY_EVIDENTIAL if nearby else ANNOTATED,
        )
        for rid, warrant, started, nearby in found
    ]


def _first_monday(now: datetime) -> datetime:
    day = now - timedelta(days=now.weekday())
    return day.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(weeks=WEEKS - 1)


def compliance(
    system: System, principal: Principal, actor: Actor, *, team: str | None = None
) -> Compliance:
    """The compliance page's figures for this reader (a team, or the force), counted in SQL."""
    tag = "user:retention:compliance"
    with system.unit_of_work() as uow:
        viewer = require(uow, principal, SystemAction.VIEW_COMPLIANCE, actor, tag)
        now = uow.now()
        scope, base = _scope(uow, principal, viewer, team)
        terms = _terms(uow, principal, viewer, base, now)
        teams = _rows(uow, terms, by_officer=False) if scope == "force" else []
        officers = [] if scope == "force" else _rows(uow, terms, by_officer=True)
        rows = teams or officers
        weeks = _weeks(uow, terms, _first_monday(now))
        items = _doubtful(uow, terms)
        uow.audit(tag, actor, object_type="system", object_id=scope[:80])
        uow.commit()
        return Compliance(
            scope=scope,
            generated_at=isoformat(now),
            teams=teams,
            officers=officers,
            weeks=weeks,
            doubtful=items,
            unsigned_due_soon=sum(row.due_soon_unreviewed for row in rows),
        )


def sign_off(system: System, principal: Principal, actor: Actor) -> SignedOff:
    """Sign off the team's non-evidential footage falling due within 7 days: the supervisor
    has looked, and it may go. Doubtful footage is left for a person to look at one by one."""
    tag = "user:recording:sign_off"
    with system.unit_of_work() as uow:
        viewer = require(uow, principal, SystemAction.SIGN_OFF_FOOTAGE, actor, tag)
        now = uow.now()
        _, base = _scope(uow, principal, viewer, None)
        terms = _terms(uow, principal, viewer, base, now)
        due = (*terms.base, terms.month, terms.unsigned)
        ids = list(
            uow.session.scalars(
                select(Recording.id)
                .where(*due, not_(terms.doubtful))
                .order_by(Recording.id)
                .limit(MAX_SIGN_OFF)
            )
        )
        if ids:
            uow.session.execute(
                update(Recording)
                .where(Recording.id.in_(ids), Recording.signed_off_at.is_(None))
                .values(signed_off_at=now, signed_off_by=actor.name)
            )
        for rid in ids:
            uow.audit(tag, actor, object_type="recording", object_id=rid)
        left = uow.session.scalar(select(func.count()).where(*due, terms.doubtful)) or 0
        uow.commit()
        return SignedOff(signed_off=len(ids), doubtful_left=left)
