"""Finding footage as people work with it: search, an officer's footage by docking, and
categorising several recordings at once.

Lists filter in SQL by the access contract's listing grants (`visible_recordings`), so a
page of results is a page of what the person may see, however large the store. Each
recording on a page carries the actions the person may take on it (from
`custody.domain.access.permitted`) and its retention as they may know it, so that pages
offer only what the services would allow and never reveal a hold they must not see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, SQLColumnExpression, false, func, or_, select

from custody.db.lists import among
from custody.db.models import Camera, Dock, Officer, Recording
from custody.db.models.lifecycle import (
    Case,
    CaseRecording,
    Category,
    EvidenceFlag,
    RecordingCategory,
    RecordingTag,
)
from custody.domain.access import (
    AccessClass,
    Action,
    RecordingFacts,
    permitted,
    sees_complaint_holds,
)
from custody.domain.actor import Actor
from custody.domain.categories import UNCATEGORISED, parse_access_class
from custody.domain.clock import isoformat
from custody.domain.errors import CustodyError, InvalidInput
from custody.domain.principal import Principal
from custody.domain.retention import DELETED, RetentionFacts
from custody.domain.retention import days_left as days_before_deletion
from custody.services import cursors
from custody.services.access import (
    shown_decision,
    shown_facts,
    viewer_for,
    visible_cases,
    visible_recordings,
)
from custody.services.answers import MAX_OFFSET, Page
from custody.services.counting import COUNT_BOUND, count_up_to, rows_up_to
from custody.services.evidence import categories
from custody.services.planning import UNLISTED, not_by_officer
from custody.services.retention.facts import retention_facts
from custody.services.system import System, UnitOfWork

# A page of results when the caller names none: a grid of thumbnails, an officer's dockings.
SEARCH_PAGE = Page(limit=24)
FOOTAGE_PAGE = Page(limit=100)
# Recordings that reached the server within this long of each other, through one dock,
# arrived in one docking.
DOCKING_GAP = timedelta(minutes=30)
MAX_BULK = 100
SORTS = ("newest", "oldest", "longest", "shortest")


@dataclass(frozen=True)
class Search:
    """What a person is looking for; every field is optional and they combine with AND."""

    officer: str | None = None  # a warrant number, or part of an officer's name
    unit: str | None = None
    camera: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    category: str | None = None  # a category's name; "Uncategorised" finds those with none
    case: str | None = None  # the crime reference of a case the person may see
    reference: str | None = None  # the recording's own crime or incident reference
    tag: str | None = None
    evidence: bool | None = None  # flagged as evidence, or not
    min_seconds: float | None = None
    max_seconds: float | None = None
    sort: str = "newest"

    def given(self) -> dict[str, object]:
        """The filters in use, as an audit event records them."""
        found: dict[str, object] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or item.name == "sort":
                continue
            found[item.name] = isoformat(value) if isinstance(value, datetime) else value
        return found


@dataclass(frozen=True)
class Card:
    """One recording as a list shows it, with what this person may do to it."""

    id: str
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    stored_at: datetime
    state: str
    camera: str
    dock: str | None
    officer: str | None  # warrant number
    officer_name: str | None
    unit: str | None
    title: str | None
    reference: str | None
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    evidence: bool
    has_thumbnail: bool
    delete_due_at: datetime | None
    pending_deletion: bool
    retention_reason: str
    actions: frozenset[Action] = field(default_factory=frozenset)

    @property
    def uncategorised(self) -> bool:
        """Waiting for a category from this person (footage they may only know exists is
        not theirs to categorise, and says nothing of its categories)."""
        return not self.categories and Action.VIEW in self.actions

    def may(self, action: Action | str) -> bool:
        return Action(action) in self.actions

    def days_left(self, now: datetime) -> int | None:
        """Whole days before the sweep would delete it (None: it is kept)."""
        return days_before_deletion(self.delete_due_at, now)


@dataclass(frozen=True)
class Results:
    items: list[Card]
    total: int  # at least this many, where not `total_exact` (custody.services.counting)
    limit: int
    offset: int
    now: datetime
    total_exact: bool = True
    # Paged by keyset (`custody.services.cursors`): the cursor this page was asked at, if
    # any, and the one that asks for the page after it (none on the last page).
    cursor: str | None = None
    next_cursor: str | None = None


@dataclass(frozen=True)
class Docking:
    """Recordings that one dock uploaded in one go: how an officer remembers a shift."""

    dock: str | None
    arrived_at: datetime
    cards: list[Card]

    @property
    def uncategorised(self) -> int:
        return sum(1 for card in self.cards if card.uncategorised)


@dataclass(frozen=True)
class Footage:
    dockings: list[Docking]
    total: int  # at least these many, where not exact (custody.services.counting)
    uncategorised: int
    limit: int
    offset: int
    now: datetime
    total_exact: bool = True
    uncategorised_exact: bool = True


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(uow: UnitOfWork, principal: Principal, search: Search) -> list[ColumnElement[bool]]:
    """SQL conditions for the search's filters (each one an index-friendly predicate)."""
    where: list[ColumnElement[bool]] = []
    if search.officer:
        text = search.officer.strip()
        named = select(Officer.id).where(
            or_(
                func.lower(Officer.warrant_number) == text.lower(),
                func.lower(Officer.name).like(f"%{_escape_like(text.lower())}%", escape="\\"),
            )
        )
        where.append(Recording.officer_id.in_(named))
    if search.unit:
        team = select(Officer.id).where(func.lower(Officer.unit) == search.unit.strip().lower())
        where.append(Recording.officer_id.in_(team))
    if search.camera:
        camera = select(Camera.id).where(Camera.serial == search.camera.strip())
        where.append(Recording.camera_id.in_(camera))
    if search.since:
        where.append(Recording.started_at >= search.since)
    if search.until:
        where.append(Recording.started_at < search.until)
    if search.category:
        name = search.category.strip()
        if name.lower() == UNCATEGORISED.lower():
            where.append(_uncategorised())
        else:
            named_category = select(Category.id).where(func.lower(Category.name) == name.lower())
            if not sees_complaint_holds(viewer_for(uow, principal)):
                # A confidential category (the one complaints use) finds nothing for those
                # who may not know of complaints: a search must not tell them which it holds.
                named_category = named_category.where(
                    Category.access_class != AccessClass.CONFIDENTIAL.value
                )
            # The category's ids as a list and a correlated EXISTS: driving the search from
            # the category's (possibly huge) list of recordings made SQLite read all of it.
            category_ids = sorted(uow.session.scalars(named_category))
            where.append(
                select(RecordingCategory.recording_id)
                .where(
                    RecordingCategory.recording_id == Recording.id,
                    RecordingCategory.category_id.in_(category_ids),
                )
                .exists()
                if category_ids
                else false()
            )
    if search.case:
        where.append(Recording.id.in_(_case_recordings(uow, principal, search.case.strip())))
    if search.reference:
        text = search.reference.strip()
        # As typed, upper- or lower-case: an IN list keeps the reference's index in use.
        where.append(Recording.reference.in_(sorted({text, text.upper(), text.lower()})))
    if search.tag:
        tagged = (
            select(RecordingTag.recording_id)
            .where(
                RecordingTag.recording_id == Recording.id,
                RecordingTag.tag == search.tag.strip().lower(),
            )
            .exists()
        )
        where.append(tagged)
    if search.evidence is not None:
        flagged = (
            select(EvidenceFlag.recording_id)
            .where(EvidenceFlag.recording_id == Recording.id, EvidenceFlag.cleared_at.is_(None))
            .exists()
        )
        where.append(flagged if search.evidence else ~flagged)
    duration = func.coalesce(Recording.duration_seconds, 0.0)
    if search.min_seconds is not None:
        where.append(duration >= search.min_seconds)
    if search.max_seconds is not None:
        where.append(duration <= search.max_seconds)
    return where


