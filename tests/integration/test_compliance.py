"""Issue 12, point 3: supervision before deletion — the compliance page and the sign-off.

In Hackney, alice (1234AB) and bob (5678CD) recorded over the last month; dave (9999EF)
works in Camden. sam supervises Hackney, carol Camden; pat is professional standards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from custody.domain.actor import Actor
from custody.services.evidence import annotations, categories, holds
from custody.services.retention import compliance
from custody.services.system import System
from tests.apps import app_for
from tests.integration.lifecycle_world import World, build_world
from tests.snapshots import world_of

ACTOR = Actor("user:test")
DAY = timedelta(days=1)


@pytest.fixture
def world(sqlite_system: System) -> World:
    return world_of(build_world, sqlite_system)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(app_for(world.system)) as made:
        yield made


class Month:
    """The month's footage of Hackney and Camden, each recording named for what it shows."""

    def __init__(self, world: World) -> None:
        now = world.system.clock.now()
        people = world.people
        old = now - 26 * DAY  # due for deletion within 7 days
        self.arrest = world.record("1234AB", old)
        self.same_incident = world.record("1234AB", old + timedelta(minutes=40))
        self.noted = world.record("1234AB", old - 2 * DAY)
        self.forgotten = world.record("1234AB", old - DAY)  # never categorised
        self.routine = world.record("5678CD", old)
        self.recent = world.record("5678CD", now - 2 * DAY)
        self.camden = world.record("9999EF", old)
        for rid, name, who in (
            (self.arrest, "Arrest", "alice"),
            (self.same_incident, "Non-evidential", "alice"),
            (self.noted, "Non-evidential", "alice"),
            (self.routine, "Non-evidential", "bob"),
            (self.recent, "Non-evidential", "bob"),
            (self.camden, "Non-evidential", "dave"),
        ):
            categories.set_categories(world.system, people[who], rid, [name], None, ACTOR)
        annotations.add_note(world.system, people["alice"], self.noted, "he pushed me", ACTOR)


def figures(client: TestClient, world: World, who: str, **params: str) -> dict:  # type: ignore[type-arg]
    answer = client.get(
        "/api/v1/compliance",
        params=params,
        headers={"Authorization": f"Bearer {world.tokens[who]}"},
    )
    assert answer.status_code == 200, answer.text
    found: dict = answer.json()  # type: ignore[type-arg]
    return found


def test_a_supervisor_sees_their_team_officer_by_officer(client: TestClient, world: World) -> None:
    month = Month(world)
    found = figures(client, world, "sam")
    assert found["scope"] == "Hackney" and found["teams"] == []
    rows = {row["officer"]: row for row in found["officers"]}
    assert set(rows) == {"1234AB", "5678CD"}
    alice, bob = rows["1234AB"], rows["5678CD"]
    assert (alice["recordings"], alice["uncategorised"], alice["doubtful"]) == (4, 1, 2)
    # Due within 7 days and unreviewed: the forgotten one and the two doubtful ones.
    assert alice["due_soon_unreviewed"] == 3
    assert (bob["recordings"], bob["uncategorised"], bob["due_soon_unreviewed"]) == (2, 0, 1)
    why = {d["recording_id"]: d["why"] for d in found["doubtful"]}
    assert why == {
        month.same_incident: "the officer's footage of the same incident is evidential",
        month.noted: "it has a note or bookmark",
    }
    assert found["unsigned_due_soon"] == 4
    assert sum(week["recorded"] for week in found["weeks"]) == 6


def test_the_force_sees_teams_and_can_look_into_one(client: TestClient, world: World) -> None:
    Month(world)
    force = figures(client, world, "pat")
    assert force["scope"] == "force"
    assert {row["name"]: row["recordings"] for row in force["teams"]} == {
        "Hackney": 6,
        "Camden": 1,
    }
    camden = figures(client, world, "audrey", team="Camden")
    assert [row["officer"] for row in camden["officers"]] == ["9999EF"]
    # A supervisor asking for another team still gets their own.
    assert figures(client, world, "carol", team="Hackney")["scope"] == "Camden"


@pytest.mark.parametrize("who", ["alice", "ivan"])
def test_roles_outside_supervision_may_not_read_it(
    client: TestClient, world: World, who: str
) -> None:
    Month(world)
    answer = client.get(
        "/api/v1/compliance", headers={"Authorization": f"Bearer {world.tokens[who]}"}
    )
    assert answer.status_code == 403


def test_signing_off_leaves_the_doubtful_for_a_person(client: TestClient, world: World) -> None:
    month = Month(world)
    sam = {"Authorization": f"Bearer {world.tokens['sam']}"}
    signed = client.post("/api/v1/compliance/sign-off", headers=sam)
    assert signed.status_code == 200, signed.text
    assert signed.json() == {"signed_off": 2, "doubtful_left": 2}
    assert world.row(month.forgotten).signed_off_by == "user:sam"
    assert world.row(month.routine).signed_off_at is not None
    for rid in (month.same_incident, month.noted, month.camden, month.recent, month.arrest):
        assert world.row(rid).signed_off_at is None, rid
    after = figures(client, world, "sam")
    assert after["unsigned_due_soon"] == 2
    # Only a supervisor signs off, and only their own team.
    refused = client.post(
        "/api/v1/compliance/sign-off", headers={"Authorization": f"Bearer {world.tokens['pat']}"}
    )
    assert refused.status_code == 403


def test_a_complaint_hold_changes_nothing_a_supervisor_sees(
    client: TestClient, world: World
) -> None:
    month = Month(world)
    before = figures(client, world, "sam")
    held = holds.place_hold(
        world.system,
        world.people["pat"],
        kind="complaint",
        reason="complaint 9",
        actor=ACTOR,
        recording_ids=[month.routine],
    )
    assert held
    after = figures(client, world, "sam")
    for answer in (before, after):
        answer.pop("generated_at")
    assert after == before
    # Professional standards see the truth: the held recording is not due.
    truth = figures(client, world, "pat", team="Hackney")
    bob = next(row for row in truth["officers"] if row["officer"] == "5678CD")
    assert bob["due_soon_unreviewed"] == 0


def test_the_compliance_page_draws_the_weeks_and_warns(client: TestClient, world: World) -> None:
    Month(world)
    from custody.services.identity import signin
    from custody.web.deps import SESSION_COOKIE
    from tests.factories import give_password
    from tests.people import PASSWORD

    give_password(world.system, world.people["admin2"], "sam", PASSWORD)
    client.cookies.set(SESSION_COOKIE, signin.sign_in(world.system, "sam", PASSWORD).secret)
    page = client.get("/compliance")
    assert page.status_code == 200
    assert page.text.count('class="bar categorised"') == compliance.WEEKS
    assert "will be deleted within 7 days without anyone signing them off" in page.text
    assert "Sign off the team" in page.text and "Doubtful categorisations" in page.text
