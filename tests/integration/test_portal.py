"""The review portal's pages and the services behind them, person by person.

The browser tests (tests/browser) prove the pages work in Chromium; these prove the
rules under them quickly: who is sent to sign in, which forms need the CSRF token,
what a search finds for whom, how footage groups into dockings, and that a preview
strip is footage too (refused to strangers, deleted with the recording).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.camera.footage import write_footage
from custody.db.models import AuditEvent
from custody.domain.actor import Actor
from custody.domain.errors import InvalidInput, NotFound
from custody.services.evidence import annotations as notes
from custody.services.evidence import cases, categories, flags
from custody.services.identity import signin, users
from custody.services.recordings import previews, search
from custody.services.recordings.search import Search
from custody.services.retention import review
from custody.services.system import System
from custody.web.deps import SESSION_COOKIE
from tests.apps import app_for
from tests.conftest import START
from tests.factories import give_password
from tests.integration.lifecycle_world import World, build_world
from tests.people import PASSWORD
from tests.snapshots import world_of

ACTOR = Actor("user:test")
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def world(system: System) -> World:
    return world_of(_world_with_passwords, system)


def _world_with_passwords(system: System) -> World:
    found = build_world(system)
    for name in found.people:
        give_password(system, found.people["admin2"], name, PASSWORD)
    return found


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(app_for(world.system), follow_redirects=False) as test_client:
        yield test_client


def as_(client: TestClient, world: World, username: str) -> str:
    """Sign `username` in on this client (a session cookie); returns the forms' CSRF token."""
    signed = signin.sign_in(world.system, username, PASSWORD)
    client.cookies.set(SESSION_COOKIE, signed.secret)
    return signed.session.csrf_token


def ids(results: search.Results) -> set[str]:
    return {card.id for card in results.items}


# --- signing in and forms ----------------------------------------------------------------


def test_a_browser_without_a_session_is_sent_to_sign_in_and_a_script_hears_401(
    client: TestClient,
) -> None:
    page = client.get("/footage?team=1", headers={"Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/footage%3Fteam%3D1"
    assert client.get("/", headers={"Accept": "text/html"}).headers["location"] == ("/login?next=/")
    assert client.get("/footage").status_code == 401


def test_pages_are_never_cached_framed_or_given_foreign_scripts(
    client: TestClient, world: World
) -> None:
    as_(client, world, "alice")
    page = client.get("/footage")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert client.get("/static/custody.css").status_code == 200


def test_each_role_starts_on_its_own_page(client: TestClient, world: World) -> None:
    expected = {
        "alice": "/footage",
        "sam": "/footage?team=1",
        "ivan": "/cases",
        "pat": "/search",
        "admin2": "/admin/users",
    }
    for name, start in expected.items():
        as_(client, world, name)
        assert client.get("/").headers["location"] == start, name


def test_a_form_without_the_sessions_csrf_token_is_refused_and_audited(
    client: TestClient, world: World
) -> None:
    rid = world.record("1234AB")
    token = as_(client, world, "alice")
    refused = client.post(
        "/footage/categorise", data={"recording": rid, "category": "Arrest", "csrf_token": "x"}
    )
    assert refused.status_code == 403
    assert "reload the page and try again" in refused.text
    with world.system.unit_of_work() as uow:
        event = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.tag == "user:request:csrf")
        ).one()
    assert event.allowed is False and event.actor == "user:alice"
    done = client.post(
        "/footage/categorise", data={"recording": rid, "category": "Arrest", "csrf_token": token}
    )
    assert done.status_code == 303
    assert client.get(done.headers["location"]).text.count('class="badge">Arrest<') == 1


def test_a_bad_form_is_shown_again_with_what_to_put_right(client: TestClient, world: World) -> None:
    token = as_(client, world, "admin2")
    answer = client.post(
        "/admin/categories",
        data={"csrf_token": token, "name": "", "kind": "evidential", "retention_days": "7"},
    )
    assert answer.status_code == 400
    assert "Name the category." in answer.text
    assert "Enter the days kept from 31 to 36600." in answer.text
    assert 'aria-invalid="true"' in answer.text