def _uncategorised() -> ColumnElement[bool]:
    """A condition on `Recording`: it has no category, as kept on its own row with its
    retention (`services.retention.facts`), which the compliance index holds beside the
    officer, state and access class: a team's uncategorised are counted from the index
    alone. (A NOT EXISTS of its categories looked each candidate's up, about three for
    each one counted; NOT IN made PostgreSQL rescan every category row for each.)

    `IS NOT true`, a filter, not `= false`, which SQLite answered from the doubt
    candidates' index (the flag first): every uncategorised recording, tombstones of the
    deleted among them, read and sorted before the newest page (2.3 s at a million)."""
    return Recording.categorised.is_not(True)


def _case_recordings(uow: UnitOfWork, principal: Principal, reference: str) -> Select[str]:
    """The recordings of a case the person may see (a case they do not work on is unknown)."""
    case_id = uow.session.scalar(
        select(Case.id).where(
            func.upper(Case.reference) == reference.upper(),
            visible_cases(viewer_for(uow, principal)),
        )
    )
    if case_id is None:
        raise InvalidInput(f"no case {reference} that you work on")
    return select(CaseRecording.recording_id).where(CaseRecording.case_id == case_id)


def _check(search: Search) -> None:
    if search.sort not in SORTS:
        raise InvalidInput(f"sort by one of: {', '.join(SORTS)}")
    if search.since and search.until and search.since >= search.until:
        raise InvalidInput("the time range ends before it starts")
    for value in (search.min_seconds, search.max_seconds):
        if value is not None and value < 0:
            raise InvalidInput("a duration cannot be negative")
    if (
        search.min_seconds is not None
        and search.max_seconds is not None
        and search.min_seconds > search.max_seconds
    ):
        raise InvalidInput("the shortest duration is longer than the longest")


