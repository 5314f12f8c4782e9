"""Issue 16: the compliance page reads each recording's own facts from its row (categorised,
evidential, annotated: migration 0024), kept by every change that moves them, and sums a
team's whole days from the per-day summary the database keeps of them (migration 0025).

After every kind of change — categorise, uncategorise, a category's rule changed, a note, a
bookmark added and removed, a review, a sign-off, a complaint hold, an officer moving team,
a deletion, footage added to a supervisor's case — the kept facts equal the facts decided
from scratch, the summary equals a recount of the recordings (`compliance_days`), and every
reader's page equals the page as it was counted before (`compliance_before`, EXISTS per
recording). In Hackney, alice (1234AB) and bob (5678CD); in Camden, dave (9999EF).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select, text

from custody.db.models import Recording
from custody.db.models.lifecycle import Category
from custody.domain.actor import Actor
from custody.domain.retention import DELETED
from custody.services.evidence import annotations, cases, categories, holds
from custody.services.fleet import registry
from custody.services.retention import compliance, review, sweep
from custody.services.system import System
from tests.integration import compliance_before as before
from tests.integration.compliance_days import hours_wrong, nearby_wrong, summary_wrong
from tests.integration.lifecycle_world import World, build_world

ACTOR = Actor("user:test")
DAY = timedelta(days=1)
# Who reads the page, and for which team: a supervisor their own, the force, a team of it.
READERS = (
    ("sam", None),
    ("carol", None),
    ("pat", None),
    ("pat", "Hackney"),
    ("admin2", None),
    ("audrey", "Camden"),
)


def page(world: World, who: str, team: str | None, counted: Any = compliance) -> dict[str, Any]:
    found = counted.compliance(world.system, world.people[who], ACTOR, team=team).model_dump()
    found.pop("generated_at")
    return dict(found)


def facts_wrong(system: System) -> list[str]:
    """Live recordings whose kept facts differ from the facts decided from scratch."""
    with system.unit_of_work() as uow:
        rows = uow.session.execute(
            select(
                Recording.id,
                Recording.categorised,
                Recording.evidential,
                Recording.annotated,
                before.categorised,
                before.evidential,
                before.annotated,
            ).where(Recording.state != DELETED)
        ).all()
    return [row[0] for row in rows if tuple(row[1:4]) != tuple(bool(v) for v in row[4:7])]


def assert_kept(world: World, after: str) -> None:
    assert facts_wrong(world.system) == [], f"kept facts drifted after {after}"
    with world.system.engine.connect() as connection:
        assert nearby_wrong(connection) == {}, f"evidential neighbours drifted after {after}"
        assert summary_wrong(connection) == {}, f"the summary drifted after {after}"
        assert hours_wrong(connection) == {}, f"the hourly summary drifted after {after}"
    for who, team in READERS:
        assert page(world, who, team) == page(world, who, team, before), (after, who, team)


def test_the_kept_facts_and_the_page_match_a_recount_after_every_change(
    system: System,
) -> None:
    world = build_world(system)
    people = world.people
    now = system.clock.now()
    old = now - 26 * DAY  # due for deletion within 7 days
    arrest = world.record("1234AB", old)
    same_incident = world.record("1234AB", old + timedelta(minutes=40))
    noted = world.record("1234AB", old - 2 * DAY)
    world.record("1234AB", old - DAY)  # never categorised
    routine = world.record("5678CD", old)
    traffic = world.record("5678CD", old + timedelta(hours=1))
    recent = world.record("5678CD", now - 2 * DAY)
    camden = world.record("9999EF", old)
    gone = world.record("9999EF", now - 40 * DAY)  # past its 31 days: the sweep takes it
    assert_kept(world, "recording")

    for rid, name, who in (
        (arrest, "Arrest", "alice"),
        (same_incident, "Non-evidential", "alice"),
        (noted, "Non-evidential", "alice"),
        (routine, "Non-evidential", "bob"),
        (traffic, "Road traffic", "bob"),
        (recent, "Non-evidential", "bob"),
        (camden, "Non-evidential", "dave"),
    ):
        categories.set_categories(system, people[who], rid, [name], None, ACTOR)
    assert_kept(world, "categorise")

    annotations.add_note(system, people["alice"], noted, "he pushed me", ACTOR)
    assert_kept(world, "a note")
    mark = annotations.add_bookmark(system, people["bob"], recent, 5.0, "a knife", ACTOR)
    assert world.row(recent).annotated
    assert_kept(world, "a bookmark")
    annotations.remove_bookmark(system, people["bob"], recent, mark.id, ACTOR)
    assert not world.row(recent).annotated
    assert_kept(world, "a bookmark removed")

    categories.set_categories(system, people["alice"], arrest, [], "wrong one", ACTOR)
    assert (world.row(arrest).categorised, world.row(arrest).evidential) == (False, False)
    assert_kept(world, "uncategorise")
    categories.set_categories(system, people["alice"], arrest, ["Arrest"], None, ACTOR)
    assert_kept(world, "categorise again")

    with system.unit_of_work() as uow:
        road = uow.session.scalar(select(Category.id).where(Category.name == "Road traffic"))
    assert road is not None
    categories.update_category(
        system,
        people["admin2"],
        road,
        {"evidential": False, "retention_days": 31, "review_days": None},
        "not evidence",
        ACTOR,
    )
    assert not world.row(traffic).evidential
    assert_kept(world, "a category's rule changed")

    review.mark_reviewed(system, people["sam"], routine, "looked: routine", ACTOR)
    assert_kept(world, "a review")
    compliance.sign_off(system, people["sam"], ACTOR)
    assert_kept(world, "a sign-off")

    holds.place_hold(
        system, people["pat"], kind="complaint", reason="complaint 9", actor=ACTOR,
        recording_ids=[same_incident],
    )  # fmt: skip
    assert_kept(world, "a complaint hold")

    registry.update_officer(system, people["admin2"], "5678CD", unit="Camden")
    assert_kept(world, "bob moving to Camden")

    assert sweep.delete_recording(system, gone, ACTOR)[0] == "deleted"
    assert_kept(world, "a deletion")


def test_footage_a_supervisor_may_not_list_changes_none_of_their_figures(
    system: System,
) -> None:
    """Confidential evidential footage of alice's, beside her non-evidential footage: the
    force sees it (one more recording, one more doubtful), her supervisor sees nothing move."""
    world = build_world(system)
    people = world.people
    old = system.clock.now() - 26 * DAY
    routine = world.record("1234AB", old)
    categories.set_categories(system, people["alice"], routine, ["Non-evidential"], None, ACTOR)
    seen_before = {(who, team): page(world, who, team) for who, team in READERS}

    complaint = world.record("1234AB", old + timedelta(minutes=30))
    categories.set_categories(system, people["pat"], complaint, ["Complaint"], None, ACTOR)
    assert world.row(complaint).access_class == "confidential"

    assert page(world, "sam", None) == seen_before[("sam", None)]
    alice, was = (
        next(row for row in found["officers"] if row["officer"] == "1234AB")
        for found in (page(world, "pat", "Hackney"), seen_before[("pat", "Hackney")])
    )
    assert (alice["recordings"], alice["doubtful"]) == (2, 1)
    assert (was["recordings"], was["doubtful"]) == (1, 0)
    assert_kept(world, "confidential footage")


def test_a_supervisor_counts_the_confidential_footage_of_their_case_and_nothing_else(
    system: System,
) -> None:
    """Sam's page sums Hackney's normal and restricted footage from the summary; alice's
    confidential footage is counted for him only once it is in a case of his, from the
    recording itself, with the doubt it casts on her footage of the same incident."""
    world = build_world(system)
    people = world.people
    now = system.clock.now()
    old = now - 26 * DAY
    routine = world.record("1234AB", old)
    categories.set_categories(system, people["alice"], routine, ["Non-evidential"], None, ACTOR)
    complaint = world.record("1234AB", old + timedelta(minutes=30))
    categories.set_categories(system, people["pat"], complaint, ["Complaint"], None, ACTOR)
    case = cases.create_case(
        system, people["pat"], reference="01/2345/27", title="Op Lantern", actor=ACTOR,
        members=["sam"],
    )  # fmt: skip
    without = page(world, "sam", None)
    assert_kept(world, "a case of sam's, empty")

    cases.add_to_case(system, people["pat"], case.id, complaint, None, ACTOR)
    with_it = page(world, "sam", None)
    alice, was = (
        next(row for row in found["officers"] if row["officer"] == "1234AB")
        for found in (with_it, without)
    )
    assert (was["recordings"], was["doubtful"]) == (1, 0)
    assert (alice["recordings"], alice["doubtful"]) == (2, 1)
    assert sum(week["recorded"] for week in with_it["weeks"]) == (
        sum(week["recorded"] for week in without["weeks"]) + 1
    )
    assert_kept(world, "confidential footage in sam's case")


def test_the_summary_equals_a_recount_after_an_officer_moves_team_while_their_footage_changes(
    system: System,
) -> None:
    """Bob moves between Hackney and Camden while his footage is categorised and recorded at
    the same time: each change waits for the move or the move for it, and no recording is
    counted in a team he has left."""

    world = build_world(system)
    people = world.people
    now = system.clock.now()
    footage = [world.record("5678CD", now - (3 + n) * DAY) for n in range(4)]
    failures: list[BaseException] = []

    def move() -> None:
        try:
            for unit in ("Camden", "Hackney", "Camden", "Hackney", "Camden"):
                registry.update_officer(system, people["admin2"], "5678CD", unit=unit)
        except BaseException as error:  # reported by the test below
            failures.append(error)

    mover = threading.Thread(target=move)
    mover.start()
    try:
        for n, rid in enumerate(footage):
            name = "Non-evidential" if n % 2 else "Road traffic"
            categories.set_categories(system, people["pat"], rid, [name], None, ACTOR)
            world.record("5678CD", now - (10 + n) * DAY)
    finally:
        mover.join()
    assert failures == []
    with system.engine.connect() as connection:
        assert summary_wrong(connection) == {}
        assert hours_wrong(connection) == {}
    assert_kept(world, "moves and changes at once")


def _waiting(connection: Any, pid: int | None = None) -> set[int]:
    """The backends of this database waiting for a lock (or whether `pid` is one)."""
    rows = connection.execute(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    ).scalars()
    return {row for row in rows if pid is None or row == pid}


def _until(done: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.01)


# Test triggers that hold a transaction at a chosen step until the test releases the
# advisory lock named in them (taken first by the test's own session).
PAUSED_MOVE = (
    # After the move's update of the officer, before its counts move (fired by name).
    "CREATE TRIGGER compliance_a_paused AFTER UPDATE OF unit ON officers"
    " FOR EACH ROW EXECUTE FUNCTION test_pause(1601)"
)
PAUSED_CHANGE = (
    # After a recording's counts have changed, before its transaction ends.
    "CREATE TRIGGER compliance_z_paused AFTER UPDATE OF categorised ON recordings"
    " FOR EACH ROW EXECUTE FUNCTION test_pause(1602)"
)


@contextmanager
def _paused(system: System, *triggers: str) -> Iterator[Connection]:
    """A session of the test's own holding advisory locks 1601 and 1602, with `triggers`
    pausing other transactions on them; the triggers go when it ends."""
    with system.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
        holder.execute(
            text(
                "CREATE FUNCTION test_pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " PERFORM pg_advisory_xact_lock(TG_ARGV[0]::bigint); RETURN NULL; END $$"
            )
        )
        for trigger in triggers:
            holder.execute(text(trigger))
        holder.execute(text("SELECT pg_advisory_lock(1601), pg_advisory_lock(1602)"))
        try:
            yield holder
        finally:
            holder.execute(text("SELECT pg_advisory_unlock_all()"))
            for trigger in triggers:
                name, table = trigger.split()[2], trigger.split(" ON ")[1].split()[0]
                holder.execute(text(f"DROP TRIGGER {name} ON {table}"))
            holder.execute(text("DROP FUNCTION test_pause()"))


def _in_thread(step: Any, failures: list[BaseException]) -> threading.Thread:
    def guarded() -> None:
        try:
            step()
        except BaseException as error:  # reported by the test
            failures.append(error)

    thread = threading.Thread(target=guarded)
    thread.start()
    return thread


def test_a_change_begun_while_a_move_is_under_way_waits_for_it(system: System) -> None:
    """The move has updated bob's row and not yet moved his counts when his footage is
    categorised: the change waits for the move (its officer's lock, `db.officer_locks`),
    then counts its recording in bob's new team."""
    if system.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a move and a change never interleave")
    world = build_world(system)
    people = world.people
    rid = world.record("5678CD", system.clock.now() - 3 * DAY)
    failures: list[BaseException] = []
    with _paused(system, PAUSED_MOVE, PAUSED_CHANGE) as holder:
        mover = _in_thread(
            lambda: registry.update_officer(system, people["admin2"], "5678CD", unit="Camden"),
            failures,
        )
        _until(lambda: len(_waiting(holder)) == 1, "the move paused")
        (moving,) = _waiting(holder)
        changer = _in_thread(
            lambda: categories.set_categories(
                system, people["pat"], rid, ["Non-evidential"], None, ACTOR
            ),
            failures,
        )
        _until(lambda: len(_waiting(holder)) == 2, "the change waited")
        holder.execute(text("SELECT pg_advisory_unlock(1601)"))
        # The move ends, or waits for the change: either way, whatever it counts is counted.
        _until(lambda: not mover.is_alive() or _waiting(holder, moving), "the move settled")
        holder.execute(text("SELECT pg_advisory_unlock(1602)"))
        mover.join()
        changer.join()
    assert failures == []
    assert world.row(rid).categorised
    assert_kept(world, "a change begun while a move was under way")


def test_a_move_waits_for_an_open_change_of_the_officer_s_footage_before_touching_them(
    system: System,
) -> None:
    """While a change of bob's footage is open (held by a test trigger after its counts),
    a move of bob waits on his advisory lock (`custody.db.officer_locks`) without having
    touched his row; once the change commits, the move counts what it left."""
    from custody.db import officer_locks

    if system.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a move and a change never interleave")
    world = build_world(system)
    people = world.people
    rid = world.record("5678CD", system.clock.now() - 3 * DAY)
    failures: list[BaseException] = []
    with _paused(system, PAUSED_CHANGE) as holder:
        changer = _in_thread(
            lambda: categories.set_categories(
                system, people["pat"], rid, ["Non-evidential"], None, ACTOR
            ),
            failures,
        )
        _until(lambda: len(_waiting(holder)) == 1, "the change paused")
        mover = _in_thread(
            lambda: registry.update_officer(system, people["admin2"], "5678CD", unit="Camden"),
            failures,
        )
        _until(lambda: len(_waiting(holder)) == 2, "the move waited")
        waited_on = holder.execute(
            text(
                "SELECT l.locktype, l.classid FROM pg_locks l JOIN pg_stat_activity a"
                " ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()"
                " AND l.objid IS DISTINCT FROM 1602"
            )
        ).all()
        assert [tuple(row) for row in waited_on] == [("advisory", officer_locks.KEY)]
        # Bob's row is not locked for update by the waiting move.
        holder.execute(
            text("SELECT 1 FROM officers WHERE warrant_number = '5678CD' FOR NO KEY UPDATE NOWAIT")
        )
        holder.execute(text("SELECT pg_advisory_unlock(1602)"))
        changer.join()
        mover.join()
    assert failures == []
    assert world.row(rid).categorised
    assert_kept(world, "a move that waited for a change")


def test_a_complaint_hold_moves_the_force_s_due_soon_only_for_those_who_know_of_it(
    system: System,
) -> None:
    """The force's rows are summed from the summary by the due day each reader may know: a
    complaint hold on bob's footage falling due takes it out of professional standards'
    due-soon, and leaves the administrator's figures as they were."""
    world = build_world(system)
    people = world.people
    routine = world.record("5678CD", system.clock.now() - 26 * DAY)
    categories.set_categories(system, people["bob"], routine, ["Non-evidential"], None, ACTOR)
    told = {who: page(world, who, None) for who in ("admin2", "pat")}

    holds.place_hold(
        system, people["pat"], kind="complaint", reason="complaint 12", actor=ACTOR,
        recording_ids=[routine],
    )  # fmt: skip
    assert page(world, "admin2", None) == told["admin2"]
    hackney, was = (
        next(row for row in found["teams"] if row["name"] == "Hackney")
        for found in (page(world, "pat", None), told["pat"])
    )
    assert (was["due_soon_unreviewed"], hackney["due_soon_unreviewed"]) == (1, 0)
    assert_kept(world, "a complaint hold on footage falling due")


def test_the_force_s_page_between_whole_days_is_the_page_counted_before_at_any_time(
    system: System,
) -> None:
    """The force's page sums what falls between whole days by the hour (migration 0027) and
    counts the hour at each edge from the recordings: at times of day off the hour, with
    footage in the month's first part-hour, in its first whole hours, falling due within
    the last due hour and just after it, each reader's page equals the page as counted
    before, and the hourly summary a recount."""
    from custody.domain.clock import ManualClock

    world = build_world(system)
    people = world.people
    clock = system.clock
    assert isinstance(clock, ManualClock)
    at = clock.now() + timedelta(minutes=17, seconds=23)
    clock.set(at)
    month_start = at - 31 * DAY
    due_by = at + 7 * DAY
    minute = timedelta(minutes=1)
    last_due = due_by - 30 * DAY  # non-evidential footage started then is due at `due_by`
    footage = [
        ("1234AB", month_start - 5 * minute, "Non-evidential"),  # before the month
        ("5678CD", month_start + 2 * minute, "Non-evidential"),  # the first part-hour
        ("9999EF", month_start + 40 * minute, None),
        ("1234AB", month_start + 50 * minute, "Non-evidential"),  # the first whole hour
        ("9999EF", month_start + 5 * 60 * minute, "Arrest"),
        ("5678CD", month_start + 15 * 60 * minute, None),
        ("1234AB", month_start + DAY, "Non-evidential"),
        ("9999EF", last_due - 10 * minute, "Non-evidential"),  # due in the last due hour
        ("1234AB", last_due - 10 * minute, "Non-evidential"),  # the same, on hold
        ("9999EF", last_due + 10 * minute, "Non-evidential"),  # that hour, after due_by
        ("9999EF", last_due - 2 * 60 * minute, "Non-evidential"),  # the last due day
        ("9999EF", last_due - 12 * 60 * minute, None),  # due the day before
    ]
    who = {"1234AB": "alice", "5678CD": "bob", "9999EF": "dave"}
    made = []
    for warrant, started, name in footage:
        rid = world.record(warrant, started)
        made.append(rid)
        if name:
            categories.set_categories(system, people[who[warrant]], rid, [name], None, ACTOR)
    due = world.row(made[7]).seen_delete_due_at
    assert due is not None and due_by - 20 * minute < due <= due_by, "not due in the last hour"
    annotations.add_note(system, people["alice"], made[6], "he pushed me", ACTOR)
    holds.place_hold(
        system, people["pat"], kind="complaint", reason="complaint 21", actor=ACTOR,
        recording_ids=[made[8]],
    )  # fmt: skip
    for later in (timedelta(0), 25 * minute, 43 * minute, 14 * 60 * minute + 50 * minute):
        clock.set(at + later)
        assert_kept(world, f"{later} later")
    clock.set(_midnight_after(at) - 31 * DAY + 31 * DAY)
    assert_kept(world, "at midnight")


def _midnight_after(at: Any) -> Any:
    return at.replace(hour=0, minute=0, second=0, microsecond=0) + DAY


def test_a_team_s_oldest_doubtful_are_the_page_counted_before_with_more_than_a_page(
    system: System,
) -> None:
    """With more than a page of doubtful footage over a team's month, early and late, the
    page lists the oldest fifty in order, as counted before."""
    world = build_world(system)
    people = world.people
    month_start = system.clock.now() - 31 * DAY
    minute = timedelta(minutes=1)
    starts = [month_start + (10 + 45 * n) * minute for n in range(30)]
    starts += [month_start + DAY + n * 5 * 60 * minute for n in range(30)]
    for n, started in enumerate(starts):
        warrant, name = ("1234AB", "alice") if n % 2 else ("5678CD", "bob")
        rid = world.record(warrant, started)
        categories.set_categories(system, people[name], rid, ["Non-evidential"], None, ACTOR)
        annotations.add_note(system, people[name], rid, f"note {n}", ACTOR)
    shown = page(world, "sam", None)["doubtful"]
    assert len(shown) == 50 and shown[-1]["started_at"] > (month_start + 4 * DAY).isoformat()
    for who, team in (("sam", None), ("pat", "Hackney"), ("pat", None)):
        assert page(world, who, team) == page(world, who, team, before), (who, team)
