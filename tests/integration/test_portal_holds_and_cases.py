"""Issue 12, points 1, 2 and 4 in the portal: holds, complaints and a case's own controls.

Professional standards place and lift holds and register complaints from the portal,
without an API token; an investigator closes, reopens and takes footage out of a case;
the "Add to case" list never offers a case the recording is in, and refusals name the case.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from custody.services.evidence import cases, holds
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import START
from tests.factories import give_password
from tests.integration.lifecycle_world import World, build_world
from tests.integration.test_portal import ACTOR, as_
from tests.people import PASSWORD
from tests.snapshots import world_of


@pytest.fixture
def world(sqlite_system: System) -> World:
    return world_of(_world_with_passwords, sqlite_system)


def _world_with_passwords(system: System) -> World:
    found = build_world(system)
    for name in found.people:
        give_password(system, found.people["admin2"], name, PASSWORD)
    return found


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(app_for(world.system), follow_redirects=False) as test_client:
        yield test_client


def test_professional_standards_place_and_lift_a_hold_from_the_recording_page(
    client: TestClient, world: World
) -> None:
    rid = world.record("1234AB")
    csrf = as_(client, world, "pat")
    page = client.get(f"/recordings/{rid}")
    assert '<a href="/holds?officer=1234AB">' in page.text
    assert 'value="1234AB"' in client.get("/holds?officer=1234AB").text
    assert (
        "Place a hold" in page.text and "Complaint hold (professional standards only)" in page.text
    )
    placed = client.post(
        f"/recordings/{rid}/holds",
        data={"csrf_token": csrf, "hold_kind": "complaint", "hold_reason": "complaint 77"},
    )
    assert placed.status_code == 303
    held = holds.list_holds(world.system, world.people["pat"], ACTOR, recording_id=rid)
    assert [(h.kind, h.reason) for h in held] == [("complaint", "complaint 77")]
    assert "complaint 77" in client.get("/holds").text
    # A hold without a reason is refused beside the field, and nothing is placed.
    refused = client.post(
        f"/recordings/{rid}/holds", data={"csrf_token": csrf, "hold_kind": "legal"}
    )
    assert refused.status_code == 400 and "Say why it is held." in refused.text
    assert len(holds.list_holds(world.system, world.people["pat"], ACTOR, recording_id=rid)) == 1
    lifted = client.post(
        f"/holds/{held[0].id}/lift",
        data={"csrf_token": csrf, "reason": "withdrawn", "recording_id": rid},
    )
    assert lifted.status_code == 303 and lifted.headers["location"] == f"/recordings/{rid}#holds"
    assert holds.list_holds(world.system, world.people["pat"], ACTOR, recording_id=rid) == []


def test_the_officer_sees_no_hold_control_and_cannot_use_one(
    client: TestClient, world: World
) -> None:
    rid = world.record("1234AB")
    csrf = as_(client, world, "alice")
    page = client.get(f"/recordings/{rid}")
    assert page.status_code == 200 and "Place a hold" not in page.text
    assert "footage over a time" not in page.text
    assert 'value="1234AB"' not in client.get("/holds?officer=1234AB").text
    assert "/holds" not in client.get("/footage").text.split("<main")[0]
    tried = client.post(
        f"/recordings/{rid}/holds",
        data={"csrf_token": csrf, "hold_kind": "complaint", "hold_reason": "mine"},
    )
    assert tried.status_code in (403, 404)
    assert holds.list_holds(world.system, world.people["pat"], ACTOR, recording_id=rid) == []


def test_an_officers_footage_over_a_window_is_held_from_the_holds_page(
    client: TestClient, world: World
) -> None:
    first = world.record("1234AB", START)
    second = world.record("1234AB", START + timedelta(hours=2))
    csrf = as_(client, world, "pat")
    placed = client.post(
        "/holds",
        data={
            "csrf_token": csrf,
            "officer": "1234AB",
            "since": "2026-09-30T00:00",
            "until": "2026-10-02T00:00",
            "kind": "legal",
            "reason": "civil claim 12",
        },
    )
    assert placed.status_code == 303, placed.text
    held = {h.recording_id for h in holds.list_holds(world.system, world.people["pat"], ACTOR)}
    assert {first, second} <= held
    # The list says whose footage each hold is on, and lifts it where it stands.
    listed = client.get("/holds")
    assert listed.status_code == 200
    assert listed.text.count("civil claim 12") == 2 and "1234AB" in listed.text
    assert listed.text.count("Lift hold") == 2
    unknown = client.post(
        "/holds",
        data={
            "csrf_token": csrf,
            "officer": "0000ZZ",
            "since": "2026-09-30T00:00",
            "until": "2026-10-02T00:00",
            "kind": "legal",
            "reason": "x",
        },
    )
    assert unknown.status_code == 400 and "No officer with warrant number" in unknown.text


def test_a_complaint_is_registered_and_closed_in_the_portal(
    client: TestClient, world: World
) -> None:
    rid = world.record("1234AB", START)
    csrf = as_(client, world, "pat")
    made = client.post(
        "/complaints",
        data={
            "csrf_token": csrf,
            "reference": "CO-2026-0007",
            "officers": "1234AB",
            "since": "2026-09-30T00:00",
            "until": "2026-10-03T00:00",
            "place": "Mare Street",
            "summary": "Rude and aggressive at a stop",
        },
    )
    assert made.status_code == 303, made.text
    assert made.headers["location"] == "/complaints/CO-2026-0007"
    page = client.get("/complaints/CO-2026-0007")
    assert page.status_code == 200 and f"/recordings/{rid}" in page.text
    assert "CO-2026-0007" in client.get("/complaints").text
    closed = client.post(
        "/complaints/CO-2026-0007/close", data={"csrf_token": csrf, "reason": "resolved"}
    )
    assert closed.status_code == 303
    assert "Closed" in client.get("/complaints/CO-2026-0007").text
    # The officer it names, and a supervisor, find no such page (as for one never made).
    for who in ("alice", "sam"):
        as_(client, world, who)
        for reference in ("CO-2026-0007", "CO-2026-0999"):
            assert client.get(f"/complaints/{reference}").status_code == 403


def test_a_case_is_closed_reopened_and_loses_footage_with_a_reason(
    client: TestClient, world: World
) -> None:
    rid = world.record("1234AB")
    ivan = world.people["ivan"]
    case = cases.create_case(world.system, ivan, reference="CR-9", title="Burglary", actor=ACTOR)
    csrf = as_(client, world, "ivan")
    # Added once, the case is no longer offered; the refusal names the case, not an id.
    # Outside her cases, an investigator states why (it follows her links and forms).
    page, why = f"/recordings/{rid}", "?reason=burglary+CR-9"
    assert "CR-9: Burglary" in client.get(page + why).text
    form = {"csrf_token": csrf, "case_id": case.id}
    added = client.post(f"{page}/cases{why}", data=form)
    assert added.status_code == 303
    assert "CR-9: Burglary" not in client.get(page + why).text
    again = client.post(f"{page}/cases{why}", data=form)
    assert again.status_code == 400 and "This recording is in case CR-9 already" in again.text
    assert rid not in again.text.split("is in case")[0][-60:]

    no_reason = client.post(
        f"/cases/{case.id}/remove", data={"csrf_token": csrf, "recording_id": rid}
    )
    assert no_reason.status_code == 400 and "Give a reason." in no_reason.text
    removed = client.post(
        f"/cases/{case.id}/remove",
        data={"csrf_token": csrf, "recording_id": rid, "reason": "wrong incident"},
    )
    assert removed.status_code == 303
    assert cases.get_case(world.system, ivan, case.id, ACTOR).recordings == []

    closed = client.post(f"/cases/{case.id}/close", data={"csrf_token": csrf, "reason": "NFA"})
    assert closed.status_code == 303
    assert cases.get_case(world.system, ivan, case.id, ACTOR).status == "closed"
    twice = client.post(f"/cases/{case.id}/close", data={"csrf_token": csrf, "reason": "NFA"})
    assert twice.status_code == 400 and "Case CR-9 is closed already" in twice.text
    reopened = client.post(
        f"/cases/{case.id}/reopen", data={"csrf_token": csrf, "reason": "new lead"}
    )
    assert reopened.status_code == 303
    assert cases.get_case(world.system, ivan, case.id, ACTOR).status == "open"


def test_a_case_is_held_from_its_page_and_its_complaint_hold_stays_secret(
    client: TestClient, world: World
) -> None:
    """pat holds a whole case; ivan, who works on it, sees the form for a legal hold only and
    no trace of the complaint hold; alice, on the case too, sees no hold of hers at all."""
    mine, hers = world.record("1234AB"), world.record("1234AB", START + timedelta(hours=1))
    ivan, pat = world.people["ivan"], world.people["pat"]
    case = cases.create_case(
        world.system, ivan, reference="CR-77", title="Affray", actor=ACTOR, members=["alice"]
    )
    for rid in (mine, hers):
        cases.add_to_case(world.system, ivan, case.id, rid, None, ACTOR)
    page = f"/cases/{case.id}"

    csrf = as_(client, world, "pat")
    assert "Hold the case's footage" in client.get(page).text
    empty = client.post(f"{page}/holds", data={"csrf_token": csrf, "hold_kind": "complaint"})
    assert empty.status_code == 400 and "Say why the footage is held." in empty.text
    assert holds.list_holds(world.system, pat, ACTOR, case_id=case.id) == []
    placed = client.post(
        f"{page}/holds",
        data={"csrf_token": csrf, "hold_kind": "complaint", "hold_reason": "complaint 5150"},
    )
    assert placed.status_code == 303 and placed.headers["location"] == f"{page}#holds"
    held = holds.list_holds(world.system, pat, ACTOR, case_id=case.id)
    assert sorted(h.recording_id for h in held) == sorted([mine, hers])
    assert "complaint 5150" in client.get(page).text

    csrf = as_(client, world, "ivan")
    seen = client.get(page).text
    assert "complaint 5150" not in seen and "Complaint hold" not in seen
    assert "Legal hold (litigation" in seen and "No hold on its footage." in seen
    # ivan may not place a complaint hold: refused, and nothing more is held.
    tried = client.post(
        f"{page}/holds",
        data={"csrf_token": csrf, "hold_kind": "complaint", "hold_reason": "mine"},
    )
    assert tried.status_code == 403
    assert len(holds.list_holds(world.system, pat, ACTOR, case_id=case.id)) == 2
    # Lifting pat's hold by its number is "no hold", as if it never was.
    gone = client.post(
        f"/holds/{held[0].id}/lift",
        data={"csrf_token": csrf, "reason": "x", "case_id": str(case.id)},
    )
    never = client.post(
        "/holds/999999/lift", data={"csrf_token": csrf, "reason": "x", "case_id": str(case.id)}
    )
    assert gone.status_code == never.status_code == 404
    main = gone.text.split("<main")[1].split("</main>")[0]
    assert main.replace(str(held[0].id), "N") == never.text.split("<main")[1].split("</main>")[
        0
    ].replace("999999", "N")
    assert len(holds.list_holds(world.system, pat, ACTOR, case_id=case.id)) == 2
    placed = client.post(
        f"{page}/holds", data={"csrf_token": csrf, "hold_kind": "legal", "hold_reason": "claim 9"}
    )
    assert placed.status_code == 303
    assert "claim 9" in client.get(page).text

    as_(client, world, "alice")
    seen = client.get(page).text
    assert "complaint 5150" not in seen and "Complaint hold" not in seen
    assert "Hold the case's footage" not in seen

    # pat lifts the complaint holds from the case page; the page goes back to the case.
    csrf = as_(client, world, "pat")
    for hold in held:
        lifted = client.post(
            f"/holds/{hold.id}/lift",
            data={"csrf_token": csrf, "reason": "complaint withdrawn", "case_id": str(case.id)},
        )
        assert lifted.status_code == 303 and lifted.headers["location"] == f"{page}#holds"
    left = holds.list_holds(world.system, pat, ACTOR, case_id=case.id)
    assert [h.kind for h in left] == ["legal", "legal"]