def _order(sort: str) -> list[tuple[SQLColumnExpression[Any], bool]]:
    """A sort's keys, each descending or not, the last one unique: what SQL orders by
    (`_page`), what `_in_order` orders by in memory and what a page's cursor names."""
    duration: SQLColumnExpression[Any] = func.coalesce(Recording.duration_seconds, 0.0)
    if sort in ("newest", "oldest"):
        return [(Recording.started_at, sort == "newest"), (Recording.id, False)]
    return [(duration, sort == "longest"), (Recording.started_at, True), (Recording.id, False)]


def _keys(sort: str, row: Any) -> tuple[cursors.Key, ...]:
    """A row's values of its sort's keys (`_order`): of a recording, or of its sort keys."""
    if sort in ("newest", "oldest"):
        return (row.started_at, row.id)
    return (row.duration_seconds or 0.0, row.started_at, row.id)


def _after(sort: str, cursor: str) -> tuple[cursors.Key, ...]:
    """The keys a search's cursor holds, in its sort's shape; any other is refused."""
    if sort in ("newest", "oldest"):
        return cursors.decode(cursor, datetime, str)
    return cursors.decode(cursor, float, datetime, str)


def _in_order(rows: Sequence[Row[*tuple[Any, ...]]], sort: str) -> list[Row[*tuple[Any, ...]]]:
    """Rows of (id, started_at, duration_seconds) in a search's order, as SQL orders them
    (`_page`): each sort a stable one, the last key first."""
    ordered = sorted(rows, key=lambda row: row.id)
    ordered.sort(key=lambda row: row.started_at, reverse=sort != "oldest")
    if sort in ("longest", "shortest"):
        ordered.sort(key=lambda row: row.duration_seconds or 0.0, reverse=sort == "longest")
    return ordered


def _page(
    uow: UnitOfWork, where: Sequence[ColumnElement[bool]], sort: str, page: Page, *, more: int = 0
) -> list[Recording]:
    """A page of a search's matches in its order (and `more` rows past it), read along the
    indexes."""
    order = [column.desc() if down else column.asc() for column, down in _order(sort)]
    return list(
        uow.session.scalars(
            select(Recording)
            .options(*UNLISTED)
            .where(*where)
            .order_by(*order)
            .limit(page.limit + more)
            .offset(page.offset)
        )
    )


def search(
    system: System,
    principal: Principal,
    query: Search,
    actor: Actor,
    *,
    page: Page = SEARCH_PAGE,
) -> Results:
    """A page of the recordings the person may see that match; the search is audited.

    An investigator sees footage beyond their cases only when the search states a
    reason (`principal.stated_reason`), which the audit event keeps.
    """
    # Refused before the database is asked (and again, harmlessly, by `search_in`).
    _check(query)
    cursors.no_deeper_than(page.offset, MAX_OFFSET)
    if page.after is not None:
        _after(query.sort, page.after)
    with system.unit_of_work() as uow:
        results = search_in(uow, principal, query, actor, page=page)
        uow.commit()
        return results


