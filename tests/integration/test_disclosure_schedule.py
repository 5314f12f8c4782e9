"""The case's disclosure schedule (issue 10, point 1), through the services.

dana investigates case 01/2345/26 with two of alice's recordings; fran, the disclosure
officer, works on it with her. They mark each item an exhibit (A. Officer's: AO/1, AO/2…)
or unused material; ian, an investigator on no part of the case, and bob, a supervisor on
its team, may not; the schedule reads the same whether or not a complaint hold is on one
of its recordings.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

import pytest

from custody.db.models.disclosure import ScheduleItem
from custody.domain.actor import Actor
from custody.domain.errors import Conflict, InvalidInput, NotFound, NotPermitted
from custody.domain.principal import Principal
from custody.services.audit_trail import trail
from custody.services.disclosure import schedule
from custody.services.evidence import cases, holds
from custody.services.identity.users import principal_named
from custody.services.system import System
from tests.factories import appoint
from tests.people import Force, make_force, store_recording
from tests.snapshots import world_of


class World:
    def __init__(self, force: Force) -> None:
        self.force = force
        self.system = force.system
        appoint(self.system, force.admin, "ian", "investigator", unit="CID")
        self.first = store_recording(force, os.urandom(4_000))
        self.second = store_recording(force, os.urandom(4_000))
        self.outside = store_recording(force, os.urandom(4_000))
        dana, actor = self.who("dana")
        self.case = cases.create_case(
            self.system, dana, reference="01/2345/26", title="Assault", actor=actor,
            members=["fran", "bob"],
        ).id  # fmt: skip
        for rid in (self.first, self.second):
            cases.add_to_case(self.system, dana, self.case, rid, None, actor)

    def who(self, name: str) -> tuple[Principal, Actor]:
        return principal_named(self.system, name), Actor(f"user:{name}")

    def mark(self, name: str, **marking: Any) -> Any:
        person, actor = self.who(name)
        return schedule.mark(self.system, person, marking.pop("case", self.case), actor, **marking)

    def schedule(self, name: str) -> Any:
        person, actor = self.who(name)
        return schedule.get_schedule(self.system, person, self.case, actor)


@pytest.fixture
def world(system: System) -> World:
    return world_of(_world, system)


def _world(system: System) -> World:
    return World(make_force(system))


def test_the_disclosure_officer_marks_exhibits_and_unused_material(world: World) -> None:
    before = world.schedule("fran")
    assert [line.use for line in before.lines] == [None, None]
    assert [line.use_label for line in before.lines] == ["Not marked yet"] * 2
    # The producer is the officer who recorded it, A. Officer: AO/1, then AO/2.
    assert [line.suggested_reference for line in before.lines] == ["AO/1", "AO/2"]

    line = world.mark("fran", recording_id=world.first, use="exhibit", reference=" ao / 1 ")
    assert (line.use, line.reference, line.marked_by) == ("exhibit", "AO/1", "user:fran")
    assert line.officer == "A. Officer (1234AB)"
    world.mark("dana", recording_id=world.second, use="unused_sensitive",
               description="informant visible")  # fmt: skip
    after = world.schedule("dana")
    assert [(x.reference, x.use_label, x.description) for x in after.lines] == [
        ("AO/1", "Exhibit", "Body-worn video"),
        (None, "Unused — sensitive", "informant visible"),
    ]
    # The unmarked are offered the next free reference of their producer.
    assert after.lines[1].suggested_reference == "AO/2"


def test_references_are_unique_in_the_case_and_sorted_by_number(world: World) -> None:
    world.mark("fran", recording_id=world.first, use="exhibit", reference="AO/10")
    with pytest.raises(
        Conflict, match="AO/10 is taken in case 01/2345/26: the next free one is AO/11"
    ):
        world.mark("fran", recording_id=world.second, use="exhibit", reference="AO/10")
    world.mark("fran", recording_id=world.second, use="exhibit", reference="AO/2")
    assert [line.reference for line in world.schedule("fran").lines] == ["AO/2", "AO/10"]
    # Marking an item again with its own reference is no clash.
    world.mark("fran", recording_id=world.first, use="exhibit", reference="AO/10",
               description="the arrest")  # fmt: skip


def test_a_change_of_marking_is_audited_with_who_when_and_what_it_was(
    world: World, clock: Any
) -> None:
    world.mark("dana", recording_id=world.first, use="unused_not_sensitive")
    world.mark("fran", recording_id=world.first, use="exhibit", reference="AO/1")
    erin, actor = world.who("erin")
    events = [
        e
        for e in trail.recording_trail(world.system, erin, world.first, actor).events
        if e.tag == "user:schedule:mark"
    ]
    assert [e.actor for e in events] == ["user:dana", "user:fran"]
    last = json.loads(events[-1].details or "{}")
    assert last["before"] == {"use": "unused_not_sensitive", "reference": None}
    assert (last["use"], last["reference"], last["case"]) == ("exhibit", "AO/1", world.case)
    with world.system.unit_of_work() as uow:
        items = uow.session.query(ScheduleItem).all()
        assert len(items) == 1, "a change marks the same item again, not a second one"


@pytest.mark.parametrize(
    ("marking", "words"),
    [
        ({"use": "exhibit"}, "an exhibit needs a reference"),
        ({"use": "exhibit", "reference": "LJ1"}, "INITIALS/NUMBER"),
        ({"use": "unused_sensitive", "reference": "LJ/1"}, "only an exhibit has a reference"),
        ({"use": "evidence"}, "use must be one of exhibit, unused_not_sensitive"),
        ({"use": "exhibit", "reference": "LJ/1", "description": "x" * 1001}, "at most 1000"),
    ],
)
def test_bad_markings_are_refused_and_change_nothing(
    world: World, marking: dict[str, str], words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        world.mark("fran", recording_id=world.first, **marking)
    assert [line.use for line in world.schedule("fran").lines] == [None, None]


def test_only_the_cases_own_material_is_marked(world: World) -> None:
    # fran may not know of footage outside her cases; erin (professional standards) may.
    with pytest.raises(NotFound, match=f"^no recording {world.outside}$"):
        world.mark("fran", recording_id=world.outside, use="unused_not_sensitive")
    with pytest.raises(NotFound, match=f"recording {world.outside} is not in case 01/2345/26"):
        world.mark("erin", recording_id=world.outside, use="unused_not_sensitive")
    with pytest.raises(NotFound, match="no clip nope"):
        world.mark("fran", clip_id="nope", use="unused_not_sensitive")


def test_who_may_not_mark_hears_what_they_would_for_no_case_at_all(world: World) -> None:
    never = world.case + 1000
    # ian investigates, but not this case: it does not exist, as for an id never used.
    answers = []
    for case in (world.case, never):
        with pytest.raises(NotFound) as refused:
            world.mark("ian", case=case, recording_id=world.first, use="unused_sensitive")
        answers.append(refused.value.message.replace(str(case), "N"))
    assert answers == ["no case N", "no case N"]
    # bob supervises and is on the team; marking is not a supervisor's: the same refusal
    # for this case and one never used. charlie, an officer, alike.
    for name in ("bob", "charlie", "audrey"):
        said = []
        for case in (world.case, never):
            with pytest.raises(NotPermitted) as refused:
                world.mark(name, case=case, recording_id=world.first, use="unused_sensitive")
            said.append(refused.value.message)
        assert said[0] == said[1] and "may not mark schedule" in said[0]
    assert [line.use for line in world.schedule("fran").lines] == [None, None]


def test_a_clip_is_an_item_of_its_own_on_the_schedule(world: World) -> None:
    # The clip is cut from real footage elsewhere (test_disclosure_clips); here its row is
    # what the schedule reads, as a clip cut by stream copy leaves it.
    from custody.db.models.disclosure import Clip

    with world.system.unit_of_work() as uow:
        uow.session.add(
            Clip(
                id="11111111-1111-4111-8111-111111111111", recording_id=world.first,
                original_sha256="0" * 64, in_seconds=2.3, out_seconds=4.1,
                cut_start_seconds=2.0, method="stream-copy", sha256="a" * 64, size=10,
                duration_seconds=2.12, title="The arrest", made_by="user:dana",
                made_at=uow.now(),
            )
        )  # fmt: skip
        uow.commit()
    lines = world.schedule("fran").lines
    # The clip follows the recording it was cut from.
    at = [x.clip_id for x in lines].index("11111111-1111-4111-8111-111111111111")
    assert lines[at].kind == "clip" and lines[at].sha256 == "a" * 64
    assert lines[at - 1].kind == "recording" and lines[at - 1].recording_id == world.first
    marked = world.mark("fran", clip_id="11111111-1111-4111-8111-111111111111",
                        use="exhibit", reference="AO/3")  # fmt: skip
    assert (marked.kind, marked.in_seconds, marked.out_seconds) == ("clip", 2.3, 4.1)
    assert marked.description == "The arrest"
    assert world.schedule("dana").lines[0].clip_id == "11111111-1111-4111-8111-111111111111"


def test_printed_as_pdf_and_csv_and_the_printing_is_audited(world: World) -> None:
    world.mark("fran", recording_id=world.second, use="exhibit", reference="AO/2")
    world.mark("fran", recording_id=world.first, use="exhibit", reference="AO/10",
               description="=HYPERLINK(\"http://evil\")")  # fmt: skip
    fran, actor = world.who("fran")
    pdf = schedule.schedule_pdf(world.system, fran, world.case, actor)
    assert pdf.startswith(b"%PDF-") and b"Disclosure schedule of case 01/2345/26" in pdf
    text = schedule.schedule_csv(world.system, fran, world.case, actor)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["exhibit_reference"] for r in rows] == ["AO/2", "AO/10"]
    assert rows[1]["description"].startswith("'="), "a formula is never run by a spreadsheet"
    assert rows[0]["use"] == "Exhibit" and rows[0]["officer"] == "A. Officer (1234AB)"
    assert len(rows[0]["sha256"]) == 64 and rows[0]["item"] == "recording"
    ian, ian_actor = world.who("ian")
    with pytest.raises(NotFound, match=f"no case {world.case}"):
        schedule.schedule_csv(world.system, ian, world.case, ian_actor)


def test_the_schedule_reads_the_same_with_and_without_a_complaint_hold(world: World) -> None:
    world.mark("fran", recording_id=world.first, use="exhibit", reference="AO/1")
    seen: dict[str, tuple[Any, str]] = {}
    for name in ("fran", "dana", "bob"):
        person, actor = world.who(name)
        seen[name] = (
            world.schedule(name).model_dump(),
            schedule.schedule_csv(world.system, person, world.case, actor),
        )
    erin, erin_actor = world.who("erin")
    holds.place_hold(
        world.system, erin, kind="complaint", reason="complaint against the officer",
        actor=erin_actor, recording_ids=[world.first],
    )  # fmt: skip
    for name in ("fran", "dana", "bob"):
        person, actor = world.who(name)
        assert world.schedule(name).model_dump() == seen[name][0]
        assert schedule.schedule_csv(world.system, person, world.case, actor) == seen[name][1]
        # Marking answers the same too.
    again = world.mark("fran", recording_id=world.second, use="unused_not_sensitive")
    assert again.use == "unused_not_sensitive"


def test_a_recording_taken_out_of_the_case_leaves_its_schedule(world: World) -> None:
    world.mark("fran", recording_id=world.first, use="exhibit", reference="AO/1")
    dana, actor = world.who("dana")
    cases.remove_from_case(world.system, dana, world.case, world.first, "wrong incident", actor)
    assert [line.recording_id for line in world.schedule("fran").lines] == [world.second]
    with world.system.unit_of_work() as uow:
        assert uow.session.query(ScheduleItem).count() == 0
    erin, erin_actor = world.who("erin")
    removed = [
        json.loads(e.details or "{}")
        for e in trail.recording_trail(world.system, erin, world.first, erin_actor).events
        if e.tag == "user:case:remove_recording"
    ]
    assert removed[0]["schedule_items_removed"] == [
        {"clip": None, "use": "exhibit", "reference": "AO/1"}
    ]
    # Its reference is free again in the case.
    world.mark("fran", recording_id=world.second, use="exhibit", reference="AO/1")
