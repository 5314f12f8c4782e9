"""Hostile input gets a 4xx with our error envelope, never a 500: times no calendar of ours
holds, footage that probes as playable but does not decode (and numbers in digits that are
not ASCII: tests/e2e/test_hostile_headers.py, over real HTTP). Each answered 500 before."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from custody.camera.footage import write_footage
from custody.db.models import AuditEvent, Upload
from custody.domain import signing
from custody.services.identity import signin
from custody.services.system import System
from custody.web.deps import SESSION_COOKIE
from tests.apps import app_for
from tests.conftest import START
from tests.factories import FakeCamera, give_password
from tests.integration.lifecycle_world import build_world
from tests.integration.test_tus_protocol import Dock
from tests.people import PASSWORD, Force, make_force

# Year 1 at +14:00 is before datetime.min in UTC; 9999 at -14:00 after datetime.max.
UNSAYABLE = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
# Sayable, but no camera's and past what retention can add to.
FAR = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]


@pytest.fixture
def force(sqlite_system: System) -> Force:
    return make_force(sqlite_system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    # As a server would: an exception becomes a 500 answer, not an error in the test.
    with TestClient(app_for(force.system), raise_server_exceptions=False) as test_client:
        yield test_client


def refused(answer: httpx.Response, status: int, where: str = "") -> bool:
    """A 4xx in our envelope whose message names `where`."""
    if answer.status_code != status:
        return False
    error = answer.json()["error"]
    return bool(error["code"]) and error["message"].startswith(where)


def events(system: System) -> int:
    with system.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


# --- times --------------------------------------------------------------------------------


@pytest.mark.parametrize("when", UNSAYABLE + FAR)
def test_a_time_out_of_range_in_a_query_is_422(client: TestClient, force: Force, when: str) -> None:
    erin, root = force.auth("erin"), force.auth("root")
    answer = client.get("/api/v1/recordings", params={"since": when}, headers=erin)
    assert refused(answer, 422, "query.since: must be a time from 1900 to 2999"), answer.text
    answer = client.get("/api/v1/recordings", params={"until": when}, headers=erin)
    assert refused(answer, 422, "query.until"), answer.text
    answer = client.get("/api/v1/retention/preview", params={"at": when}, headers=root)
    assert refused(answer, 422, "query.at"), answer.text


@pytest.mark.parametrize("when", UNSAYABLE)
def test_a_time_out_of_range_in_a_body_is_422(client: TestClient, force: Force, when: str) -> None:
    hold = {"kind": "legal", "reason": "r", "officer": "1234AB", "since": when}
    answer = client.post("/api/v1/holds", json=hold, headers=force.auth("erin"))
    assert refused(answer, 422, "body.since"), answer.text


def test_times_within_range_are_taken_as_ever(client: TestClient, force: Force) -> None:
    erin = force.auth("erin")
    for when in ("1900-01-01T00:00:00Z", "2026-03-01T09:00:00+01:00", "2999-12-31T23:59:59Z"):
        answer = client.get("/api/v1/recordings", params={"since": when}, headers=erin)
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00", "9999-12-31T23:59"]
)
def test_a_time_out_of_range_in_the_portals_search_is_a_form_error(
    system: System, when: str
) -> None:
    world = build_world(system)
    world.record("1234AB")
    give_password(system, world.people["admin2"], "bob", PASSWORD)
    with TestClient(app_for(system), raise_server_exceptions=False) as client:
        client.cookies.set(SESSION_COOKIE, signin.sign_in(system, "bob", PASSWORD).secret)
        page = client.get("/search", params={"since": when})
    assert page.status_code == 400, page.text[:300]
    assert "Enter the start from 1900 to 2999." in page.text


@pytest.mark.parametrize("when", UNSAYABLE + FAR)
def test_a_signed_manifest_with_a_time_out_of_range_is_refused_and_changes_nothing(
    force: Force, when: str
) -> None:
    system = force.system
    camera, token = force.camera, force.dock_token
    document = camera.manifest(os.urandom(1000))
    before = events(system)
    with TestClient(app_for(system), raise_server_exceptions=False) as client:
        dock = Dock(client, token)
        answer = dock.declare(_with_times(camera, document, when))
        assert refused(answer, 422), answer.text
        assert answer.json()["error"]["code"] == "manifest_invalid"
        assert "started_at" in answer.json()["error"]["message"]
    # Refused before anything was written (a refused manifest is audited as a refusal only).
    with system.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Upload)) == 0
    assert events(system) >= before


def _with_times(camera: FakeCamera, document: dict[str, Any], when: str) -> dict[str, Any]:
    """The manifest with both times at `when` (a zero-length recording), signed again."""
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    unsigned.update(started_at=when, ended_at=when, gps=[])
    return signing.sign(unsigned, camera.key)


# --- numbers in headers -------------------------------------------------------------------


def test_a_content_length_in_other_digits_is_not_a_length() -> None:
    from custody.web.limits import whole_number

    # Over real HTTP: tests/e2e/test_hostile_headers.py. Python's int takes Arabic-Indic
    # digits, which HTTP's Latin-1 headers cannot carry but a proxy's decoding might.
    assert [whole_number(t) for t in ("12", " 12 ", "²", "\u0661\u0662", "", "-1", "1_0")] == [
        12,
        12,
        None,
        None,
        None,
        None,
        None,
    ]


# --- footage that does not decode ---------------------------------------------------------


def _undecodable(tmp_path: Path) -> bytes:
    """Real MP4 whose container and streams read (it probes as playable) but whose coded
    pictures are noise: the moov box is intact, the mdat payload overwritten."""
    video = tmp_path / "clip.mp4"
    write_footage(video, started_at=START, duration=4, serial="BWV-1234AB")
    data = bytearray(video.read_bytes())
    mdat = data.find(b"mdat")
    assert mdat > 0
    size = int.from_bytes(data[mdat - 4 : mdat], "big")
    noise = hashlib.shake_256(b"not a picture").digest(size - 8)
    data[mdat + 4 : mdat - 4 + size] = noise
    return bytes(data)


def test_a_strip_of_footage_that_does_not_decode_is_a_clear_404(
    system: System, tmp_path: Path
) -> None:
    world = build_world(system)
    # Playable as far as the probe went (state and duration), yet no picture decodes.
    rid = world.record("1234AB", START, data=_undecodable(tmp_path), seconds=4)
    give_password(system, world.people["admin2"], "alice", PASSWORD)
    with TestClient(app_for(system), raise_server_exceptions=False) as client:
        client.cookies.set(SESSION_COOKIE, signin.sign_in(system, "alice", PASSWORD).secret)
        page = client.get(f"/recordings/{rid}")
        assert page.status_code == 200 and f"/recordings/{rid}/strip" in page.text
        answer = client.get(f"/recordings/{rid}/strip")
        assert answer.status_code == 404, answer.text
        assert "does not decode" in answer.text
        # Asked again, the same answer: nothing half-made was kept.
        assert client.get(f"/recordings/{rid}/strip").status_code == 404
    assert world.row(rid).preview_sha256 is None