def search_in(
    uow: UnitOfWork,
    principal: Principal,
    query: Search,
    actor: Actor,
    *,
    page: Page = SEARCH_PAGE,
) -> Results:
    """`search` in the caller's unit of work (audited there, not committed)."""
    _check(query)
    cursors.no_deeper_than(page.offset, MAX_OFFSET)
    after = None if page.after is None else _after(query.sort, page.after)
    where = [
        Recording.state != DELETED,
        visible_recordings(uow, principal),
        *_filters(uow, principal, query),
    ]
    # The matches' sort keys, as many as the count goes to: a search whose matches all
    # fit (a team's week, an officer's month) is counted, ordered and paged from them,
    # in one pass over its candidates; a larger one is counted "at least" and its page
    # read in order along the index. Either way counted from the list's start, and a
    # page asked for by cursor starts right after the row it names.
    found, total = rows_up_to(
        uow,
        select(Recording.id, Recording.started_at, Recording.duration_seconds).where(*where),
        page,
    )
    if total.exact and total.total <= COUNT_BOUND:
        ordered = _in_order(found, query.sort)
        if after is not None:
            down = [descending for _, descending in _order(query.sort)]
            ordered = [
                row for row in ordered if cursors.comes_after(_keys(query.sort, row), after, down)
            ]
        else:
            ordered = ordered[page.offset :]
        ids = [row.id for row in ordered[: page.limit + 1]]
        loaded = {
            r.id: r
            for r in uow.session.scalars(
                select(Recording).options(*UNLISTED).where(among(uow.session, Recording.id, ids))
            )
        }
        rows = [loaded[rid] for rid in ids]
    else:
        # As many statements as the other way (a page's count of them never grows).
        beyond = [] if after is None else [cursors.beyond(_order(query.sort), after)]
        rows = _page(uow, [*where, *beyond], query.sort, page, more=1)
    following = (
        cursors.encode(*_keys(query.sort, rows[page.limit - 1])) if len(rows) > page.limit else None
    )
    rows = rows[: page.limit]
    items = _cards(uow, principal, rows)
    uow.audit(
        "user:recording:search",
        actor,
        object_type="system",
        object_id="recordings",
        details={
            "filters": query.given(),
            "total": total.total,
            "total_exact": total.exact,
            "offset": page.offset,
            "cursor": page.after is not None,
        },
    )
    return Results(
        items,
        total.total,
        page.limit,
        page.offset,
        uow.now(),
        total.exact,
        cursor=page.after,
        next_cursor=following,
    )


def my_footage(
    system: System,
    principal: Principal,
    *,
    team: bool = False,
    page: Page = FOOTAGE_PAGE,
) -> Footage:
    """The person's own footage (or, for a supervisor, their team's), latest docking first."""
    with system.unit_of_work() as uow:
        return my_footage_in(uow, principal, team=team, page=page)


def my_footage_in(
    uow: UnitOfWork, principal: Principal, *, team: bool = False, page: Page = FOOTAGE_PAGE
) -> Footage:
    """`my_footage` in the caller's unit of work."""
    viewer = viewer_for(uow, principal)
    if team:
        if viewer.unit is None:
            raise InvalidInput("you belong to no team")
        # The team's officers as a list: as a subquery beside the one the listing grant
        # holds, PostgreSQL took the two for independent filters, expected a few dozen
        # rows, and read the whole table and sorted it rather than walk the time index.
        members = uow.session.scalars(select(Officer.id).where(Officer.unit == viewer.unit))
        whose: ColumnElement[bool] = among(uow.session, Recording.officer_id, sorted(members))
    else:
        whose = Recording.officer_id == (viewer.officer_id or -1)
    where: tuple[ColumnElement[bool], ...] = (
        Recording.state != DELETED,
        whose,
        visible_recordings(uow, principal),
    )
    total = count_up_to(uow, select(Recording.id).where(*where), page)
    uncategorised = count_up_to(uow, select(Recording.id).where(*where, _uncategorised()))
    if team and not total.exact:
        # A large team (a borough's is a thirtieth of the force): its newest are found
        # soonest walking the force's time index backwards, where reading each officer's
        # footage and sorting it would read the team's every recording for a page.
        where = tuple(not_by_officer(term) for term in where)
    rows = list(
        uow.session.scalars(
            select(Recording)
            .options(*UNLISTED)
            .where(*where)
            .order_by(Recording.stored_at.desc(), Recording.started_at.desc(), Recording.id)
            .limit(page.limit)
            .offset(page.offset)
        )
    )
    cards = _cards(uow, principal, rows)
    return Footage(
        _dockings(cards),
        total.total,
        uncategorised.total,
        page.limit,
        page.offset,
        uow.now(),
        total.exact,
        uncategorised.exact,
    )


