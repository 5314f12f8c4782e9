"""The portal's disclosure pages, in process: the recording page's clip panel, the clip's
page, and the case page's schedule with its marking forms (the browser test drives the
player itself: tests/browser/test_disclosure.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from custody.camera.footage import write_footage
from custody.domain.actor import Actor
from custody.services.evidence import cases
from custody.services.identity.users import principal_named
from custody.services.recordings.media import probe_recording
from custody.services.system import System
from tests.apps import app_for
from tests.people import Force, make_force, store_recording


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("footage") / "original.mp4"
    write_footage(path, started_at=datetime(2026, 10, 1, 9, tzinfo=UTC), duration=4.0,
                  serial="BWV-0001")  # fmt: skip
    return path.read_bytes()


@pytest.fixture
def force(sqlite_system: System) -> Force:
    return make_force(sqlite_system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def case(force: Force, footage: bytes) -> tuple[int, str]:
    rid = store_recording(force, footage)
    probe_recording(force.system, rid)
    dana = principal_named(force.system, "dana")
    made = cases.create_case(force.system, dana, reference="01/2345/26", title="Assault",
                             actor=Actor("user:dana"), members=["fran", "bob"])  # fmt: skip
    cases.add_to_case(force.system, dana, made.id, rid, None, Actor("user:dana"))
    return made.id, rid


def test_an_investigator_cuts_a_clip_from_the_recording_page(
    client: TestClient, force: Force, case: tuple[int, str]
) -> None:
    _, rid = case
    page = client.get(f"/recordings/{rid}", headers=force.auth("dana"))
    assert page.status_code == 200
    assert "Cut clip" in page.text and 'data-clip-set="in"' in page.text
    # bob watches the team's footage but cuts no clips: no form for him.
    assert "Cut clip" not in client.get(f"/recordings/{rid}", headers=force.auth("bob")).text

    wrong = client.post(f"/recordings/{rid}/clips", data={"clip_in": "3", "clip_out": "1"},
                        headers=force.auth("dana"))  # fmt: skip
    assert wrong.status_code == 400 and "Out must come after in" in wrong.text
    missing = client.post(f"/recordings/{rid}/clips", data={"clip_in": "1"},
                          headers=force.auth("dana"))  # fmt: skip
    assert missing.status_code == 400 and "Set the out point" in missing.text

    made = client.post(
        f"/recordings/{rid}/clips",
        data={"clip_in": "1.5", "clip_out": "3.2", "clip_title": "The arrest"},
        headers=force.auth("dana"),
    )
    assert made.status_code == 303
    clip_url = made.headers["location"]
    assert re.fullmatch(r"/clips/[0-9a-f-]{36}", clip_url)
    page = client.get(clip_url, headers=force.auth("dana"))
    assert page.status_code == 200 and "The arrest" in page.text
    # The player starts at the in point: 0.5 s after the keyframe at 1 s where the cut starts.
    assert f'src="{clip_url}/media#t=0.500"' in page.text
    assert "Stream copy" in page.text
    played = client.get(f"{clip_url}/media", headers={**force.auth("fran"), "Range": "bytes=0-9"})
    assert played.status_code == 206 and len(played.content) == 10
    # charlie, an officer of another team, finds no such clip.
    assert client.get(clip_url, headers=force.auth("charlie")).status_code == 404
    # The recording's page lists it.
    assert clip_url in client.get(f"/recordings/{rid}", headers=force.auth("fran")).text


def test_the_disclosure_officer_marks_the_schedule_on_the_case_page(
    client: TestClient, force: Force, case: tuple[int, str]
) -> None:
    case_id, rid = case
    page = client.get(f"/cases/{case_id}", headers=force.auth("fran"))
    assert page.status_code == 200
    assert "Disclosure schedule" in page.text and 'value="AO/1"' in page.text
    assert f'href="/api/v1/cases/{case_id}/schedule.pdf"' in page.text
    item = f"recording:{rid}"
    bad = client.post(
        f"/cases/{case_id}/schedule",
        data={"item": item, "use": "exhibit", "reference": "AO1"},
        headers=force.auth("fran"),
    )
    assert bad.status_code == 400 and "INITIALS/NUMBER" in bad.text
    done = client.post(
        f"/cases/{case_id}/schedule",
        data={"item": item, "use": "exhibit", "reference": "ao/1", "description": "Arrest"},
        headers=force.auth("fran"),
    )
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{case_id}#schedule"
    bobs = client.get(f"/cases/{case_id}", headers=force.auth("bob"))
    assert bobs.status_code == 200
    assert '<td class="ref">AO/1</td>' in bobs.text and "Arrest" in bobs.text
    # bob sees the schedule but marks nothing: no forms, and a post is refused.
    assert f'action="/cases/{case_id}/schedule"' not in bobs.text
    refused = client.post(f"/cases/{case_id}/schedule", data={"item": item, "use": "exhibit"},
                          headers=force.auth("bob"))  # fmt: skip
    assert refused.status_code == 403
    csv_answer = client.get(f"/api/v1/cases/{case_id}/schedule.csv", headers=force.auth("bob"))
    assert csv_answer.status_code == 200 and "AO/1" in csv_answer.text
    assert csv_answer.headers["content-disposition"].startswith("attachment")
