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

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, not_, select, update

from custody.db.models import Officer, Recording
from custody.db.models.lifecycle import Annotation, Category, RecordingCategory
from custody.domain.access import SystemAction, Viewer, roles_that_may
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.compliance import DUE_SOON, INCIDENT, Candidate, Doubt, doubts, rate
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
# Doubt is worked out over at most this many candidates (a team's month is far fewer).
MAX_CANDIDATES = 100_000
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


@dataclass(frozen=True)
class Seen:
    """One recording in the reader's scope, with what the page counts about it."""

    id: str
    officer_id: int
    unit: str
    warrant: str
    name: str
    started_at: datetime
    categorised: bool
    evidential: bool
    annotated: bool
    due_soon: bool
    reviewed: bool
    signed_off: bool


def _flag(condition: ColumnElement[bool]) -> Any:
    return case((condition, 1), else_=0)


def _seen(
    uow: UnitOfWork,
    base: list[ColumnElement[bool]],
    since: datetime,
    due_soon: ColumnElement[bool],
) -> list[Seen]:
    """The scope's recordings since `since`, each with its flags, in one query: the page is
    then counted in Python (a team's eight weeks are a few thousand rows, not millions)."""
    rows = uow.session.execute(
        select(
            Recording.id,
            Recording.officer_id,
            Officer.unit,
            Officer.warrant_number,
            Officer.name,
            Recording.started_at,
            _flag(categorised),
            _flag(evidential),
            _flag(annotated),
            _flag(due_soon),
            _flag(not_(unreviewed)),
            _flag(Recording.signed_off_at.is_not(None)),
        )
        .join(Officer, Officer.id == Recording.officer_id)
        .where(*base, Recording.started_at >= since)
        .limit(MAX_CANDIDATES)
    ).all()
    return [Seen(r[0], r[1], r[2], r[3], r[4], r[5], *(bool(v) for v in r[6:])) for r in rows]


def _doubts(seen: list[Seen], since: datetime) -> dict[str, Doubt]:
    return doubts(
        (
            Candidate(s.id, s.officer_id, s.started_at, s.annotated, s.categorised)
            for s in seen
            if s.started_at >= since and not s.evidential
        ),
        ((s.officer_id, s.started_at) for s in seen if s.evidential),
    )


def _looked_at(
    uow: UnitOfWork,
    viewer: Viewer,
    base: list[ColumnElement[bool]],
    now: datetime,
    since: datetime | None = None,
) -> tuple[list[Seen], dict[str, Doubt]]:
    """The scope's recordings (from `since`, and at least the month and the incidents at its
    edge), due dates as this person may know them, and the doubtful ones of the month."""
    delete_due, _ = due_columns(viewer)
    due_soon = and_(delete_due.is_not(None), delete_due <= now + DUE_SOON)
    start = now - WINDOW - INCIDENT
    seen = _seen(uow, base, start if since is None else min(since, start), due_soon)
    return seen, _doubts(seen, now - WINDOW)


def _unsigned(s: Seen) -> bool:
    return not s.evidential and s.due_soon and not s.reviewed


def _rows(seen: list[Seen], doubtful: dict[str, Doubt], *, by_officer: bool) -> list[ComplianceRow]:
    groups: dict[tuple[str, str | None, str], list[Seen]] = defaultdict(list)
    for s in seen:
        groups[(s.unit, s.warrant, s.name) if by_officer else (s.unit, None, s.unit)].append(s)
    rows = []
    for (_, warrant, name), found in sorted(groups.items(), key=lambda g: (g[0][0], g[0][2])):
        uncategorised = sum(not s.categorised for s in found)
        rows.append(
            ComplianceRow(
                name=name,
                officer=warrant,
                recordings=len(found),
                uncategorised=uncategorised,
                due_soon_unreviewed=sum(_unsigned(s) for s in found),
                doubtful=sum(s.id in doubtful for s in found),
                signed_off=sum(s.signed_off for s in found),
                categorised_rate=rate(len(found) - uncategorised, len(found)),
            )
        )
    return rows


def _weeks(seen: list[Seen], first_monday: datetime) -> list[WeekRate]:
    """The last eight weeks (this one last), further back than the tables' 31 days."""
    weeks = []
    for back in range(WEEKS):
        start = first_monday + timedelta(weeks=back)
        found = [s for s in seen if start <= s.started_at < start + timedelta(weeks=1)]
        weeks.append(
            WeekRate(
                week_starting=isoformat(start),
                recorded=len(found),
                categorised=sum(s.categorised for s in found),
                reviewed=sum(s.reviewed for s in found),
            )
        )
    return weeks


def _first_monday(now: datetime) -> datetime:
    day = now - timedelta(days=now.weekday())
    return day.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(weeks=WEEKS - 1)


def compliance(
    system: System, principal: Principal, actor: Actor, *, team: str | None = None
) -> Compliance:
    """The compliance page's figures for this reader (a team, or the force)."""
    tag = "user:retention:compliance"
    with system.unit_of_work() as uow:
        viewer = require(uow, principal, SystemAction.VIEW_COMPLIANCE, actor, tag)
        now = uow.now()
        scope, base = _scope(uow, principal, viewer, team)
        first_monday = _first_monday(now)
        seen, doubtful = _looked_at(uow, viewer, base, now, first_monday)
        month = [s for s in seen if s.started_at >= now - WINDOW]
        by_id = {s.id: s for s in month}
        ordered = sorted((by_id[r] for r in doubtful), key=lambda s: (s.started_at, s.id))
        items = [
            DoubtfulItem(
                recording_id=s.id,
                officer=s.warrant,
                started_at=isoformat(s.started_at),
                why=doubtful[s.id].why,
            )
            for s in ordered[:MAX_DOUBTFUL_SHOWN]
        ]
        teams = _rows(month, doubtful, by_officer=False) if scope == "force" else []
        officers = [] if scope == "force" else _rows(month, doubtful, by_officer=True)
        unsigned = sum(_unsigned(s) for s in month)
        weeks = _weeks(seen, first_monday)
        uow.audit(tag, actor, object_type="system", object_id=scope[:80])
        uow.commit()
        return Compliance(
            scope=scope,
            generated_at=isoformat(now),
            teams=teams,
            officers=officers,
            weeks=weeks,
            doubtful=items,
            unsigned_due_soon=unsigned,
        )


def sign_off(system: System, principal: Principal, actor: Actor) -> SignedOff:
    """Sign off the team's non-evidential footage falling due within 7 days: the supervisor
    has looked, and it may go. Doubtful footage is left for a person to look at one by one."""
    tag = "user:recording:sign_off"
    with system.unit_of_work() as uow:
        viewer = require(uow, principal, SystemAction.SIGN_OFF_FOOTAGE, actor, tag)
        now = uow.now()
        _, base = _scope(uow, principal, viewer, None)
        seen, doubtful = _looked_at(uow, viewer, base, now)
        due = sorted(s.id for s in seen if s.started_at >= now - WINDOW and _unsigned(s))
        ids = [rid for rid in due if rid not in doubtful][:MAX_SIGN_OFF]
        if ids:
            uow.session.execute(
                update(Recording)
                .where(Recording.id.in_(ids), Recording.signed_off_at.is_(None))
                .values(signed_off_at=now, signed_off_by=actor.name)
            )
        for rid in ids:
            uow.audit(tag, actor, object_type="recording", object_id=rid)
        left = sum(rid in doubtful for rid in due)
        uow.commit()
        return SignedOff(signed_off=len(ids), doubtful_left=left)
