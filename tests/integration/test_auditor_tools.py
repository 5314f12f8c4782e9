"""Issue 12, point 5: the auditor's tools — a force-wide search of the log, its CSV, a
"verify now" that runs in the background with its progress, and a readable trail.

The search is over the real log of a small force: alice's footage docked, dana played
it through several byte ranges, and root tried to watch it and was refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from custody.domain.clock import ManualClock
from custody.services.audit_trail import search as audit_search
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import RecordedJobs
from tests.factories import give_password
from tests.people import PASSWORD, Force, make_force, store_recording

RANGES = ("bytes=0-999", "bytes=1000-1999", "bytes=2000-")


@pytest.fixture
def force(sqlite_system: System) -> Force:
    return make_force(sqlite_system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system), follow_redirects=False) as made:
        yield made


@pytest.fixture
def watched(force: Force, client: TestClient) -> str:
    """alice's recording, played by dana (in its case) in ranges, twice; root refused."""
    rid = store_recording(force, b"\x00" * 3000)
    made = client.post(
        "/api/v1/cases", json={"reference": "CR-1", "title": "Assault"}, headers=force.auth("dana")
    )
    assert made.status_code == 201, made.text
    added = client.post(
        f"/api/v1/cases/{made.json()['id']}/recordings",
        json={"recording_id": rid},
        headers=force.auth("dana"),
    )
    assert added.status_code == 201, added.text
    # Two sittings, eleven minutes apart: each opens a viewing of its own in the log.
    for sitting in range(2):
        for byte_range in RANGES:
            played = client.get(
                f"/api/v1/recordings/{rid}/media",
                headers=force.auth("dana") | {"Range": byte_range},
            )
            assert played.status_code == 206, played.text
        if sitting == 0:
            clock = force.system.clock
            assert isinstance(clock, ManualClock)
            clock.advance(timedelta(minutes=11))
    refused = client.get(f"/api/v1/recordings/{rid}/media", headers=force.auth("root"))
    assert refused.status_code in (403, 404)
    return rid


def search(client: TestClient, force: Force, who: str = "audrey", **params: object) -> dict:  # type: ignore[type-arg]
    answer = client.get("/api/v1/audit/events", params=params, headers=force.auth(who))
    assert answer.status_code == 200, answer.text
    found: dict = answer.json()  # type: ignore[type-arg]
    return found


def test_the_auditor_finds_who_played_what_and_who_was_refused(
    client: TestClient, force: Force, watched: str
) -> None:
    played = search(client, force, person="dana", recording_id=watched, action="stream")
    assert played["items"], "dana's playback is in the log"
    assert {e["what"] for e in played["items"]} == {"played the footage"}
    assert all(e["who"] == "dana" and e["object_id"] == watched for e in played["items"])
    refused = search(client, force, recording_id=watched, refused="true")
    assert [(e["who"], e["allowed"]) for e in refused["items"]] == [("root", False)]
    # Professional standards may search too; the search itself is in the log.
    search(client, force, "erin", person="root")
    mine = search(client, force, person="erin", action="user:audit:search")
    assert mine["items"] and mine["items"][0]["details"].count('"person":"root"') == 1


def test_pages_follow_one_another_without_gaps_or_repeats(
    client: TestClient, force: Force, watched: str
) -> None:
    everything = search(client, force, limit=200)["items"]
    assert len(everything) < 200
    # Searching adds events as it goes: page from where the first search stood.
    seen, before = [], everything[0]["seq"] + 1
    while before is not None:
        page = search(client, force, limit=7, before=before)
        seen += [e["seq"] for e in page["items"]]
        before = page["next_before"]
    assert seen == [e["seq"] for e in everything]
    assert seen[-1] == 1


@pytest.mark.parametrize("who", ["root", "alice", "bob", "dana", "gus", "fran"])
def test_no_one_but_auditors_and_professional_standards_reads_the_log(
    client: TestClient, force: Force, watched: str, who: str
) -> None:
    for path in ("/api/v1/audit/events", "/api/v1/audit/events.csv"):
        answer = client.get(path, params={"person": "dana"}, headers=force.auth(who))
        assert answer.status_code == 403, (who, path, answer.text)
        assert "dana" not in answer.text and watched not in answer.text


