"""A tus upload into the S3 store while the store answers 503: a clear error, nothing lost,
and the same upload finished once the store answers again."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from custody.config import Settings
from custody.domain.clock import ManualClock
from custody.storage.s3 import MIN_PART
from tests.apps import app_for
from tests.conftest import Installer, RecordedJobs
from tests.factories import FakeCamera, administrator, register
from tests.integration.test_s3_store import BusyS3, busy_s3
from tests.integration.test_tus_protocol import Dock


@pytest.fixture
def busy(
    tmp_path: Path,
    clock: ManualClock,
    install: Installer,
    s3_url: str,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[FakeCamera, Dock, type[BusyS3]]]:
    with busy_s3(s3_endpoint) as (endpoint, handler):
        monkeypatch.setenv("CUSTODY_S3_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("CUSTODY_S3_MAX_ATTEMPTS", "2")
        monkeypatch.setenv("CUSTODY_S3_PART_BYTES", str(MIN_PART))
        settings = Settings(data_dir=tmp_path / "data", storage_url=s3_url)
        system = install(settings, clock=clock, jobs=RecordedJobs())
        camera, _, token = register(system, administrator(system))
        with TestClient(app_for(system)) as client:
            yield camera, Dock(client, token), handler
        system.engine.dispose()


def test_a_busy_store_is_a_503_and_the_upload_goes_on_once_it_answers(
    busy: tuple[FakeCamera, Dock, type[BusyS3]],
) -> None:
    camera, dock, store = busy
    data = os.urandom(MIN_PART + 300_000)  # two parts
    document = camera.manifest(data)
    assert dock.declare(document).status_code == 200
    created = dock.create(document)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    half = len(data) // 2
    assert dock.patch(location, 0, data[:half]).status_code == 204

    store.busy = 1000
    refused = dock.patch(location, half, data[half:])
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "store_unavailable"
    assert "503" in refused.json()["error"]["message"]
    # Nothing moved: the server's offset is where the last good chunk left it.
    store.busy = 0
    assert dock.head(location).headers["Upload-Offset"] == str(half)

    finished = dock.patch(location, half, data[half:])
    assert finished.status_code == 204, finished.text
    assert finished.headers["Custody-Recording"] == document["recording_id"]
    receipt = dock.client.get(
        f"/api/v1/receipts/{document['recording_id']}", headers=dock.auth
    ).json()
    assert receipt["sha256"] == hashlib.sha256(data).hexdigest()
