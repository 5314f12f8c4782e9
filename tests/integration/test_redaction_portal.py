"""The redaction editor in the portal, in process: fran finds the faces in a recording,
ticks whom to blur, adds a box the detector missed, renders, previews; she may not approve
her own copy, erin does. bob, who watches the team's footage, is offered no editor; charlie,
who may not know of the recording, finds no such page. Boxes come in rows, added and removed,
each moving from a start box to an end box at the footage's own frame rate; a still previews
the plan before any render; a person lost and found again is merged into one track."""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from custody.camera.faces import Walker, write_face_footage
from custody.db.models import AuditEvent, Recording
from custody.db.models.redaction import FaceScan, Redaction
from custody.domain.actor import Actor
from custody.services.evidence import cases
from custody.services.identity.users import principal_named
from custody.services.recordings.media import probe_recording
from custody.services.redaction import redactions, scans
from custody.services.redaction.faces import ScanSettings
from custody.services.redaction.records import record_boxes
from custody.services.system import System
from tests.apps import app_for
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
    with TestClient(app_for(force.system), follow_redirects=False) as test_client:
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

    form = {"scan_id": scan_id.group(1), "track": people[0], "box-1-label": "plate",
            "box-1-from": "0", "box-1-to": "0.8", "box-1-x1": "10", "box-1-y1": "300",
            "box-1-x2": "90", "box-1-y2": "330", "mute_from": "0.5", "mute_to": "1"}  # fmt: skip
    wrong = client.post(f"/recordings/{recording}/redactions", headers=fran,
                        data={**form, "box-1-x2": "5"})  # fmt: skip
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


def _record(client: TestClient, force: Force, who: str, copy: str) -> Any:
    """The record a copy was asked with (its plan: the render's whole input)."""
    with force.system.unit_of_work() as uow:
        row = uow.session.get(Redaction, copy)
        assert row is not None
        return json.loads(row.plan)