def test_another_teams_recording_is_a_404_page_and_the_attempt_is_audited(
    client: TestClient, world: World
) -> None:
    rid = world.record("9999EF")
    as_(client, world, "alice")
    page = client.get(f"/recordings/{rid}")
    assert page.status_code == 404
    assert "<h1>Not found</h1>" in page.text
    with world.system.unit_of_work() as uow:
        refusal = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.object_id == rid, AuditEvent.allowed.is_(False))
        ).one()
    assert refusal.actor == "user:alice"


def test_the_recording_page_shows_its_officer_what_they_may_do(
    client: TestClient, world: World
) -> None:
    rid = world.record("1234AB")
    as_(client, world, "alice")
    page = client.get(f"/recordings/{rid}")
    assert page.status_code == 200
    for text in ("Route walked", "Save categories", "Add bookmark", "Add note"):
        assert text in page.text
    assert "Flag as evidence" not in page.text  # an officer may not flag evidence
    assert f'src="/recordings/{rid}/media"' in page.text


def test_an_investigators_stated_reason_follows_her_links_and_reaches_the_audit(
    client: TestClient, world: World
) -> None:
    rid = world.record("1234AB")
    notes.annotate(world.system, world.people["alice"], rid, ACTOR, reference="CAD 77/01NOV")
    as_(client, world, "ivan")
    assert "0 recordings" in client.get("/search?reference=CAD+77%2F01NOV").text
    found = client.get("/search?reference=CAD+77%2F01NOV&reason=Op+Kestrel")
    assert "1 recording" in found.text
    assert f"/recordings/{rid}?reason=Op+Kestrel" in found.text
    assert client.get(f"/recordings/{rid}?reason=Op+Kestrel").status_code == 200
    with world.system.unit_of_work() as uow:
        view = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.tag == "user:recording:view", AuditEvent.object_id == rid
            )
        ).one()
    assert view.reason == "Op Kestrel"


# --- search and my footage ---------------------------------------------------------------


def test_search_filters_combine_and_follow_the_access_rules(world: World) -> None:
    system, people = world.system, world.people
    plain = world.record("1234AB", START, seconds=60)
    arrest = world.record("1234AB", START + timedelta(hours=1), seconds=300)
    flagged = world.record("5678CD", START + timedelta(hours=2), seconds=120)
    camden = world.record("9999EF", START + timedelta(hours=3), seconds=30)
    notes.annotate(system, people["alice"], plain, ACTOR, reference="CAD 1/26", tags=["robbery"])
    categories.set_categories(system, people["alice"], arrest, ["Arrest"], None, ACTOR)
    flags.flag_evidence(system, people["sam"], flagged, "the assault", ACTOR)

    def found(who: str, **filters: object) -> set[str]:
        query = Search(**filters)  # type: ignore[arg-type]
        return ids(search.search(system, people[who], query, ACTOR))

    assert found("pat") == {plain, arrest, flagged, camden}
    assert found("pat", reference="cad 1/26") == {plain}
    assert found("pat", tag="Robbery") == {plain}
    assert found("pat", category="Arrest") == {arrest}
    assert found("pat", category="Uncategorised") == {plain, flagged, camden}
    assert found("pat", evidence=True) == {flagged}
    assert found("pat", min_seconds=100, max_seconds=200) == {flagged}
    assert found("pat", unit="camden") == {camden}
    assert found("pat", officer="1234ab") == {plain, arrest}
    in_the_hour = {"since": START + timedelta(minutes=30), "until": START + timedelta(hours=2)}
    assert found("pat", **in_the_hour) == {arrest}
    assert found("pat", camera="BWV-9999EF") == {camden}
    # Each person finds only what they may see.
    assert found("alice") == {plain, arrest}
    assert found("sam") == {plain, arrest, flagged}
    assert found("ivan") == set()
    ivan = people["ivan"].stating("Op Kestrel")
    assert ids(search.search(system, ivan, Search(), ACTOR)) == {plain, arrest, flagged, camden}
    with pytest.raises(InvalidInput):
        search.search(system, people["alice"], Search(case="CRIS 1"), ACTOR)