def _dockings(cards: list[Card]) -> list[Docking]:
    """Group cards (latest arrival first) into the dockings they arrived in."""
    groups: list[Docking] = []
    for card in cards:
        last = groups[-1] if groups else None
        if (
            last is not None
            and last.dock == card.dock
            and last.cards[-1].stored_at - card.stored_at <= DOCKING_GAP
        ):
            last.cards.append(card)
        else:
            groups.append(Docking(card.dock, card.stored_at, [card]))
    for group in groups:
        # Within a docking, in the order the officer recorded them.
        group.cards.sort(key=lambda c: (c.started_at, c.id))
    return groups


def cards(system: System, principal: Principal, recording_ids: Sequence[str]) -> list[Card]:
    """The recordings with these ids that the person may see, in the order asked."""
    with system.unit_of_work() as uow:
        return cards_in(uow, principal, recording_ids)


def cards_in(
    uow: UnitOfWork,
    principal: Principal,
    recording_ids: Sequence[str],
    facts: dict[str, RetentionFacts] | None = None,
) -> list[Card]:
    """`cards` in the caller's unit of work (with the retention facts of those the caller
    has read already in it)."""
    wanted = list(dict.fromkeys(recording_ids))
    rows = list(
        uow.session.scalars(
            select(Recording)
            .options(*UNLISTED)
            .where(
                among(uow.session, Recording.id, wanted),
                Recording.state != DELETED,
                visible_recordings(uow, principal),
            )
        )
    )
    found = {card.id: card for card in _cards(uow, principal, rows, facts)}
    return [found[rid] for rid in wanted if rid in found]


def case_cards(system: System, principal: Principal, case_id: int) -> list[Card]:
    """A case's live recordings that the person may see, oldest first."""
    with system.unit_of_work() as uow:
        rows = list(
            uow.session.scalars(
                select(Recording)
                .join(CaseRecording, CaseRecording.recording_id == Recording.id)
                .where(
                    CaseRecording.case_id == case_id,
                    Recording.state != DELETED,
                    visible_recordings(uow, principal),
                )
                .order_by(Recording.started_at, Recording.id)
            )
        )
        return _cards(uow, principal, rows)


def _cards(
    uow: UnitOfWork,
    principal: Principal,
    rows: Sequence[Recording],
    read: dict[str, RetentionFacts] | None = None,
) -> list[Card]:
    """Cards for a page of recordings, in a handful of queries whatever the page's size
    (the retention facts read for those the caller has not `read` already)."""
    if not rows:
        return []
    session = uow.session
    ids = [r.id for r in rows]
    people = {
        officer.id: officer
        for officer in session.scalars(
            select(Officer).where(
                among(session, Officer.id, {r.officer_id for r in rows if r.officer_id})
            )
        )
    }
    cameras = dict(
        session.execute(
            select(Camera.id, Camera.serial).where(
                among(session, Camera.id, {r.camera_id for r in rows})
            )
        ).all()
    )
    docks = dict(
        session.execute(
            select(Dock.id, Dock.name).where(
                among(session, Dock.id, {r.dock_id for r in rows if r.dock_id})
            )
        ).all()
    )
    tags: dict[str, list[str]] = defaultdict(list)
    for rid, tag in session.execute(
        select(RecordingTag.recording_id, RecordingTag.tag)
        .where(among(session, RecordingTag.recording_id, ids))
        .order_by(RecordingTag.tag)
    ):
        tags[rid].append(tag)
    case_ids: dict[str, set[int]] = defaultdict(set)
    for rid, case_id in session.execute(
        select(CaseRecording.recording_id, CaseRecording.case_id).where(
            among(session, CaseRecording.recording_id, ids)
        )
    ):
        case_ids[rid].add(case_id)
    read = read or {}
    facts = read | retention_facts(uow, [r for r in rows if r.id not in read])
    viewer = viewer_for(uow, principal)
    now = uow.now()
    found = []
    for recording in rows:
        officer = people.get(recording.officer_id or -1)
        # Retention as this person may know it (the door's `shown_decision`): a complaint
        # hold they may not see is left out, so they see what they would see without it.
        known = shown_facts(viewer, facts[recording.id])
        decision = shown_decision(viewer, facts[recording.id])
        access = RecordingFacts(
            recording.officer_id,
            officer.unit if officer else None,
            parse_access_class(recording.access_class),
            frozenset(case_ids[recording.id]),
        )
        duration = recording.duration_seconds
        if duration is None:
            duration = (recording.ended_at - recording.started_at).total_seconds()
        actions = permitted(viewer, access)
        # Who may only know that a recording exists (an officer's own confidential footage)
        # learns nothing of why: not its categories (the one complaints use), its notes or
        # the rule that keeps it.
        described = Action.VIEW in actions
        found.append(
            Card(
                id=recording.id,
                started_at=recording.started_at,
                ended_at=recording.ended_at,
                duration_seconds=duration,
                stored_at=recording.stored_at,
                state=recording.state,
                camera=cameras.get(recording.camera_id, "?"),
                dock=docks.get(recording.dock_id or -1),
                officer=officer.warrant_number if officer else None,
                officer_name=officer.name if officer else None,
                unit=officer.unit if officer else None,
                title=recording.title if described else None,
                reference=recording.reference if described else None,
                categories=tuple(sorted(c.name for c in known.categories)) if described else (),
                tags=tuple(tags[recording.id]) if described else (),
                evidence=known.evidence_flags > 0 if described else False,
                has_thumbnail=recording.thumbnail_sha256 is not None and described,
                delete_due_at=decision.delete_at if described else None,
                pending_deletion=decision.is_pending(now) if described else False,
                retention_reason=decision.reason if described else "",
                actions=actions,
            )
        )
    return found


