"""The compliance page as it was counted before its facts were kept on each recording
(migration 0024): every flag decided per recording with EXISTS over categories and notes.
Kept for the tests only, as the measure the kept facts must match after every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, or_, select
from sqlalchemy.sql.util import ClauseAdapter

from custody.db.models import Officer, Recording
from custody.db.models.lifecycle import Annotation, Category, RecordingCategory
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
    WeekRate,
)
from custody.services.system import System, UnitOfWork

WINDOW = timedelta(days=31)
WEEKS = 8
MAX_DOUBTFUL_SHOWN = 50
MAX_SIGN_OFF = 5000

categorised = exists().where(RecordingCategory.recording_id == Recording.id)
evidential = exists(
    select(RecordingCategory.recording_id)
    .join(Category, Category.id == RecordingCategory.category_id)
    .where(RecordingCategory.recording_id == Recording.id, Category.evidential.is_(True))
)
annotated = exists().where(Annotation.recording_id == Recording.id, Annotation.removed_at.is_(None))
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
    return exists(
        select(other.c.id)
        .join(RecordingCategory, RecordingCategory.recording_id == other.c.id)
        .join(Category, Category.id == RecordingCategory.category_id)
        .where(
            other.c.officer_id == Recording.officer_id,
            other.c.started_at >= shifted(Recording.started_at, -INCIDENT),
            other.c.started_at <= shifted(Recording.started_at, INCIDENT),
            other.c.started_at >= month_start - INCIDENT,
            other.c.state != DELETED,
            listed,
            Category.evidential.is_(True),
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
    """Per team or officer, counted in SQL over the month (one GROUP BY)."""
    keys = (Officer.unit, Officer.warrant_number, Officer.name) if by_officer else (Officer.unit,)
    found = uow.session.execute(
        select(
            *keys,
            func.count(),
            func.sum(_flag(not_(categorised))),
            func.sum(_flag(terms.unsigned)),
            func.sum(_flag(terms.doubtful)),
            func.sum(_flag(Recording.signed_off_at.is_not(None))),
        )
        .join(Officer, Officer.id == Recording.officer_id)
        .where(*terms.base, terms.month)
        .group_by(*keys)
    ).all()
    rows = []
    for row in found:
        unit, warrant, name = (row[0], row[1], row[2]) if by_officer else (row[0], None, row[0])
        total, uncategorised, unsigned, doubtful, signed = (int(v or 0) for v in row[-5:])
        rows.append(
            (
                (unit, name),
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
    week = case(
        *((Recording.started_at >= start, WEEKS - 1 - n) for n, start in enumerate(starts[::-1])),
        else_=-1,
    )
    counted: dict[int, tuple[int, int, int]] = {}
    for number, recorded, done, reviewed in uow.session.execute(
        select(
            week,
            func.count(),
            func.sum(_flag(categorised)),
            func.sum(_flag(not_(unreviewed))),
        )
        .where(
            *terms.base,
            Recording.started_at >= first_monday,
            Recording.started_at < first_monday + timedelta(weeks=WEEKS),
        )
        .group_by(week)
    ):
        counted[int(number)] = (int(recorded), int(done or 0), int(reviewed or 0))
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
