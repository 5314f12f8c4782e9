"""Supervision that prevents lost evidence: the compliance page and the sign-off.

Audits in Durham, Austin and Atlanta found officers who never categorise and supervisors
who never review. Per team (force-wide readers) and per officer (a team): footage of the
last 31 days uncategorised, due for deletion within 7 days and neither reviewed nor
signed off, doubtfully categorised (`custody.domain.compliance`), and weekly rates.

Every count is of footage the reader may list (`services.access.visible_recordings`), and
due dates are the ones they may know (`due_columns`): the page tells no one of a complaint
hold or of footage their role does not list. The weeks and the force's month are summed
from the per-team, per-day summary the database keeps (`db.models.compliance`), in the
access classes in which the reader lists all of the scope's footage
(`access.summarised_classes`). What falls between whole days (the month's first part-day,
the footage due on the last due day) is summed for the force, whose readers list every
class, by the hour from the per-team, per-hour summary (`ComplianceHour`), with only the
hour at each edge counted from the recordings; the rest (a supervisor's cases' confidential
footage, a team's officers) is counted from the recordings.

A supervisor signs off their team's non-evidential footage before the sweep takes it;
doubtful footage is left for a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.util import ClauseAdapter

from custody.db.models import Officer, Recording
from custody.db.models.compliance import ComplianceDay, ComplianceHour, hour_of
from custody.db.types import not_indexed, shifted
from custody.domain.access import AccessClass, SystemAction, Viewer, roles_that_may
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
from custody.services.access import (
    due_columns,
    listed_beyond,
    require,
    summarised_classes,
    visible_recordings,
)
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


# The bit of each access class in the summary's `nearby` (migration 0025), and the count
# of that class's evidential neighbours kept on each recording.
NEARBY_BITS = {AccessClass.NORMAL: 1, AccessClass.RESTRICTED: 2, AccessClass.CONFIDENTIAL: 4}
NEARBY_COUNTS = {
    AccessClass.NORMAL: Recording.nearby_evidential_normal,
    AccessClass.RESTRICTED: Recording.nearby_evidential_restricted,
    AccessClass.CONFIDENTIAL: Recording.nearby_evidential_confidential,
}


def _any_nearby(classes: Iterable[AccessClass]) -> ColumnElement[bool]:
    """The recording has evidential neighbours (kept counts) of one of these classes."""
    found = [NEARBY_COUNTS[c] > 0 for c in sorted(classes)]
    return or_(*found) if found else false()


def _terms(
    uow: UnitOfWork,
    principal: Principal,
    viewer: Viewer,
    base: list[ColumnElement[bool]],
    now: datetime,
    listed: frozenset[AccessClass],
) -> _Terms:
    """Due dates as this person may know them; doubtful as `custody.domain.compliance`
    decides it (categorised, not evidential, and a note or evidential footage nearby). The
    neighbours are the counts kept on each recording: in the classes in which the reader
    lists all of the scope's footage (`listed`), one is enough; only where the counts name
    neighbours of other classes (a supervisor's cases' confidential footage) are they
    looked for, as this reader may list them."""
    delete_due, _ = due_columns(viewer)
    due_soon = and_(delete_due.is_not(None), delete_due <= now + DUE_SOON)
    month_start = now - WINDOW
    nearby = _any_nearby(listed)
    beyond = set(AccessClass) - listed
    if beyond:
        looked_for = _nearby_evidential(uow, principal, month_start)
        nearby = or_(nearby, and_(_any_nearby(beyond), looked_for))
    return _Terms(
        base=base,
        month=Recording.started_at >= month_start,
        unsigned=and_(not_(evidential), due_soon, unreviewed),
        doubtful=and_(categorised, not_(evidential), or_(annotated, nearby)),
        nearby=nearby,
    )


@dataclass(frozen=True)
class _Split:
    """What the summary (`compliance_days`) answers for this reader, and what is counted
    from the recordings themselves: the footage they may list in the classes it holds for
    them (`summarised_classes`), of whole days; the rest is read from the recordings."""

    classes: frozenset[AccessClass]
    # The footage they may list in other classes (a supervisor's cases' confidential).
    beyond: ColumnElement[bool] | None
    team: str | None
    # The month's start, its first whole day, and the due dates' end (`due_by`).
    month_start: datetime
    whole_days: datetime
    due_by: datetime
    true_due: bool

    @property
    def summarised(self) -> ColumnElement[bool]:
        return Recording.access_class.in_(sorted(c.value for c in self.classes))

    def days(self, since: date, until: date | None = None) -> list[ColumnElement[bool]]:
        """The summary's rows of this reader's classes and team, for these days."""
        day = ComplianceDay
        where = [day.day >= since, day.access_class.in_(sorted(c.value for c in self.classes))]
        if until is not None:
            where.append(day.day < until)
        return [*where, day.unit == self.team] if self.team else where


def _midnight(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _split(uow: UnitOfWork, viewer: Viewer, scope: str, now: datetime) -> _Split:
    team = None if scope == "force" else scope
    classes = summarised_classes(viewer, team)
    month_start = now - WINDOW
    whole_days = _midnight(month_start)
    if whole_days < month_start:
        whole_days += timedelta(days=1)
    delete_due, _ = due_columns(viewer)
    return _Split(
        classes=classes,
        beyond=listed_beyond(uow, viewer, classes),
        team=team,
        month_start=month_start,
        whole_days=whole_days,
        due_by=now + DUE_SOON,
        true_due=delete_due is Recording.delete_due_at,
    )


# A row's counts: recordings, uncategorised, due soon and unreviewed, doubtful, signed off.
_Counts = dict[Any, list[int]]


def _add(into: _Counts, key: Any, counts: Iterable[Any]) -> None:
    was = into.setdefault(key, [0, 0, 0, 0, 0])
    for n, value in enumerate(counts):
        was[n] += int(value or 0)


def _count(
    uow: UnitOfWork,
    terms: _Terms,
    into: _Counts,
    where: Iterable[ColumnElement[bool]],
    *,
    by_officer: bool,
    only: slice = slice(None),
) -> None:
    """Count the month's recordings of the reader's scope that meet `where`, per team or
    officer, in SQL (one GROUP BY); `only` some of the five counts."""
    key = Recording.officer_id if by_officer else Officer.unit
    flags = [
        func.count(),
        func.sum(_flag(not_(categorised))),
        func.sum(_flag(terms.unsigned)),
        func.sum(_flag(terms.doubtful)),
        func.sum(_flag(Recording.signed_off_at.is_not(None))),
    ]
    kept = [0, 0, 0, 0, 0]
    wanted = list(range(5))[only]
    counted = select(key, *(flags[n] for n in wanted))
    if not by_officer:
        # The force's part of a month (its first half-day; a due day) is a range of the
        # time or due-date index, each recording's officer looked up: SQLite would rather
        # walk every officer's (officer, started) range.
        counted = counted.join(Officer, Officer.id == not_indexed(Recording.officer_id))
    found = uow.session.execute(counted.where(*terms.base, terms.month, *where).group_by(key))
    for row in found:
        for n, value in zip(wanted, row[1:], strict=True):
            kept[n] = int(value or 0)
        _add(into, row[0], kept)
        kept = [0, 0, 0, 0, 0]


def _team_counts(uow: UnitOfWork, terms: _Terms, split: _Split) -> _Counts:
    """The force's month per team: the summary's whole days in the classes it holds for this
    reader (doubt by the classes of the neighbours they may list). For a reader who may list
    every class, what falls between whole days (the month's first part-day, the footage due
    on the last due day) is summed by the hour (`_between_days`); for others it is counted
    from the recordings, with the other classes and a doubt resting only on a neighbour of
    another class."""
    counts: _Counts = {}
    whole = split.whole_days
    if not split.classes:
        _count(uow, terms, counts, [], by_officer=False)
        return counts
    day = ComplianceDay
    n = day.recordings
    due_day = day.due_day if split.true_due else day.seen_due_day
    last_due_day = _midnight(split.due_by)
    bits = sum(NEARBY_BITS[c] for c in split.classes)
    doubted = and_(
        day.categorised, not_(day.evidential), or_(day.annotated, day.nearby.op("&")(bits) != 0)
    )
    # Grouped by day and team, the order of the summary's key: read along its days, where
    # grouping by team alone had SQLite read the whole summary in order of team.
    for _, unit, *summed in uow.session.execute(
        select(
            day.day,
            day.unit,
            func.sum(n),
            func.sum(case((day.categorised, 0), else_=n)),
            func.sum(case((due_day < last_due_day.date(), n), else_=0)),
            func.sum(case((doubted, n), else_=0)),
            func.sum(case((day.signed_off, n), else_=0)),
        )
        .where(*split.days(whole.date()))
        .group_by(day.day, day.unit)
    ):
        _add(counts, unit, summed)
    if split.classes == set(AccessClass):
        _between_days(uow, terms, split, counts)
        return counts
    _count(uow, terms, counts, [Recording.started_at < whole], by_officer=False)
    if split.beyond is not None:
        _count(uow, terms, counts, [split.beyond, Recording.started_at >= whole], by_officer=False)
    delete_due = Recording.delete_due_at if split.true_due else Recording.seen_delete_due_at
    _count(
        uow,
        terms,
        counts,
        [
            split.summarised,
            Recording.started_at >= whole,
            delete_due >= last_due_day,
            terms.unsigned,
        ],
        by_officer=False,
        only=slice(2, 3),
    )
    if split.classes != set(AccessClass):
        # Doubtful only through a neighbour of a class beyond the summary's, which the
        # reader may list another way: looked for, recording by recording (few).
        _count(
            uow,
            terms,
            counts,
            [
                split.summarised,
                Recording.started_at >= whole,
                not_(annotated),
                not_(_any_nearby(split.classes)),
                terms.doubtful,
            ],
            by_officer=False,
            only=slice(3, 4),
        )
    return counts


def _hour_start(number: int) -> datetime:
    return datetime.fromtimestamp(number * 3600, UTC)


def _between_days(uow: UnitOfWork, terms: _Terms, split: _Split, counts: _Counts) -> None:
    """What the whole days leave out, for a reader who may list every class: the month's
    first part-day and the footage of the whole days due on the last due day, summed by the
    hour from the per-team, per-hour summary (migration 0027), and the hour at each edge (a
    start before the first whole hour, a due date after the last) from the recordings."""
    hours = ComplianceHour
    first_hour = hour_of(split.month_start)
    if _hour_start(first_hour) < split.month_start:
        first_hour += 1
    first_day = hour_of(split.whole_days)
    due_by_hour = hour_of(split.due_by)
    last_due_day = hour_of(_midnight(split.due_by))
    due_hour = hours.due_hour if split.true_due else hours.seen_due_hour
    # The part-day's whole hours (none when the month starts at midnight): everything.
    for unit, *summed in uow.session.execute(
        select(
            hours.unit,
            func.sum(hours.recordings),
            func.sum(hours.uncategorised),
            func.sum(case((due_hour < due_by_hour, hours.recordings), else_=0)),
            func.sum(hours.doubtful),
            func.sum(hours.signed_off),
        )
        .where(hours.hour >= first_hour, hours.hour < first_day)
        .group_by(hours.unit)
    ):
        _add(counts, unit, summed)
    # The whole days' footage due on the last due day, before its last hour: due soon.
    for unit, due in uow.session.execute(
        select(hours.unit, func.sum(hours.recordings))
        .where(due_hour >= last_due_day, due_hour < due_by_hour, hours.hour >= first_day)
        .group_by(hours.unit)
    ):
        _add(counts, unit, [0, 0, due])
    first = _hour_start(first_hour)
    _count(uow, terms, counts, [Recording.started_at < first], by_officer=False)
    delete_due = Recording.delete_due_at if split.true_due else Recording.seen_delete_due_at
    _count(
        uow,
        terms,
        counts,
        [
            split.summarised,
            Recording.started_at >= first,
            delete_due >= _hour_start(due_by_hour),
            terms.unsigned,
        ],
        by_officer=False,
        only=slice(2, 3),
    )


def _rows(
    uow: UnitOfWork, terms: _Terms, split: _Split, *, by_officer: bool
) -> list[ComplianceRow]:
    """Per team (from the summary, `_team_counts`) or per officer (their team's month from
    the recordings, in the order the index gives). A team's officers are named by a second
    query of the team's few hundred (grouping by their names sorted every recording)."""
    if by_officer:
        counts: _Counts = {}
        _count(uow, terms, counts, [], by_officer=True)
    else:
        counts = _team_counts(uow, terms, split)
    found = {key: row for key, row in counts.items() if row[0]}
    names: dict[Any, tuple[str | None, str | None, str | None]] = {
        key: (key, None, key) for key in found
    }
    if by_officer:
        # The team's officers by their unit (one term of its index), not a list of the
        # hundreds with footage (a parameter each, every request).
        names = {
            oid: (unit, warrant, name)
            for oid, unit, warrant, name in uow.session.execute(
                select(Officer.id, Officer.unit, Officer.warrant_number, Officer.name).where(
                    Officer.unit == split.team
                )
            )
            if oid in found
        }
    rows = []
    for key, (total, uncategorised, unsigned, doubtful, signed) in found.items():
        unit, warrant, name = names[key]
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


