"""End to end through the real ingest path: a dock uploads real footage over tus, the probe
makes its thumbnail, an officer categorises, the clock runs 30 days, the sweep deletes what
the rules say, and a court can check the deletion certificate with the server's key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from custody.domain import signing
from custody.domain.clock import ManualClock
from custody.services.identity import users
from custody.services.recordings import media
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import START
from tests.factories import FakeCamera, administrator, appoint, own_token, register
from tests.integration.test_tus_protocol import Dock
from tests.unit.test_media_probe import make_mp4

DAY = timedelta(days=1)


@pytest.fixture
def force(system: System) -> Iterator[tuple[System, FakeCamera, Dock, dict[str, dict[str, str]]]]:
    admin = administrator(system, "admin2")
    camera, _, token = register(system, admin)
    users.create_user(system, admin, "alice", "officer", officer="1234AB")
    appoint(system, admin, "pat", "professional_standards", unit="PSD")
    auth = {
        name: {"Authorization": f"Bearer {own_token(system, name)}"}
        for name in ("alice", "pat", "admin2")
    }
    with TestClient(app_for(system)) as client:
        yield system, camera, Dock(client, token), auth


def _upload(dock: Dock, camera: FakeCamera, data: bytes) -> dict[str, Any]:
    document = camera.manifest(data)
    assert dock.declare(document).status_code == 200
    location = dock.create(document).headers["Location"]
    answer = dock.patch(location, 0, data)
    assert answer.status_code == 204, answer.text
    return document


def test_footage_from_the_dock_is_deleted_for_real_with_a_certificate(
    force: Any, clock: ManualClock, tmp_path: Path
) -> None:
    system, camera, dock, auth = force
    client = dock.client
    manifest = _upload(dock, camera, make_mp4(tmp_path, 2.0))
    routine = manifest["recording_id"]
    arrest = _upload(dock, camera, make_mp4(tmp_path, 2.5))["recording_id"]
    for rid in (routine, arrest):
        media.probe_recording(system, rid)
    shown = {
        rid: client.get(f"/api/v1/recordings/{rid}", headers=auth["alice"]).json()
        for rid in (routine, arrest)
    }
    assert all(s["has_thumbnail"] for s in shown.values())
    objects = set(system.store.iter_objects())
    assert {s["sha256"] for s in shown.values()} <= objects

    assert (
        client.put(
            f"/api/v1/recordings/{arrest}/categories",
            headers=auth["alice"],
            json={"categories": ["Arrest"]},
        ).status_code
        == 200
    )
    clock.set(START + 23 * DAY)
    pending = client.get("/api/v1/retention/pending", headers=auth["alice"]).json()
    assert [i["id"] for i in pending["items"]] == [routine]

    clock.set(START + 30 * DAY)
    preview = client.get(
        "/api/v1/retention/preview",
        headers=auth["admin2"],
        params={"at": (START + 30 * DAY).isoformat()},
    ).json()
    assert [i["id"] for i in preview["items"]] == [routine]
    run = client.post("/api/v1/retention/run", headers=auth["admin2"])
    assert run.status_code == 200, run.text
    assert run.json()["deleted"] == [routine]

    remaining = set(system.store.iter_objects())
    assert shown[routine]["sha256"] not in remaining
    assert shown[arrest]["sha256"] in remaining
    assert len(objects - remaining) == 2  # the footage and its thumbnail

    tombstone = client.get(f"/api/v1/recordings/{routine}", headers=auth["pat"]).json()
    assert tombstone["state"] == "deleted"
    certificate = tombstone["deletion_certificate"]
    # A court checks it with the key the server publishes.
    key = client.get("/api/v1/server-key").json()["public_key"]
    signing.verify(certificate, signing.load_public_key(key))
    assert certificate["recording_id"] == routine
    assert certificate["sha256"] == shown[routine]["sha256"]
    assert certificate["rule"] == "uncategorised"
    assert client.get(f"/api/v1/recordings/{routine}/media", headers=auth["pat"]).status_code == 404
    assert (
        client.get(f"/api/v1/recordings/{routine}/thumbnail", headers=auth["pat"]).status_code
        == 404
    )

    # A camera that offers it again hears it is stored: its tombstone is never re-ingested.
    again = dock.declare(manifest)
    assert again.status_code == 200
    assert again.json()["stored"] is True
