"""The redaction API: fran asks for a face scan and a redacted copy over HTTP, erin approves;
charlie, who may not know of the recording, hears exactly what an unknown id gets; bad
choices get a clear 4xx and queue nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from custody.camera.faces import Walker, write_face_footage
from custody.domain.actor import Actor
from custody.services.evidence import cases
from custody.services.identity.users import principal_named
from custody.services.recordings.media import probe_recording
from custody.services.redaction import redactions, scans
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import RecordedJobs
from tests.people import Force, make_force, store_recording

API = "/api/v1"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


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
def recording(force: Force, footage: bytes) -> str:
    rid = store_recording(force, footage)
    probe_recording(force.system, rid)
    dana = principal_named(force.system, "dana")
    case = cases.create_case(force.system, dana, reference="01/2345/26", title="Assault",
                             actor=Actor("user:dana"), members=["fran"])  # fmt: skip
    cases.add_to_case(force.system, dana, case.id, rid, None, Actor("user:dana"))
    return rid


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system)) as test_client:
        yield test_client


def _jobs(force: Force) -> RecordedJobs:
    queued = force.system.jobs
    assert isinstance(queued, RecordedJobs)
    return queued


def _run(force: Force) -> None:
    """Run what the requests queued, as a worker would."""
    queued = _jobs(force)
    while queued.face_scans:
        scans.run_scan(force.system, queued.face_scans.pop(0), threads=1)
    while queued.redactions:
        redactions.run_render(force.system, queued.redactions.pop(0))


def test_scan_choose_render_and_approve_over_http(
    client: TestClient, force: Force, recording: str
) -> None:
    fran, erin = force.auth("fran"), force.auth("erin")
    asked = client.post(f"{API}/recordings/{recording}/face-scans", headers=fran)
    assert asked.status_code == 202, asked.text
    _run(force)
    scan = client.get(f"{API}/face-scans/{asked.json()['id']}", headers=fran).json()
    assert scan["state"] == "complete" and len(scan["tracks"]) == 2
    first = scan["tracks"][0]["id"]
    plate = {"label": "plate", "keyframes": [[0, 10, 300, 90, 330], [40, 200, 300, 280, 330]]}
    body = {"scan_id": scan["id"], "blur_tracks": [first], "manual": [plate], "mute": [[0.5, 1]]}
    made = client.post(f"{API}/recordings/{recording}/redactions", headers=fran, json=body)
    assert made.status_code == 202, made.text
    rid = made.json()["id"]
    assert client.get(f"{API}/redactions/{rid}/record", headers=fran).status_code == 409
    _run(force)
    done = client.get(f"{API}/redactions/{rid}", headers=fran).json()
    assert done["state"] == "rendered" and not done["released"]
    record = client.get(f"{API}/redactions/{rid}/record", headers=fran)
    assert record.headers["content-type"] == "application/json"
    assert json.loads(record.content)["output"]["sha256"] == done["sha256"]
    # The reviewer previews the copy in the player, a range at a time, and sees the faces.
    played = client.get(f"{API}/redactions/{rid}/media", headers={**fran, "Range": "bytes=0-"})
    assert played.status_code == 206 and played.headers["content-type"] == "video/mp4"
    assert played.content[4:8] == b"ftyp"
    face = client.get(f"{API}/face-scans/{scan['id']}/tracks/{first}/thumbnail", headers=fran)
    assert face.status_code == 200 and face.content[:3] == b"\xff\xd8\xff"
    listed = client.get(f"{API}/recordings/{recording}/redactions", headers=fran).json()
    assert [r["id"] for r in listed] == [rid]
    assert len(client.get(f"{API}/recordings/{recording}/face-scans", headers=fran).json()) == 1
    own = client.post(f"{API}/redactions/{rid}/approval", headers=fran)
    assert own.status_code == 409 and "second person" in own.json()["error"]["message"]
    approved = client.post(f"{API}/redactions/{rid}/approval", headers=erin)
    assert approved.status_code == 200 and approved.json()["released"]

    # charlie may not know of the recording: its redaction is "no redaction", as for none.
    charlie = force.auth("charlie")
    for path in ("/redactions/{}", "/redactions/{}/record"):
        hidden = client.get(API + path.format(rid), headers=charlie)
        unknown = client.get(API + path.format(UNKNOWN), headers=charlie)
        assert hidden.status_code == unknown.status_code == 404
        assert (
            hidden.json()["error"]["message"].replace(rid, UNKNOWN)
            == unknown.json()["error"]["message"]
        )
    hidden = client.get(f"{API}/face-scans/{scan['id']}", headers=charlie)
    assert hidden.status_code == 404 and recording not in hidden.text


@pytest.mark.parametrize(
    "body",
    [
        {"blur_tracks": [1]},
        {"mute": [[2.0, 1.0]]},
        {"mute": [[-1.0, 1.0]]},
        {"manual": [{"label": "plate", "keyframes": [[0, 50, 10, 10, 20]]}]},
        {"manual": [{"label": "plate", "keyframes": [[0, 10, 10]]}]},
        {"manual": [{"label": "", "keyframes": [[0, 1, 1, 5, 5]]}]},
        {"scan_id": UNKNOWN},
    ],
)
def test_bad_choices_get_a_clear_refusal_and_queue_nothing(
    client: TestClient, force: Force, recording: str, body: dict[str, Any]
) -> None:
    answer = client.post(f"{API}/recordings/{recording}/redactions", headers=force.auth("fran"),
                         json=body)  # fmt: skip
    assert 400 <= answer.status_code < 500 and answer.status_code != 401, answer.text
    assert answer.json()["error"]["message"]
    assert _jobs(force).redactions == []