def _events(force: Force, tag: str) -> list[Any]:
    with force.system.unit_of_work() as uow:
        return list(uow.session.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


ROWS = {"box-1-label": "plate", "box-1-from": "0", "box-1-to": "1.6", "box-1-x1": "10",
        "box-1-y1": "300", "box-1-x2": "90", "box-1-y2": "330",
        "box-2-label": "screen", "box-2-from": "0.4", "box-2-to": "1.2", "box-2-x1": "100",
        "box-2-y1": "20", "box-2-x2": "160", "box-2-y2": "80", "box-2-ex1": "400",
        "box-2-ey1": "20", "box-2-ex2": "460", "box-2-ey2": "80"}  # fmt: skip


def test_rows_of_moving_boxes_a_preview_first_then_the_render(
    client: TestClient, force: Force, recording: str
) -> None:
    fran = force.auth("fran")
    editor = f"/recordings/{recording}/redaction"
    post = f"/recordings/{recording}/redactions"
    # No scan: the rate is the one the footage's file states, not a guess.
    assert "25 frames a second" in client.get(editor, headers=fran).text

    # Rows come and go without losing what was typed (here without the page's script).
    more = client.post(post, headers=fran, data={**ROWS, "action": "add"})
    assert more.status_code == 200
    assert 'name="box-3-label"' in more.text and 'value="screen"' in more.text
    fewer = client.post(post, headers=fran, data={**ROWS, "action": "remove-1"})
    assert 'name="box-1-label"' not in fewer.text and 'value="screen"' in fewer.text

    # A preview: the planned boxes blurred on the chosen frame, in the page, never stored.
    before = len(_events(force, "user:redaction:preview"))
    shown = client.post(post, headers=fran, data={**ROWS, "action": "preview",
                                                  "preview_at": "0.8"})  # fmt: skip
    assert shown.status_code == 200, shown.text
    assert 'data-preview-frame="20"' in shown.text and 'data-preview-boxes="2"' in shown.text
    assert "img-src 'self' data:" in shown.headers["content-security-policy"]
    jpeg = re.search(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', shown.text)
    assert jpeg is not None and base64.b64decode(jpeg.group(1))[:3] == b"\xff\xd8\xff"
    (event,) = _events(force, "user:redaction:preview")[before:]
    assert event.object_id == recording
    assert json.loads(event.details)["frame"] == 20
    assert force.system.jobs.redactions == []  # type: ignore[attr-defined]
    assert redactions.list_redactions(force.system, principal_named(force.system, "fran"),
                                      recording, Actor("user:fran")) == []  # fmt: skip
    late = client.post(post, headers=fran, data={**ROWS, "action": "preview",
                                                 "preview_at": "30"})  # fmt: skip
    assert late.status_code == 400 and "seconds long" in late.text

    made = client.post(post, headers=fran, data={**ROWS, "action": "render"})
    assert made.status_code == 303, made.text
    (copy,) = force.system.jobs.redactions  # type: ignore[attr-defined]
    record = _record(client, force, "fran", copy)
    assert record["original"]["fps"] == 25.0
    manual = {m["label"]: m["keyframes"] for m in record["choices"]["manual"]}
    assert manual == {
        "plate": [[0, 10, 300, 90, 330], [40, 10, 300, 90, 330]],
        "screen": [[10, 100, 20, 160, 80], [30, 400, 20, 460, 80]],
    }
    boxes = {(b.frame, b.source): b for b in record_boxes(record)}
    # Halfway between its keyframes the screen's box is halfway along.
    assert (boxes[(20, "manual:2")].x1, boxes[(20, "manual:2")].x2) == (250, 310)
    assert (boxes[(20, "manual:1")].x1, boxes[(40, "manual:1")].x1) == (10, 10)
    assert (9, "manual:2") not in boxes and (31, "manual:2") not in boxes


def test_preview_bad_input_and_secrecy_over_the_api(
    client: TestClient, force: Force, recording: str
) -> None:
    url = f"/api/v1/recordings/{recording}/redaction-previews"
    box = {"label": "crowd", "keyframes": [[0, 160, 40, 480, 320], [40, 160, 40, 480, 320]]}
    shown = client.post(url, headers=force.auth("fran"), json={"seconds": 0.4, "manual": [box]})
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["x-custody-frame"] == "10"
    plain = client.post(url, headers=force.auth("fran"), json={"seconds": 0.4})
    picture = np.asarray(Image.open(io.BytesIO(shown.content)).convert("L"), dtype=np.int16)
    untouched = np.asarray(Image.open(io.BytesIO(plain.content)).convert("L"), dtype=np.int16)
    inside = np.abs(picture[43:317, 163:477] - untouched[43:317, 163:477]).mean()
    outside = np.abs(picture[:, :150] - untouched[:, :150]).mean()
    assert inside > 5 * max(outside, 0.5), (inside, outside)
    for body, status in (
        ({"seconds": -1}, 422),
        ({"seconds": 99}, 400),
        ({"seconds": 0.4, "manual": [{**box, "keyframes": [[0, 480, 40, 160, 320]]}]}, 400),
        ({"seconds": 0.4, "merge": [[1, 2]]}, 400),
        ({"seconds": 0.4, "scan_id": "x" * 36}, 404),
    ):
        answer = client.post(url, headers=force.auth("fran"), json=body)
        assert answer.status_code == status, (body, answer.text)
        assert set(answer.json()["error"]) == {"code", "message"}
    # charlie may not know of the recording: as for one never used.
    hidden = client.post(url, headers=force.auth("charlie"), json={"seconds": 0.4})
    never = client.post("/api/v1/recordings/00000000-0000-4000-8000-000000000000/"
                        "redaction-previews", headers=force.auth("charlie"),
                        json={"seconds": 0.4})  # fmt: skip
    assert hidden.status_code == never.status_code == 404
    assert hidden.json()["error"]["message"].replace(recording, "ID") == never.json()["error"][
        "message"].replace("00000000-0000-4000-8000-000000000000", "ID")  # fmt: skip


def _scan_row(force: Force, recording: str, tracks: list[dict[str, Any]]) -> str:
    """A finished scan of the recording with these tracks, as the scan job would leave it."""
    scan_id = str(uuid.uuid4())
    with force.system.unit_of_work() as uow:
        row = uow.session.get(Recording, recording)
        assert row is not None
        uow.session.add(FaceScan(
            id=scan_id, recording_id=recording, original_sha256=row.sha256, state="complete",
            settings=json.dumps(asdict(ScanSettings())), model_name="CenterFace",
            model_sha256="0" * 64, requested_by="user:fran", requested_at=uow.now(),
            finished_at=uow.now(), width=640, height=360, fps=25.0, frame_count=50,
            tracks=json.dumps(tracks),
        ))  # fmt: skip
        uow.commit()
    return scan_id


def test_a_person_lost_behind_a_pillar_and_found_again_is_merged_on_request(
    client: TestClient, force: Force, recording: str
) -> None:
    walking = [[f, 5 * f, 100, 5 * f + 40, 140, 0.9] for f in range(0, 13, 3)]
    again = [[f, 5 * f, 100, 5 * f + 40, 140, 0.8] for f in range(24, 49, 3)]
    other = [[f, 600 - 2 * f, 10, 630 - 2 * f, 40, 0.9] for f in range(30, 49, 3)]
    scan_id = _scan_row(force, recording, [
        {"id": 1, "d": walking, "thumbnail": None}, {"id": 2, "d": again, "thumbnail": None},
        {"id": 3, "d": other, "thumbnail": None}])  # fmt: skip
    page = client.get(f"/recordings/{recording}/redaction", headers=force.auth("fran")).text
    assert 'name="same-2"' in page and "Person 1 (likely: lost and found again)" in page
    offered = re.search(r'<select name="same-3".*?</select>', page, re.S)
    assert offered is not None and "likely" not in offered.group(0)

    post = f"/recordings/{recording}/redactions"
    form = {"scan_id": scan_id, "track": "2", "same-2": "1", "action": "render"}
    made = client.post(post, headers=force.auth("fran"), data=form)
    assert made.status_code == 303, made.text
    (copy,) = force.system.jobs.redactions  # type: ignore[attr-defined]
    record = _record(client, force, "fran", copy)
    assert record["choices"]["merged_tracks"] == [[1, 2]]
    assert record["choices"]["blur_tracks"] == [1]
    frames = {b.frame for b in record_boxes(record) if b.source == "track:1"}
    # Blurred behind the pillar too: one person from first sight to last, no gap.
    assert set(range(0, 49)) <= frames
    assert not any(b.source == "track:3" for b in record_boxes(record))

    # Without the merge the gap is left: the person emerging would be seen.
    apart = client.post(post, headers=force.auth("fran"),
                        data={**form, "same-2": "", "track": ["1", "2"]})  # fmt: skip
    assert apart.status_code == 303
    record = _record(client, force, "fran", force.system.jobs.redactions[1])  # type: ignore[attr-defined]
    assert not {16, 18, 20} & {b.frame for b in record_boxes(record)}
    for bad in ({"same-2": "2"}, {"same-2": "9"}, {"same-2": "x"}):
        refused = client.post(post, headers=force.auth("fran"), data={**form, **bad})
        assert refused.status_code == 400, (bad, refused.text)
