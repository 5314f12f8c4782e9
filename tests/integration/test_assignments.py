"""Who held which camera when: personal issue, pool checkouts by card, docking, retirement,
and the officer a recording carries (the assignment history, with doubts flagged)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from custody.db.models import AuditEvent, Camera, IngestFlag, Officer, Recording
from custody.db.models.fleet import CameraAssignment
from custody.domain.clock import ManualClock, isoformat, parse_time
from custody.domain.errors import Conflict, InvalidInput, NotFound, NotPermitted, UnknownCamera
from custody.services.fleet import assignments, registry, views
from custody.services.identity.tokens import DOCK_TOKEN_PREFIX
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import START
from tests.integration.fleet_world import FleetWorld, build, public_key
from tests.snapshots import world_of

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def world(system: System) -> FleetWorld:
    return world_of(build, system)


def _flags(system: System, recording_id: str | None = None) -> list[IngestFlag]:
    with system.unit_of_work() as uow:
        query = select(IngestFlag).order_by(IngestFlag.id)
        if recording_id is not None:
            query = query.where(IngestFlag.recording_id == recording_id)
        return list(uow.session.scalars(query))


def _officer_of(system: System, recording_id: str) -> str | None:
    with system.unit_of_work() as uow:
        return uow.session.scalar(
            select(Officer.warrant_number)
            .join(Recording, Recording.officer_id == Officer.id)
            .where(Recording.id == recording_id)
        )


def test_personal_issue_is_kept_as_history(world: FleetWorld, clock: ManualClock) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    clock.advance(timedelta(days=10))
    assignments.issue(system, world.admin, "BWV-1", "1002HK")
    clock.advance(timedelta(days=5))
    assignments.return_to_stock(system, world.admin, "BWV-1", reason="officer left the borough")

    history = assignments.history(system, world.admin, camera="BWV-1")
    assert [(a.officer, a.kind, a.end_reason) for a in history] == [
        ("1002HK", "personal", "returned"),
        ("1001HK", "personal", "reissued"),
    ]
    assert history[1].started_at == isoformat(START)
    assert history[1].ended_at == isoformat(START + timedelta(days=10))
    # The officer behind the camera at any moment, ever after.
    held = assignments.holder_at(system, world.admin, "BWV-1", START + timedelta(days=3))
    assert held.assignment is not None and held.assignment.officer == "1001HK"
    held = assignments.holder_at(system, world.admin, "BWV-1", START + timedelta(days=12))
    assert held.assignment is not None and held.assignment.officer == "1002HK"
    later = assignments.holder_at(system, world.admin, "BWV-1", START + timedelta(days=16))
    assert later.assignment is None
    assert assignments.history(system, world.admin, officer="1001HK")[0].camera == "BWV-1"
    camera = views.get_camera(system, world.admin, "BWV-1")
    assert camera.status == "in_stock" and camera.officer is None
    assert len(camera.assignments) == 2


def test_issuing_refuses_what_the_rules_forbid_and_changes_nothing(world: FleetWorld) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    with pytest.raises(Conflict, match="already"):
        assignments.issue(system, world.admin, "BWV-1", "1001HK")
    with pytest.raises(NotFound):
        assignments.issue(system, world.admin, "BWV-1", "9999ZZ")
    with pytest.raises(NotFound):
        assignments.issue(system, world.admin, "NO-SUCH", "1001HK")
    assignments.retire(system, world.admin, "BWV-1", reason="cracked lens")
    with pytest.raises(Conflict, match="retired"):
        assignments.issue(system, world.admin, "BWV-1", "1002HK")
    with pytest.raises(Conflict, match="retired"):
        assignments.retire(system, world.admin, "BWV-1")
    assert [a.end_reason for a in assignments.history(system, world.admin, camera="BWV-1")] == [
        "retired"
    ]


def test_a_pool_camera_is_taken_by_card_and_returns_when_docked(
    world: FleetWorld, clock: ManualClock
) -> None:
    system = world.system
    world.camera("POOL-1", pool=True, borough="Hackney")
    world.dock_report("POOL-1")
    clock.advance(MINUTE)
    taken = assignments.checkout(system, world.dock, card_id="04a1b2c3", serial="POOL-1")
    assert (taken.officer, taken.officer_name, taken.started_at) == (
        "1001HK",
        "Amira Khan",
        isoformat(START + MINUTE),
    )
    camera = views.get_camera(system, world.admin, "POOL-1")
    assert camera.officer == "1001HK" and camera.pool is True
    clock.advance(8 * HOUR)
    world.dock_report("POOL-1")
    [ended] = assignments.history(system, world.admin, camera="POOL-1")
    assert ended.ended_at == isoformat(START + MINUTE + 8 * HOUR) and ended.end_reason == "docked"
    assert ended.dock == "Hackney-1" and ended.kind == "pool"
    assert views.get_camera(system, world.admin, "POOL-1").officer is None
    # The next officer takes it; the history keeps both.
    clock.advance(HOUR)
    assignments.checkout(system, world.dock, card_id="04D4E5F6", serial="POOL-1")
    assert [a.officer for a in assignments.history(system, world.admin, camera="POOL-1")] == [
        "1002HK",
        "1001HK",
    ]


def test_checkout_refusals_are_clear_audited_and_change_nothing(world: FleetWorld) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    world.camera("POOL-1", pool=True, borough="Hackney")
    world.camera("POOL-2", pool=True, borough="Hackney")
    world.dock_report("BWV-1")
    world.dock_report("POOL-1")
    other = registry.authenticate_dock(
        system, registry.add_dock(system, world.admin, "Camden-1").token
    )
    with pytest.raises(NotFound, match="no officer"):
        assignments.checkout(system, world.dock, card_id="DEADBEEF", serial="POOL-1")
    with pytest.raises(Conflict, match="personal-issue"):
        assignments.checkout(system, world.dock, card_id="04A1B2C3", serial="BWV-1")
    # Another station's pool camera is, to its dock, no camera at all.
    with pytest.raises(UnknownCamera):
        assignments.checkout(system, other, card_id="04A1B2C3", serial="POOL-1")
    with pytest.raises(Conflict, match="not last reported"):
        assignments.checkout(system, world.dock, card_id="04A1B2C3", serial="POOL-2")
    with pytest.raises(UnknownCamera):
        assignments.checkout(system, world.dock, card_id="04A1B2C3", serial="NOPE")
    with pytest.raises(InvalidInput):
        assignments.checkout(system, world.dock, card_id="  ", serial="POOL-1")
    world.dock_report("POOL-2")
    assignments.checkout(system, world.dock, card_id="04A1B2C3", serial="POOL-2")
    with pytest.raises(Conflict, match="has pool camera POOL-2 still"):
        assignments.checkout(system, world.dock, card_id="04A1B2C3", serial="POOL-1")
    assignments.report_lost(system, world.admin, "POOL-1")
    with pytest.raises(Conflict, match="lost"):
        assignments.checkout(system, world.dock, card_id="04A1B2C3", serial="POOL-1")
    assert assignments.history(system, world.admin, camera="POOL-1") == []
    with system.unit_of_work() as uow:
        refused = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.tag == "dock:camera:checkout", AuditEvent.allowed.is_(False)
            )
        ).all()
    assert len(refused) == 8
    assert all(
        event.actor == "dock:Hackney-1" or event.actor == "dock:Camden-1" for event in refused
    )


def test_the_recording_carries_the_officer_who_took_the_pool_camera(
    world: FleetWorld, clock: ManualClock
) -> None:
    system = world.system
    world.camera("POOL-1", pool=True, borough="Hackney")
    world.dock_report("POOL-1")
    taken = assignments.checkout(system, world.dock, card_id="04D4E5F6", serial="POOL-1")
    taken_at = parse_time(taken.started_at)
    # The camera was programmed: its manifest names the officer who took it.
    honest = world.upload("POOL-1", officer="1002HK", started_at=taken_at + HOUR)
    # A camera whose programming failed still names its previous holder: the history wins.
    stale = world.upload("POOL-1", officer="1001HK", started_at=taken_at + 2 * HOUR)
    clock.advance(9 * HOUR)
    world.dock_report("POOL-1")
    # Footage from after the docking, taken without a card: nobody is recorded as its officer.
    clock.advance(HOUR)
    orphan = world.upload("POOL-1", officer="1002HK", started_at=clock.now() - MINUTE * 5)

    assert _officer_of(system, honest) == "1002HK"
    assert _flags(system, honest) == []
    assert _officer_of(system, stale) == "1002HK"
    [mismatch] = _flags(system, stale)
    assert mismatch.kind == "officer_mismatch" and "1001HK" in mismatch.detail
    assert _officer_of(system, orphan) is None
    [unassigned] = _flags(system, orphan)
    assert unassigned.kind == "officer_unassigned"
    with system.unit_of_work() as uow:
        tags = set(uow.session.scalars(select(AuditEvent.tag)))
    assert {"dock:recording:officer_mismatch", "dock:recording:officer_unassigned"} <= tags


def test_a_personal_camera_without_history_keeps_its_manifests_officer(
    world: FleetWorld,
) -> None:
    world.camera("BWV-9")  # in stock: nobody holds it
    rid = world.upload("BWV-9", officer="2001CM", started_at=START + HOUR)
    assert _officer_of(world.system, rid) == "2001CM"
    assert _flags(world.system, rid) == []


def test_retiring_keeps_history_and_provenance_and_flags_the_camera_seen_again(
    world: FleetWorld, clock: ManualClock
) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    before = world.upload("BWV-1", officer="1001HK", started_at=START + HOUR)
    clock.advance(timedelta(days=2))
    assignments.retire(system, world.admin, "BWV-1", reason="end of life")
    assert _officer_of(system, before) == "1001HK"
    [history] = assignments.history(system, world.admin, camera="BWV-1")
    assert history.end_reason == "retired"
    held = assignments.holder_at(system, world.admin, "BWV-1", START + HOUR)
    assert held.assignment is not None and held.assignment.officer == "1001HK"

    # It turns up in a dock with footage: the footage is kept, and people are told.
    clock.advance(timedelta(days=3))
    world.dock_report("BWV-1")
    after = world.upload("BWV-1", officer="1001HK", started_at=clock.now() - HOUR)
    assert _officer_of(system, after) == "1001HK"  # its manifest, since nobody holds it
    kinds = [f.kind for f in _flags(system)]
    assert kinds == ["camera_retired", "camera_retired"]
    assert _flags(system, after)[0].kind == "camera_retired"


def test_one_open_assignment_per_camera_is_enforced_by_the_database(
    world: FleetWorld,
) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    with system.unit_of_work() as uow:
        camera_id = uow.session.scalar(select(Camera.id).where(Camera.serial == "BWV-1"))
        officer_id = uow.session.scalar(
            select(Officer.id).where(Officer.warrant_number == "1002HK")
        )
        assert camera_id is not None and officer_id is not None
        uow.session.add(
            CameraAssignment(
                camera_id=camera_id,
                officer_id=officer_id,
                kind="personal",
                started_at=START,
                started_by="test",
            )
        )
        with pytest.raises(IntegrityError):
            uow.session.flush()


def test_people_need_the_fleet_roles_and_refusals_are_audited(world: FleetWorld) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    sam, alice, gus = (world.principals[n] for n in ("sam", "alice", "gus"))
    assert assignments.history(system, sam, camera="BWV-1")
    with pytest.raises(NotPermitted):
        assignments.issue(system, sam, "BWV-1", "1002HK")
    with pytest.raises(NotPermitted):
        assignments.history(system, alice, camera="BWV-1")
    assignments.issue(system, gus, "BWV-1", "1002HK")
    with system.unit_of_work() as uow:
        refused = uow.session.scalars(select(AuditEvent).where(AuditEvent.allowed.is_(False))).all()
        issued = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.tag == "fleet:assignment:start")
        ).all()
    assert [(e.tag, e.actor) for e in refused] == [
        ("user:system:manage_fleet", "user:sam"),
        ("user:system:view_fleet", "user:alice"),
    ]
    assert issued[-1].actor == "user:gus"


def test_the_api_for_cards_checkouts_and_history(world: FleetWorld) -> None:
    system = world.system
    client = world.client(app_for(system))
    gus, sam = world.auth("gus"), world.auth("sam")
    dock = {"Authorization": f"Bearer {world.dock_token}"}
    world.camera("POOL-1", pool=True, borough="Hackney")
    answer = client.patch("/api/v1/officers/2001CM", json={"card_id": "0a0b0c0d"}, headers=gus)
    assert answer.status_code == 204, answer.text
    clash = client.patch("/api/v1/officers/1002HK", json={"card_id": "0A0B0C0D"}, headers=gus)
    assert clash.status_code == 409
    refused = client.patch("/api/v1/officers/2001CM", json={"card_id": "0a0b"}, headers=sam)
    assert refused.status_code == 403
    report = {"serial": "POOL-1", "bay": "bay-3", "battery_percent": 99}
    assert client.post("/api/v1/docks/reports", json=report, headers=dock).status_code == 204

    taken = client.post(
        "/api/v1/docks/checkouts", json={"card_id": "0A0B0C0D", "serial": "POOL-1"}, headers=dock
    )
    assert taken.status_code == 201, taken.text
    assert taken.json()["officer"] == "2001CM"
    # People's tokens do not work at a dock's door, and a dock's not at people's.
    assert (
        client.post(
            "/api/v1/docks/checkouts", json={"card_id": "0A0B0C0D", "serial": "POOL-1"}, headers=gus
        ).status_code
        == 401
    )
    assert client.get("/api/v1/cameras", headers=dock).status_code == 401
    unknown = client.post(
        "/api/v1/docks/checkouts", json={"card_id": "FFFF0000", "serial": "POOL-1"}, headers=dock
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    bad = client.post("/api/v1/docks/checkouts", json={"card_id": ""}, headers=dock)
    assert bad.status_code == 422

    at = taken.json()["started_at"]
    holder = client.get("/api/v1/cameras/POOL-1/holder", params={"at": at}, headers=sam).json()
    assert holder["assignment"]["officer"] == "2001CM"
    history = client.get("/api/v1/officers/2001CM/assignments", headers=sam).json()
    assert [a["camera"] for a in history] == ["POOL-1"]
    detail = client.get("/api/v1/cameras/POOL-1", headers=sam).json()
    assert detail["officer"] == "2001CM" and detail["reports"][0]["bay"] == "bay-3"

    beat = client.post("/api/v1/docks/heartbeat", json={"docked": ["POOL-1", "X-9"]}, headers=dock)
    assert beat.status_code == 204
    assert (
        client.post(
            "/api/v1/docks/heartbeat", json={"docked": ["no spaces"]}, headers=dock
        ).status_code
        == 400
    )
    # The heartbeat does not end the checkout; the next report does.
    assert client.get("/api/v1/cameras/POOL-1", headers=sam).json()["officer"] == "2001CM"
    client.post("/api/v1/docks/reports", json=report, headers=dock)
    assert client.get("/api/v1/cameras/POOL-1", headers=sam).json()["officer"] is None


def test_the_api_issues_returns_retires_and_reports_cameras_lost(world: FleetWorld) -> None:
    client = world.client(app_for(world.system))
    gus, sam = world.auth("gus"), world.auth("sam")
    new = {"serial": "BWV-77", "model": "SimCam", "firmware": "1.4.2", "public_key": public_key()}
    assert client.post("/api/v1/cameras", json=new, headers=gus).status_code == 201
    assert client.post("/api/v1/cameras", json=new, headers=gus).status_code == 409
    assert (
        client.post(
            "/api/v1/cameras", json={**new, "serial": "BWV-78", "public_key": "x"}, headers=gus
        ).status_code
        == 400
    )
    assert (
        client.post("/api/v1/cameras", json={**new, "serial": "BWV-79"}, headers=sam).status_code
        == 403
    )
    issue = client.post("/api/v1/cameras/BWV-77/issue", json={"officer": "1001HK"}, headers=gus)
    assert issue.status_code == 200, issue.text
    assert issue.json()["assignment"]["officer"] == "1001HK"
    neither = client.post("/api/v1/cameras/BWV-77/issue", json={}, headers=gus)
    assert neither.status_code == 400
    assert client.post("/api/v1/cameras/BWV-77/issue", json={}, headers=sam).status_code == 403
    pooled = client.post(
        "/api/v1/cameras/BWV-77/issue", json={"pool": True, "borough": "Camden"}, headers=gus
    )
    assert pooled.status_code == 200
    listing = client.get("/api/v1/cameras", params={"pool": True}, headers=sam).json()
    assert [c["serial"] for c in listing["items"]] == ["BWV-77"]
    assert listing["items"][0]["borough"] == "Camden"
    assert (
        client.post("/api/v1/cameras/BWV-77/return", json={"repair": True}, headers=gus).status_code
        == 204
    )
    assert (
        client.post(
            "/api/v1/cameras/BWV-77/lost", json={"reason": "left in a car"}, headers=gus
        ).status_code
        == 204
    )
    assert client.post("/api/v1/cameras/BWV-77/lost", json={}, headers=gus).status_code == 409
    assert client.post("/api/v1/cameras/BWV-77/retire", json={}, headers=gus).status_code == 204
    assert (
        client.get("/api/v1/cameras", params={"status": "retired"}, headers=sam).json()["total"]
        == 1
    )
    assert client.get("/api/v1/cameras", params={"status": "gone"}, headers=sam).status_code == 400
    assert client.get("/api/v1/cameras/NOPE", headers=sam).status_code == 404
    officers = client.get("/api/v1/officers", params={"unit": "Hackney"}, headers=sam).json()
    assert [(o["warrant_number"], o["has_card"]) for o in officers["items"]] == [
        ("1001HK", True),
        ("1002HK", True),
    ]
    assert "card_id" not in officers["items"][0]
    made = client.post("/api/v1/docks", json={"name": "Lambeth-1", "bays": 4}, headers=gus)
    assert made.status_code == 201
    assert made.json()["token"].startswith(DOCK_TOKEN_PREFIX)
    docks = client.get("/api/v1/docks", headers=sam).json()
    assert [d["name"] for d in docks["items"]] == ["Hackney-1", "Lambeth-1"]


def test_every_fleet_route_declares_its_access_rule(system: System) -> None:
    from custody.web.guard import check_routes

    problems = [
        p
        for p in check_routes(app_for(system))
        if any(part in p for part in ("/officers", "/cameras", "/docks", "/fleet"))
    ]
    assert problems == []
