"""Subject access requests from registration to close, on SQLite and PostgreSQL.

pat (professional standards) answers a request from a member of the public; quinn, a
second professional standards officer, approves. alice's footage is what the requester
appears in. alice, sam (her supervisor) and the administrator learn nothing of requests.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from custody.db.models import AuditEvent, Recording
from custody.db.models.lifecycle import Hold
from custody.db.models.subject_access import SubjectAccessItem, SubjectAccessRequest
from custody.domain.actor import Actor
from custody.domain.errors import Conflict, InvalidInput, NotFound, NotPermitted
from custody.services.identity import users
from custody.services.requests import subject_access as sar
from custody.services.retention.sweep import sweep
from custody.services.system import System
from tests.factories import appoint
from tests.integration.lifecycle_world import World, build_world
from tests.snapshots import world_of

NEAR = (51.5, -0.05, 200.0)  # where World.record puts every recording
FAR_TRACK = json.dumps([{"lat": 51.5074, "lon": -0.1278}])  # Trafalgar Square


@pytest.fixture
def world(system: System) -> World:
    return world_of(_world_with_quinn, system)


def _world_with_quinn(system: System) -> World:
    built = build_world(system)
    appoint(system, built.people["admin2"], "quinn", "professional_standards", unit="PSD")
    built.people["quinn"] = users.principal_named(system, "quinn")
    return built


def register(world: World, received: date | None = None) -> str:
    view = sar.register_request(
        world.system,
        world.people["pat"],
        requester_name="Jo Bloggs",
        requester_email="jo@example.org",
        received_on=received or world.system.clock.now().date(),
        description="stopped on Mare Street on the morning of 1 October",
        actor=Actor("pat"),
    )
    return view.reference


def count(world: World, model: type) -> int:
    with world.system.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def test_request_from_registration_to_close(world: World, system: System) -> None:
    pat, quinn = world.people["pat"], world.people["quinn"]
    start = system.clock.now()
    near = world.record("1234AB", start)
    far = world.record("1234AB", start + timedelta(minutes=5))
    other = world.record("5678CD", start + timedelta(minutes=10))
    with system.unit_of_work() as uow:
        row = uow.session.get(Recording, far)
        assert row is not None
        row.gps_track = FAR_TRACK
        uow.commit()

    reference = register(world)
    listed = sar.list_open(system, pat, Actor("pat"))
    assert [(v.reference, v.days_left, v.late) for v in listed] == [(reference, 31, False)]
    assert listed[0].due_on == "2026-11-01"

    window = {"since": start - timedelta(hours=1), "until": start + timedelta(hours=1)}
    by_time = sar.find_candidates(system, pat, reference, **window, actor=Actor("pat"))
    assert {c.recording_id for c in by_time} == {near, far, other}
    by_officer = sar.find_candidates(
        system, pat, reference, **window, officer="1234AB", actor=Actor("pat")
    )
    assert {c.recording_id for c in by_officer} == {near, far}
    by_place = sar.find_candidates(
        system, pat, reference, **window, officer="1234AB", near=NEAR, actor=Actor("pat")
    )
    assert [c.recording_id for c in by_place] == [near]

    detail = sar.attach_recording(system, pat, reference, near, Actor("pat"))
    assert [(a.recording_id, a.redaction, a.held) for a in detail.attached] == [
        (near, "pending", True)
    ]

    # Forty days on, the sweep has run past the 31 days: the attached recording is kept.
    system.clock.advance(timedelta(days=40))  # type: ignore[attr-defined]
    sweep(system)
    assert world.row(near).state != "deleted"
    late = sar.list_open(system, pat, Actor("pat"))[0]
    assert (late.days_left, late.late) == (-9, True)

    # Release needs every recording reviewed and a second person's approval.
    with pytest.raises(Conflict, match="reviewing"):
        sar.approve_request(system, quinn, reference, Actor("quinn"))
    sar.mark_recording(system, pat, reference, near, "reviewed_no_third_parties", Actor("pat"))
    with pytest.raises(Conflict, match="prepared"):
        sar.approve_request(system, pat, reference, Actor("pat"))
    approved = sar.approve_request(system, quinn, reference, Actor("quinn"))
    assert (approved.step, approved.approved_by) == ("approved", "quinn")

    closed = sar.close_request(system, pat, reference, "footage given to Jo Bloggs", Actor("pat"))
    assert closed.step == "closed"
    assert sar.list_open(system, pat, Actor("pat")) == []
    with system.unit_of_work() as uow:
        holds = list(uow.session.scalars(select(Hold).where(Hold.recording_id == near)))
        assert [(h.kind, h.lifted_at is not None) for h in holds] == [("legal", True)]
        tags = list(
            uow.session.scalars(
                select(AuditEvent.tag)
                .where(AuditEvent.object_id == reference)
                .order_by(AuditEvent.seq)
            )
        )
    assert tags[0] == "user:subject_access:register"
    for step in ("search", "attach", "mark", "approve", "close"):
        assert f"user:subject_access:{step}" in tags
    with pytest.raises(Conflict, match="closed"):
        sar.attach_recording(system, pat, reference, far, Actor("pat"))


def test_extension_moves_the_deadline_with_a_reason(world: World, system: System) -> None:
    pat = world.people["pat"]
    reference = register(world, date(2026, 9, 30))
    extended = sar.extend_request(system, pat, reference, 2, "forty hours of footage", Actor("pat"))
    assert (extended.due_on, extended.extension_reason) == ("2026-12-30", "forty hours of footage")
    with pytest.raises(InvalidInput, match="at most"):
        sar.extend_request(system, pat, reference, 1, "more", Actor("pat"))


@pytest.mark.parametrize("who", ["alice", "sam", "admin2", "ivan"])
def test_others_learn_nothing_of_requests(world: World, system: System, who: str) -> None:
    principal = world.people[who]
    before = None
    answers = []
    for exists in (False, True):
        ref = register(world) if exists else "SAR-2026-00001"
        for call in (
            lambda: sar.list_open(system, principal, Actor(who)),
            lambda ref=ref: sar.get_request(system, principal, ref, Actor(who)),
            lambda ref=ref: sar.attach_recording(system, principal, ref, "x", Actor(who)),
        ):
            with pytest.raises(NotPermitted) as refused:
                call()
            answers.append(str(refused.value))
        if before is None:
            before = list(answers)
            answers.clear()
    assert answers == before


def test_bad_input_changes_nothing(world: World, system: System) -> None:
    pat = world.people["pat"]
    today = system.clock.now().date()
    with pytest.raises(InvalidInput, match="past its deadline"):
        register(world, today - timedelta(days=40))
    with pytest.raises(InvalidInput, match="email"):
        sar.register_request(
            system,
            pat,
            requester_name="Jo",
            requester_email="not an address",
            received_on=today,
            description="x",
            actor=Actor("pat"),
        )
    assert count(world, SubjectAccessRequest) == 0
    reference = register(world)
    with pytest.raises(NotFound):
        sar.attach_recording(system, pat, reference, "no-such-recording", Actor("pat"))
    with pytest.raises(NotFound):
        sar.get_request(system, pat, "SAR-1999-99999", Actor("pat"))
    with pytest.raises(InvalidInput):
        sar.mark_recording(system, pat, reference, "x", "looks fine", Actor("pat"))
    assert (count(world, SubjectAccessItem), count(world, Hold)) == (0, 0)


def test_detaching_lifts_the_hold_and_twice_is_refused(world: World, system: System) -> None:
    pat = world.people["pat"]
    rid = world.record("1234AB", system.clock.now())
    reference = register(world)
    sar.attach_recording(system, pat, reference, rid, Actor("pat"))
    with pytest.raises(Conflict, match="already"):
        sar.attach_recording(system, pat, reference, rid, Actor("pat"))
    with pytest.raises(InvalidInput, match="reason"):
        sar.detach_recording(system, pat, reference, rid, " ", Actor("pat"))
    detail = sar.detach_recording(system, pat, reference, rid, "not the requester", Actor("pat"))
    assert detail.attached == []
    with system.unit_of_work() as uow:
        (hold,) = uow.session.scalars(select(Hold).where(Hold.recording_id == rid))
        assert (hold.lifted_at is not None, hold.lift_reason) == (True, "not the requester")
    with pytest.raises(NotFound):
        sar.detach_recording(system, pat, reference, rid, "again", Actor("pat"))