def _weeks(uow: UnitOfWork, terms: _Terms, split: _Split, first_monday: datetime) -> list[WeekRate]:
    """The last eight weeks (this one last), further back than the tables' 31 days: whole
    days, so the summary's (56 days of a team, or of the force's teams) in the classes it
    holds for this reader, and the rest they may list from the recordings."""
    starts = [first_monday + timedelta(weeks=back) for back in range(WEEKS)]
    end = first_monday + timedelta(weeks=WEEKS)
    counted: dict[int, tuple[int, int, int]] = {}

    def add(number: int, recorded: Any, done: Any, reviewed: Any) -> None:
        was = counted.get(number, (0, 0, 0))
        counted[number] = (
            was[0] + int(recorded or 0),
            was[1] + int(done or 0),
            was[2] + int(reviewed or 0),
        )

    if split.classes:
        day = ComplianceDay
        n = day.recordings
        for started, recorded, done, reviewed in uow.session.execute(
            select(
                day.day,
                func.sum(n),
                func.sum(case((day.categorised, n), else_=0)),
                func.sum(case((day.reviewed, n), else_=0)),
            )
            .where(*split.days(first_monday.date(), end.date()))
            .group_by(day.day)
        ):
            add((started - first_monday.date()).days // 7, recorded, done, reviewed)
        if split.beyond is None:
            return _week_rates(starts, counted)
    # Footage started after the eighth week (a camera's clock ahead) is week -1, counted in
    # none: the end is no bound of the WHERE, which SQLite would take for a narrow range of
    # the force's time index rather than walk each officer's (officer, started) range.
    week = case(
        (Recording.started_at >= end, -1),
        *((Recording.started_at >= start, WEEKS - 1 - n) for n, start in enumerate(starts[::-1])),
        else_=-1,
    )
    beyond = [] if split.beyond is None or not split.classes else [split.beyond]
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
        .where(*terms.base, *beyond, Recording.started_at >= first_monday)
        .group_by(Officer.unit, week)
    ):
        add(int(number), recorded, done, reviewed)
    return _week_rates(starts, counted)