def test_bad_searches_are_refused_clearly(client: TestClient, force: Force) -> None:
    for params in (
        {"since": "2026-10-02T00:00:00Z", "until": "2026-10-01T00:00:00Z"},
        {"limit": 0},
        {"before": 0},
        {"since": "yesterday"},
    ):
        answer = client.get("/api/v1/audit/events", params=params, headers=force.auth("audrey"))
        assert answer.status_code in (400, 422), (params, answer.text)
        assert answer.json()["error"]["message"]


def test_the_export_is_the_search_as_csv_and_is_itself_audited(
    client: TestClient, force: Force, watched: str
) -> None:
    answer = client.get(
        "/api/v1/audit/events.csv",
        params={"recording_id": watched, "action": "stream"},
        headers=force.auth("audrey"),
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    expected = search(client, force, recording_id=watched, action="stream")["items"]
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in expected]
    assert {(r["who"], r["allowed"]) for r in rows} == {("dana", "True"), ("root", "False")}
    exports = search(client, force, action="user:audit:export")["items"]
    assert exports and exports[0]["who"] == "audrey"


def test_verify_now_runs_in_the_background_and_reports_progress_and_faults(
    client: TestClient, force: Force, watched: str
) -> None:
    jobs = force.system.jobs
    assert isinstance(jobs, RecordedJobs)
    asked = client.post("/api/v1/audit/verifications", headers=force.auth("root"))
    assert asked.status_code == 202, asked.text
    first = asked.json()
    assert first["intact"] is None and jobs.verifications == [first["id"]]
    audit_search.run_verification(force.system, first["id"])
    # A second worker handed the same job leaves it alone.
    audit_search.run_verification(force.system, first["id"])
    done = client.get(
        f"/api/v1/audit/verifications/{first['id']}", headers=force.auth("root")
    ).json()
    assert done["intact"] is True and done["checked"] >= first["total"] > 0
    # Someone edits an event behind Custody's back: the next check names it.
    with force.system.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'user:nobody' WHERE seq = 5"))
    again = client.post("/api/v1/audit/verifications", headers=force.auth("audrey")).json()
    audit_search.run_verification(force.system, again["id"])
    broken = client.get(
        f"/api/v1/audit/verifications/{again['id']}", headers=force.auth("audrey")
    ).json()
    assert broken["intact"] is False and broken["fault"].startswith("event 5")
    refused = client.post("/api/v1/audit/verifications", headers=force.auth("alice"))
    assert refused.status_code == 403


def test_the_portal_shows_the_search_the_progress_and_a_readable_trail(
    client: TestClient, force: Force, watched: str
) -> None:
    give_password(force.system, force.admin, "audrey", PASSWORD)
    csrf = as_client(client, force, "audrey")
    page = client.get("/audit", params={"person": "dana", "action": "stream"})
    assert page.status_code == 200
    assert "Played the footage" in page.text and "Export as CSV" in page.text
    started = client.post("/audit/verify", data={"csrf_token": csrf})
    assert started.status_code == 303
    running = client.get("/audit")
    assert "<progress" in running.text and 'http-equiv="refresh"' in running.text
    # It follows to a new address each time: a refresh to /audit#verify itself would be a
    # move within the page in a browser, and the progress would never move on.
    follow = running.text.split('http-equiv="refresh" content="2; url=')[1].split('"')[0]
    assert follow.startswith("/audit?following=") and follow.endswith("#verify")
    assert follow not in client.get("/audit").text
    trail = client.get(f"/recordings/{watched}/audit")
    assert trail.status_code == 200
    # dana's two sittings, a few minutes apart, are one viewing in the readable trail.
    assert 'Played the footage <span class="muted">(2 events)</span>' in trail.text
    assert f"/api/v1/recordings/{watched}/audit.pdf" in trail.text


def as_client(client: TestClient, force: Force, username: str) -> str:
    from custody.services.identity import signin
    from custody.web.deps import SESSION_COOKIE

    signed = signin.sign_in(force.system, username, PASSWORD)
    client.cookies.set(SESSION_COOKIE, signed.secret)
    return signed.session.csrf_token
