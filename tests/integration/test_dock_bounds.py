"""A dock does what docks are for and no more (issue 11, point 5), over HTTP.

Three docks: Hackney-1 and Hackney-2 stand in the same station, Stoke-1 in another. An
upload is its creator's alone: any other dock gets exactly what an unknown upload gets, and
the refusal is audited. A manifest declared at one bay of a station is finished at another
of the same station. A receipt reads only to its station's docks. A dock's open uploads and
staged bytes are capped, and an upload's expiry has a ceiling however often it is touched.
A dock reports, sees docked and checks out only its station's cameras, and names no officer
of another station.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.db.models import AuditEvent, Upload
from custody.domain import signing
from custody.services.fleet import assignments, registry
from custody.services.system import System
from tests.apps import app_for
from tests.factories import FakeCamera, administrator, register
from tests.integration.test_tus_protocol import TUS, Dock

# The bounds as the force's docs state them (custody.domain.uploads holds them).
OPEN_UPLOADS = 64
GIB = 1024**3
UPLOAD_BYTES = 64 * GIB
STAGED_BYTES = 8 * UPLOAD_BYTES
MAX_AGE = timedelta(days=7)


@dataclass
class Station:
    system: System
    camera: FakeCamera
    hackney1: Dock
    hackney2: Dock
    stoke: Dock


@pytest.fixture
def station(system: System) -> Iterator[Station]:
    admin = administrator(system)
    camera, _, token = register(system, admin)  # dock Hackney-1, station Hackney
    same = registry.add_dock(system, admin, "Hackney-2", station="Hackney").token
    other = registry.add_dock(system, admin, "Stoke-1", station="Stoke Newington").token
    with TestClient(app_for(system)) as client:
        yield Station(system, camera, Dock(client, token), Dock(client, same), Dock(client, other))


def _delete(dock: Dock, location: str) -> Any:
    return dock.client.delete(location, headers={**TUS, **dock.auth})


def _refusals(system: System) -> list[str]:
    with system.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent.tag).where(AuditEvent.allowed.is_(False)).order_by(AuditEvent.seq)
            )
        )


def _answer(response: Any) -> tuple[int, bytes]:
    return response.status_code, response.content


def test_another_docks_upload_answers_exactly_as_an_unknown_one(station: Station) -> None:
    data = os.urandom(2000)
    document = station.camera.manifest(data)
    owner = station.hackney1
    owner.declare(document)
    location = owner.create(document).headers["Location"]
    unknown = location.rsplit("/", 1)[0] + "/" + uuid.uuid4().hex
    for intruder in (station.hackney2, station.stoke):
        asked = intruder.head(location)
        assert asked.status_code == 404
        assert _answer(asked) == _answer(intruder.head(unknown))
        patched = intruder.patch(location, 0, data[:100])
        assert patched.status_code == 404
        assert _answer(patched) == _answer(intruder.patch(unknown, 0, data[:100]))
        ended = _delete(intruder, location)
        assert ended.status_code == 404
        assert _answer(ended) == _answer(_delete(intruder, unknown))
    # Nothing the intruders did touched it: its owner carries on from 0 and finishes.
    head = owner.head(location)
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "0"
    assert owner.patch(location, 0, data).status_code == 204
    # Each refusal is audited (the unknown ids are none of anybody's: nothing to audit).
    assert (
        _refusals(station.system)
        == [
            "dock:upload:status",
            "dock:upload:chunk",
            "dock:upload:terminate",
        ]
        * 2
    )


def test_a_manifest_declared_at_one_bay_is_finished_at_another_of_its_station(
    station: Station,
) -> None:
    data = os.urandom(3000)
    document = station.camera.manifest(data)
    assert station.hackney1.declare(document).status_code == 200
    # The camera moved to a dock of another station before its upload began: to that dock
    # the manifest is as undeclared as one never sent.
    undeclared = station.camera.manifest(data)
    refused = station.stoke.create(document)
    assert refused.status_code == 400
    assert (
        refused.json()["error"]["code"] == station.stoke.create(undeclared).json()["error"]["code"]
    )
    # Hackney-1 began; moved to the next bay of the same station, it finishes there. The
    # declaration there lists only that dock's own uploads: Hackney-1's would answer 404.
    begun = station.hackney1.create(document).headers["Location"]
    assert station.hackney1.patch(begun, 0, data[:1000]).status_code == 204
    assert station.hackney1.declare(document).json()["uploads"][0]["offset"] == 1000
    assert station.hackney2.declare(document).json()["uploads"] == []
    location = station.hackney2.create(document).headers["Location"]
    answer = station.hackney2.patch(location, 0, data)
    assert answer.status_code == 204
    assert answer.headers["Custody-Recording"] == document["recording_id"]


def test_a_camera_moved_to_another_station_uploads_there_once_declared(
    station: Station,
) -> None:
    data = os.urandom(3000)
    document = station.camera.manifest(data)
    station.hackney1.declare(document)
    assert station.stoke.create(document).status_code == 400
    # Declaring the signed manifest at the new station's dock binds the recording there.
    assert station.stoke.declare(document).status_code == 200
    location = station.stoke.create(document).headers["Location"]
    assert station.stoke.patch(location, 0, data).status_code == 204
    assert station.stoke.declare(document).json()["stored"] is True


def test_a_receipt_reads_only_to_the_docks_of_its_station(station: Station) -> None:
    data = os.urandom(1500)
    document = station.camera.manifest(data)
    station.hackney1.declare(document)
    location = station.hackney1.create(document).headers["Location"]
    assert station.hackney1.patch(location, 0, data).status_code == 204
    rid = document["recording_id"]

    def receipt(dock: Dock, recording_id: str) -> Any:
        return dock.client.get(f"/api/v1/receipts/{recording_id}", headers=dock.auth)

    mine = receipt(station.hackney1, rid)
    assert mine.status_code == 200
    assert receipt(station.hackney2, rid).json() == mine.json()
    stranger = receipt(station.stoke, rid)
    nothing = str(uuid.uuid4())
    none = receipt(station.stoke, nothing)
    assert stranger.status_code == none.status_code == 404
    assert stranger.json()["error"]["code"] == none.json()["error"]["code"]
    assert (
        stranger.json()["error"]["message"].replace(rid, nothing)
        == (none.json()["error"]["message"])
    )
    assert _refusals(station.system) == ["dock:receipt:read"]


def test_a_dock_holds_at_most_so_many_open_uploads(station: Station) -> None:
    data = os.urandom(100)
    document = station.camera.manifest(data)
    station.hackney1.declare(document)
    for _ in range(OPEN_UPLOADS):
        assert station.hackney1.create(document).status_code == 201
    refused = station.hackney1.create(document)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_uploads"
    # The cap is the dock's: another dock of the station still uploads.
    assert station.hackney2.create(document).status_code == 201


def test_a_dock_stages_at_most_so_many_bytes(station: Station) -> None:
    document = station.camera.manifest(b"x", size=UPLOAD_BYTES)
    station.hackney1.declare(document)
    fits = STAGED_BYTES // UPLOAD_BYTES
    assert fits < OPEN_UPLOADS
    for _ in range(fits):
        assert station.hackney1.create(document).status_code == 201
    refused = station.hackney1.create(document)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_uploads"
    with station.system.unit_of_work() as uow:
        assert len(uow.session.scalars(select(Upload.id)).all()) == fits


def test_touching_an_upload_never_pushes_its_expiry_past_the_ceiling(station: Station) -> None:
    system, dock = station.system, station.hackney1
    data = os.urandom(4000)
    document = station.camera.manifest(data)
    dock.declare(document)
    created = system.clock.now()
    location = dock.create(document).headers["Location"]
    offset = 0
    # A byte a day, from a dock that means to hold its staging space for ever.
    for _ in range(6):
        system.clock.advance(timedelta(days=1))
        answer = dock.patch(location, offset, data[offset : offset + 1])
        assert answer.status_code == 204
        offset += 1
        expires = parsedate_to_datetime(answer.headers["Upload-Expires"])
        assert expires <= created + MAX_AGE + timedelta(seconds=1)
    system.clock.advance(MAX_AGE - timedelta(days=6) + timedelta(seconds=1))
    assert dock.head(location).status_code == 410
    assert dock.patch(location, offset, data[offset : offset + 1]).status_code == 410


def _pool_camera(system: System, serial: str, borough: str) -> None:
    admin = administrator(system)
    key = Ed25519PrivateKey.generate().public_key()
    registry.add_camera(
        system,
        admin,
        serial=serial,
        model="SimCam",
        firmware="1.0",
        public_key=signing.public_key_text(key),
    )
    assignments.issue_to_pool(system, admin, serial, borough)


def _report(dock: Dock, serial: str) -> Any:
    return dock.client.post(
        "/api/v1/docks/reports", json={"serial": serial, "bay": "bay-1"}, headers=dock.auth
    )


def _checkout(dock: Dock, card: str, serial: str) -> Any:
    return dock.client.post(
        "/api/v1/docks/checkouts", json={"card_id": card, "serial": serial}, headers=dock.auth
    )


def test_a_dock_reports_and_checks_out_only_its_stations_cameras(station: Station) -> None:
    system = station.system
    admin = administrator(system)
    registry.add_officer(
        system, admin, "3001HK", name="H. Ackney", unit="Hackney", card_id="CARD-0001"
    )
    registry.add_officer(
        system, admin, "4001SN", name="S. Newington", unit="Stoke Newington", card_id="CARD-0002"
    )
    _pool_camera(system, "POOL-1", "Hackney")

    # To a dock of another station, Hackney's pool camera is as unknown as one never made.
    foreign, unknown = _report(station.stoke, "POOL-1"), _report(station.stoke, "NOPE-1")
    assert foreign.status_code == unknown.status_code == 422
    assert foreign.json()["error"]["code"] == unknown.json()["error"]["code"] == "unknown_camera"
    beat = station.stoke.client.post(
        "/api/v1/docks/heartbeat", json={"docked": ["POOL-1"]}, headers=station.stoke.auth
    )
    assert beat.status_code == 204
    taken, none = (
        _checkout(station.stoke, "CARD-0002", "POOL-1"),
        _checkout(station.stoke, "CARD-0002", "NOPE-1"),
    )
    assert taken.status_code == none.status_code == 422
    assert taken.json()["error"]["code"] == none.json()["error"]["code"] == "unknown_camera"

    # At its own station it is taken; the answer names only an officer of that station.
    assert _report(station.hackney1, "POOL-1").status_code == 204
    visitor = _checkout(station.hackney1, "CARD-0002", "POOL-1")
    assert visitor.status_code == 201, visitor.text
    assert visitor.json()["officer"] == "4001SN"
    assert "Newington" not in visitor.text
    assert _report(station.hackney1, "POOL-1").status_code == 204
    local = _checkout(station.hackney1, "CARD-0001", "POOL-1")
    assert local.status_code == 201
    assert local.json()["officer_name"] == "H. Ackney"