def _week_rates(starts: list[datetime], counted: dict[int, tuple[int, int, int]]) -> list[WeekRate]:
    return [
        WeekRate(
            week_starting=isoformat(start),
            recorded=counted.get(n, (0, 0, 0))[0],
            categorised=counted.get(n, (0, 0, 0))[1],
            reviewed=counted.get(n, (0, 0, 0))[2],
        )
        for n, start in enumerate(starts)
    ]


# The doubtful to a reader of every class, spelled as the partial index of them is
# (`custody.db.models.ingest.DOUBTFUL`, constants inline): any reader's doubtful are among
# these, and a query with this term may read that index.
doubt_indexed = and_(
    Recording.categorised.is_(True),
    Recording.evidential.is_not(True),
    or_(
        Recording.annotated.is_(True),
        *(column > literal_column("0") for column in NEARBY_COUNTS.values()),
    ),
)


def _doubtful(uow: UnitOfWork, terms: _Terms, *, force: bool) -> list[DoubtfulItem]:
    """The month's first doubtful recordings, oldest first, each with why. The force's
    are found among the categorised non-evidential in time order (their index): a team's
    month among its officers' doubtful (the partial index of them), a few of the force's."""
    narrowed = [Recording.categorised == true(), Recording.evidential == false()]
    found = uow.session.execute(
        select(Recording.id, Officer.warrant_number, Recording.started_at, _flag(terms.nearby))
        .join(Officer, Officer.id == Recording.officer_id)
        .where(*terms.base, terms.month, terms.doubtful, *(narrowed if force else [doubt_indexed]))
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
        split = _split(uow, viewer, scope, now)
        terms = _terms(uow, principal, viewer, base, now, split.classes)
        teams = _rows(uow, terms, split, by_officer=False) if scope == "force" else []
        officers = [] if scope == "force" else _rows(uow, terms, split, by_officer=True)
        rows = teams or officers
        weeks = _weeks(uow, terms, split, _first_monday(now))
        items = _doubtful(uow, terms, force=scope == "force")
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
        scope, base = _scope(uow, principal, viewer, None)
        terms = _terms(uow, principal, viewer, base, now, summarised_classes(viewer, scope))
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