def actions_on_each(
    system: System, principal: Principal, recording_ids: Sequence[str]
) -> dict[str, frozenset[Action]]:
    """What the person may do to each of these recordings that they may see (the rest left
    out), as `_cards` decides it, in two queries: for a list that shows no more of each."""
    if not recording_ids:
        return {}
    with system.unit_of_work() as uow:
        return actions_on_each_in(uow, principal, recording_ids)


def actions_on_each_in(
    uow: UnitOfWork, principal: Principal, recording_ids: Sequence[str]
) -> dict[str, frozenset[Action]]:
    """`actions_on_each` in the caller's unit of work."""
    wanted = list(dict.fromkeys(recording_ids))
    if not wanted:
        return {}
    viewer = viewer_for(uow, principal)
    rows = uow.session.execute(
        select(Recording.id, Recording.officer_id, Recording.access_class, Officer.unit)
        .outerjoin(Officer, Officer.id == Recording.officer_id)
        .where(
            among(uow.session, Recording.id, wanted),
            Recording.state != DELETED,
            visible_recordings(uow, principal),
        )
    ).all()
    case_ids: dict[str, set[int]] = defaultdict(set)
    for rid, case_id in uow.session.execute(
        select(CaseRecording.recording_id, CaseRecording.case_id).where(
            among(uow.session, CaseRecording.recording_id, [row.id for row in rows])
        )
    ):
        case_ids[rid].add(case_id)
    return {
        row.id: permitted(
            viewer,
            RecordingFacts(
                row.officer_id,
                row.unit,
                parse_access_class(row.access_class),
                frozenset(case_ids[row.id]),
            ),
        )
        for row in rows
    }


def actions_on(system: System, principal: Principal, recording_id: str) -> frozenset[Action]:
    """What the person may do to one recording (nothing, if it is unknown to them)."""
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, recording_id)
        if recording is None:
            return frozenset()
        found = _cards(uow, principal, [recording])
        return found[0].actions


@dataclass(frozen=True)
class Outcome:
    """What became of one recording in a change to several."""

    recording_id: str
    ok: bool
    message: str


def add_category(
    system: System,
    principal: Principal,
    recording_ids: Sequence[str],
    category: str,
    actor: Actor,
) -> list[Outcome]:
    """Add a category to each recording, keeping the ones it has (each change audited).

    Each recording is categorised in its own transaction by `categories.set_categories`,
    so one refusal (a restricted recording, say) does not undo the others.
    """
    wanted = list(dict.fromkeys(recording_ids))
    if not wanted:
        raise InvalidInput("choose at least one recording")
    if len(wanted) > MAX_BULK:
        raise InvalidInput(f"categorise at most {MAX_BULK} recordings at once")
    if not category.strip():
        raise InvalidInput("choose a category")
    known = {card.id: card for card in cards(system, principal, wanted)}
    outcomes = []
    for rid in wanted:
        card = known.get(rid)
        if card is None:
            outcomes.append(Outcome(rid, False, f"no recording {rid}"))
            continue
        names = sorted({*card.categories, category.strip()}, key=str.lower)
        try:
            categories.set_categories(system, principal, rid, names, None, actor)
        except CustodyError as exc:
            outcomes.append(Outcome(rid, False, exc.message))
        else:
            outcomes.append(Outcome(rid, True, "categorised"))
    return outcomes