def test_a_case_search_finds_the_cases_footage_for_those_who_work_on_it(world: World) -> None:
    system, people = world.system, world.people
    rid = world.record("1234AB")
    other = world.record("1234AB")
    ivan = people["ivan"].stating("robbery enquiry")
    case = cases.create_case(system, ivan, reference="CRIS 42", title="Robbery", actor=ACTOR)
    cases.add_to_case(system, ivan, case.id, rid, None, ACTOR)
    assert ids(search.search(system, people["ivan"], Search(case="cris 42"), ACTOR)) == {rid}
    assert [c.id for c in search.case_cards(system, people["ivan"], case.id)] == [rid]
    assert other not in ids(search.search(system, people["ivan"], Search(), ACTOR))


def test_my_footage_comes_by_docking_latest_first_with_days_left(world: World) -> None:
    system, clock = world.system, world.system.clock
    first = world.record("1234AB", START - timedelta(hours=9))
    second = world.record("1234AB", START - timedelta(hours=8))
    clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    third = world.record("1234AB", START + timedelta(hours=15))
    world.record("5678CD")  # bob's: not alice's
    mine = search.my_footage(system, world.people["alice"])
    assert [[c.id for c in d.cards] for d in mine.dockings] == [[third], [first, second]]
    assert mine.total == 3 and mine.uncategorised == 3
    assert mine.dockings[0].cards[0].days_left(mine.now) == 29
    team = search.my_footage(system, world.people["sam"], team=True)
    assert team.total == 4


def test_categorising_several_keeps_their_categories_and_reports_each(world: World) -> None:
    system, alice = world.system, world.people["alice"]
    mine = world.record("1234AB")
    kept = world.record("1234AB")
    categories.set_categories(system, alice, kept, ["Road traffic"], None, ACTOR)
    theirs = world.record("9999EF")
    outcomes = search.add_category(system, alice, [mine, kept, theirs], "Arrest", ACTOR)
    assert [(o.recording_id, o.ok) for o in outcomes] == [
        (mine, True),
        (kept, True),
        (theirs, False),
    ]
    cards = {c.id: c for c in search.cards(system, alice, [mine, kept])}
    assert cards[kept].categories == ("Arrest", "Road traffic")
    assert cards[mine].categories == ("Arrest",)


# --- the preview strip -------------------------------------------------------------------


def test_the_strip_is_footage_refused_to_strangers_and_deleted_with_the_recording(
    world: World, tmp_path: Path
) -> None:
    system, people = world.system, world.people
    video = tmp_path / "clip.mp4"
    write_footage(video, started_at=START, duration=4, serial="BWV-1234AB")
    rid = world.record("1234AB", START, data=video.read_bytes(), seconds=4)
    strip = previews.make_strip(system, rid)
    assert strip is not None and previews.make_strip(system, rid) == strip
    picture = previews.open_strip(system, people["alice"], rid, ACTOR)
    assert picture[:2] == b"\xff\xd8" and system.store.exists(strip)
    with pytest.raises(NotFound):
        previews.open_strip(system, people["dave"], rid, ACTOR)
    # Uncategorised: the sweep deletes it within 31 days, and its frames with it.
    system.clock.advance(timedelta(days=32))  # type: ignore[attr-defined]
    assert rid in review.sweep(system).deleted
    assert not system.store.exists(strip)


def test_the_portal_gives_no_role_that_sees_footage_force_wide_alone(
    client: TestClient, world: World
) -> None:
    system, admin = world.system, world.people["admin2"]
    csrf = as_(client, world, "admin2")
    made = client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": "mole", "role": "professional_standards"},
    )
    assert "second administrator" in made.text
    assert "mole" not in {u.username for u in users.list_users(system, admin)}
    changed = client.post("/admin/users/sam", data={"csrf_token": csrf, "role": "auditor"})
    assert changed.status_code == 303
    assert users.get_user(system, admin, "sam").role == "supervisor"
