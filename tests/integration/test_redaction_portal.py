"""The redaction editor in the portal, in process: fran finds the faces in a recording,
ticks whom to blur, adds a box the detector missed, renders, previews; she may not approve
her own copy, erin does. bob, who watches the team's footage, is offered no editor; charlie,
who may not know of the recording, finds no such page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from custody.camera.faces import Walker, write_face_footage
from custody.domain.actor import Actor
from custody.services.evidence import cases
from custody.services.identity.users import principal_named
from custody.services.recordings.media import probe_recording
from custody.services.redaction import redactions, scans
from custody.services.system import System
from custody.web.app import create_app
from tests.conftest import RecordedJobs
from tests.people import Force, make_force, store_recording


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("faces") / "street.mp4"
    write_face_footage(
        path, started_at=datetime(2026, 10, 1, 9, tzinfo=UTC), duration=2.0, serial="BWV-0001",
        walkers=(Walker("astronaut", 0.2, 0.3, 0.4, 70), Walker("cameraman", 0.8, 0.7, 0.45, 60)),
        pillar=None, width=640, height=360,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture
def force(sqlite_system: System) -> Force:
    return make_force(sqlite_system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(create_app(force.system), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def recording(force: Force, footage: bytes) -> str:
    rid = store_recording(force, footage)
    probe_recording(force.system, rid)
    dana = principal_named(force.system, "dana")
    made = cases.create_case(force.system, dana, reference="01/2345/26", title="Assault",
                             actor=Actor("user:dana"), members=["fran", "bob"])  # fmt: skip
    cases.add_to_case(force.system, dana, made.id, rid, None, Actor("user:dana"))
    return rid


def _run(force: Force) -> None:
    queued = force.system.jobs
    assert isinstance(queued, RecordedJobs)
    while queued.face_scans:
        scans.run_scan(force.system, queued.face_scans.pop(0), threads=1)
    while queued.redactions:
        redactions.run_render(force.system, queued.redactions.pop(0))


def test_find_faces_choose_render_preview_and_approve_in_the_portal(
    client: TestClient, force: Force, recording: str
) -> None:
    fran, erin = force.auth("fran"), force.auth("erin")
    editor = f"/recordings/{recording}/redaction"
    assert editor in client.get(f"/recordings/{recording}", headers=fran).text
    assert editor not in client.get(f"/recordings/{recording}", headers=force.auth("bob")).text
    assert client.get(editor, headers=force.auth("charlie")).status_code == 404

    asked = client.post(f"/recordings/{recording}/face-scans", headers=fran)
    assert asked.status_code == 303
    assert "Finding faces" in client.get(editor, headers=fran).text
    _run(force)
    page = client.get(editor, headers=fran).text
    people = re.findall(r'data-track="(\d+)"', page)
    assert len(people) == 2
    scan_id = re.search(r'name="scan_id" value="([0-9a-f-]{36})"', page)
    assert scan_id is not None
    thumb = re.search(r'src="(/face-scans/[0-9a-f-]{36}/tracks/\d+/thumbnail)"', page)
    assert thumb is not None
    face = client.get(thumb.group(1), headers=fran)
    assert face.status_code == 200 and face.headers["content-type"] == "image/jpeg"

    form = {"scan_id": scan_id.group(1), "track": people[0], "box_label": "plate",
            "box_from": "0", "box_to": "20", "box_x1": "10", "box_y1": "300", "box_x2": "90",
            "box_y2": "330", "mute_from": "0.5", "mute_to": "1"}  # fmt: skip
    wrong = client.post(f"/recordings/{recording}/redactions", headers=fran,
                        data={**form, "box_x2": "5"})  # fmt: skip
    assert wrong.status_code == 400 and "inside the frame" in wrong.text
    assert force.system.jobs.redactions == []  # type: ignore[attr-defined]
    made = client.post(f"/recordings/{recording}/redactions", headers=fran, data=form)
    assert made.status_code == 303
    _run(force)
    page = client.get(editor, headers=fran).text
    copy = re.search(r'src="/redactions/([0-9a-f-]{36})/media"', page)
    assert copy is not None and "waiting for a second person" in page
    played = client.get(f"/redactions/{copy.group(1)}/media",
                        headers={**fran, "Range": "bytes=0-99"})  # fmt: skip
    assert played.status_code == 206 and len(played.content) == 100

    own = client.post(f"/redactions/{copy.group(1)}/approval", headers=fran)
    assert own.status_code == 400 and "second person must approve" in own.text
    approved = client.post(f"/redactions/{copy.group(1)}/approval", headers=erin)
    assert approved.status_code == 303
    assert "approved by erin" in client.get(editor, headers=fran).text
