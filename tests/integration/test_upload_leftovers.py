"""Issue 11, point 16: no staged byte outlives its upload, and every upload ends.

Each crash state is made directly on disk or in the database, as the server would have
left it, and then the real code runs: the tus endpoint over HTTP, and the hourly job's
`expire_uploads`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from custody.db.models import Upload
from custody.domain.uploads import UploadState
from custody.services.ingest.expiry import expire_uploads
from custody.services.system import System
from tests.apps import app_for
from tests.factories import FakeCamera, administrator, register

TUS = {"Tus-Resumable": "1.0.0"}


class Dock:
    """Speaks tus as a dock does."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"}

    def declare(self, document: dict[str, Any]) -> Any:
        return self.client.put(
            f"/api/v1/manifests/{document['recording_id']}", json=document, headers=self.auth
        )

    def create(self, document: dict[str, Any]) -> str:
        rid = base64.b64encode(document["recording_id"].encode()).decode()
        answer = self.client.post(
            "/api/v1/uploads",
            headers={
                **TUS,
                **self.auth,
                "Upload-Length": str(document["size"]),
                "Upload-Metadata": f"recording_id {rid}",
            },
        )
        assert answer.status_code == 201, answer.text
        location: str = answer.headers["Location"]
        return location

    def patch(self, location: str, offset: int, body: bytes) -> Any:
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        return self.client.patch(
            location,
            content=body,
            headers={
                **TUS,
                **self.auth,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Upload-Checksum": f"sha256 {digest}",
            },
        )

    def head(self, location: str) -> Any:
        return self.client.head(location, headers={**TUS, **self.auth})


@pytest.fixture
def setup(system: System) -> Iterator[tuple[System, FakeCamera, Dock]]:
    camera, _, token = register(system, administrator(system))
    with TestClient(app_for(system)) as client:
        yield system, camera, Dock(client, token)


def staged(system: System) -> list[str]:
    """What the staging directory holds, by name."""
    staging = system.settings.staging_dir
    return sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []


def part_of(system: System, location: str) -> Path:
    # The embedded staging seals an upload's bytes as they arrive (storage/sealed_staging.py).
    return system.settings.staging_dir / f"{location.rsplit('/', 1)[1]}.sealed"


def test_staging_files_no_receiving_upload_owns_are_cleaned_and_live_ones_kept(
    setup: Any,
) -> None:
    system, camera, dock = setup
    data = os.urandom(3000)
    document = camera.manifest(data)
    dock.declare(document)
    live = dock.create(document)
    assert dock.patch(live, 0, data[:1000]).status_code == 204
    # The server died after creating an upload's file and before committing its row.
    never_committed = system.settings.staging_dir / f"{uuid.uuid4().hex}.part"
    never_committed.touch()
    # And after ending an upload (the dock terminated it), before deleting its bytes.
    ended = dock.create(document)
    assert dock.patch(ended, 0, data[:500]).status_code == 204
    kept_bytes = part_of(system, ended).read_bytes()
    assert dock.client.delete(ended, headers={**TUS, **dock.auth}).status_code == 204
    part_of(system, ended).write_bytes(kept_bytes)
    assert len(staged(system)) == 3

    expire_uploads(system)

    assert staged(system) == [part_of(system, live).name]
    # The live upload is untouched: it resumes at its offset and becomes the recording.
    assert dock.head(live).headers["Upload-Offset"] == "1000"
    assert dock.patch(live, 1000, data[1000:]).status_code == 204
    assert dock.declare(document).json()["stored"] is True
    assert staged(system) == []


def test_the_commit_ends_the_other_uploads_of_its_recording(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(3000)
    document = camera.manifest(data)
    dock.declare(document)
    # The dock opened an upload and sent a chunk, then lost the answer to its next POST
    # and opened another, which it finished.
    lost = dock.create(document)
    assert dock.patch(lost, 0, data[:1000]).status_code == 204
    finished = dock.create(document)
    assert dock.patch(finished, 0, data).status_code == 204

    assert dock.head(lost).status_code == 410
    assert dock.patch(lost, 1000, data[1000:]).status_code == 410
    assert staged(system) == []
    assert dock.declare(document).json()["uploads"] == []


def test_the_hourly_job_ends_an_upload_left_receiving_for_a_stored_recording(
    setup: Any,
) -> None:
    system, camera, dock = setup
    data = os.urandom(3000)
    document = camera.manifest(data)
    dock.declare(document)
    other = dock.create(document)
    assert dock.patch(other, 0, data[:1000]).status_code == 204
    kept_bytes = part_of(system, other).read_bytes()
    assert dock.patch(dock.create(document), 0, data).status_code == 204
    # As left by an upload opened while the commit ran (or by a server before this fix).
    with system.unit_of_work() as uow:
        uow.session.execute(
            update(Upload)
            .where(Upload.id == other.rsplit("/", 1)[1])
            .values(state=UploadState.RECEIVING, failure=None)
        )
        uow.commit()
    part_of(system, other).write_bytes(kept_bytes)
    assert dock.head(other).status_code == 200

    assert expire_uploads(system) == 1

    assert dock.head(other).status_code == 410
    assert staged(system) == []
