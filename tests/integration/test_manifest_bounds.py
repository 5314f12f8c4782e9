"""A manifest is what the camera format says and no more (issue 11, point 11), over HTTP.

Every string is bounded before it is copied into a flag, the audit log or an answer; a field
the format does not have is refused (docs/camera-format.md: "A camera MUST NOT add other
fields"); a size no upload could ever reach (Tus-Max-Size) is refused at the declaration;
the GPS track is at most a fix a second; and the manifest route's body bound is what such
a manifest can need, while other JSON routes keep a small one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from custody.db.models import AuditEvent, IngestFlag
from custody.db.models import Manifest as ManifestRow
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import START
from tests.factories import FakeCamera, administrator, register
from tests.integration.test_tus_protocol import TUS, Dock

MEGABYTE = 1000 * 1000
# Tus-Max-Size, as OPTIONS states it.
TUS_MAX_SIZE = 64 * 1024**3


@pytest.fixture
def setup(system: System) -> Iterator[tuple[System, FakeCamera, Dock]]:
    camera, _, token = register(system, administrator(system))
    with TestClient(app_for(system)) as client:
        yield system, camera, Dock(client, token)


def _stored_bytes(system: System) -> int:
    """How much text the declaration left behind, in flags, audit events and manifests."""
    with system.unit_of_work() as uow:
        flags = uow.session.scalar(select(func.sum(func.length(IngestFlag.detail)))) or 0
        audit = uow.session.scalar(select(func.sum(func.length(AuditEvent.details)))) or 0
        manifests = uow.session.scalar(select(func.sum(func.length(ManifestRow.document)))) or 0
        return int(flags) + int(audit) + int(manifests)


def _refused(answer: Any) -> bool:
    return answer.status_code == 422 and answer.json()["error"]["code"] == "manifest_invalid"


@pytest.mark.parametrize("field", ["device_serial", "officer_id", "sha256", "ended_at"])
def test_a_megabyte_string_is_refused_and_neither_kept_nor_echoed(setup: Any, field: str) -> None:
    system, camera, dock = setup
    before = _stored_bytes(system)
    document = camera.manifest(b"footage", **{field: "A" * MEGABYTE})
    answer = dock.declare(document)
    assert _refused(answer), answer.text[:300]
    assert len(answer.content) < 1000
    assert _stored_bytes(system) - before < 10_000


def test_a_field_the_format_does_not_have_is_refused(setup: Any) -> None:
    _, camera, dock = setup
    # Signed by the camera's own key: only the field itself is wrong.
    document = camera.manifest(b"footage", firmware_notes="x")
    answer = dock.declare(document)
    assert _refused(answer)
    assert "firmware_notes" not in answer.text
    fix = camera.manifest(b"footage")["gps"][0]
    track = camera.manifest(b"footage", gps=[{**fix, "altitude": 12}])
    assert _refused(dock.declare(track))


def test_a_file_name_other_than_the_recordings_is_refused(setup: Any) -> None:
    _, camera, dock = setup
    answer = dock.declare(camera.manifest(b"footage", file="B" * MEGABYTE + ".mp4"))
    assert _refused(answer)
    assert len(answer.content) < 1000


def test_a_size_no_upload_could_reach_is_refused_at_the_declaration(setup: Any) -> None:
    _, camera, dock = setup
    options = dock.client.options("/api/v1/uploads", headers=TUS)
    assert int(options.headers["Tus-Max-Size"]) == TUS_MAX_SIZE
    answer = dock.declare(camera.manifest(b"footage", size=TUS_MAX_SIZE + 1))
    assert _refused(answer)
    assert dock.declare(camera.manifest(b"footage", size=TUS_MAX_SIZE)).status_code == 200


def test_the_gps_track_is_at_most_a_fix_a_second(setup: Any) -> None:
    _, camera, dock = setup
    six_hours = 6 * 3600
    track = [
        {"at": (START + timedelta(seconds=s)).isoformat(), "lat": 51.5, "lon": -0.05}
        for s in range(six_hours + 2)
    ]
    ended = (START + timedelta(seconds=six_hours)).isoformat()
    too_long = camera.manifest(b"footage", gps=track, ended_at=ended)
    assert _refused(dock.declare(too_long))
    # The longest credible track fits the manifest route's bound, and is accepted.
    longest = camera.manifest(b"footage", gps=track[:-1], ended_at=ended)
    assert dock.declare(longest).status_code == 200


def test_other_json_routes_keep_a_small_bound(setup: Any) -> None:
    _, _, dock = setup
    # What the manifest route takes is too much for a route that names a few fields.
    body = b'{"reference": "CR-9", "title": "' + os.urandom(1).hex().encode() * 300_000 + b'"}'
    answer = dock.client.post(
        "/api/v1/cases", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
