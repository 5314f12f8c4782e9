"""tus 1.0.0 at /api/v1/uploads, status code by status code, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from custody.db.models import AuditEvent, IngestFlag, Recording, Upload
from custody.domain import signing
from custody.domain.manifest import parse_manifest
from custody.domain.receipt import verify_receipt
from custody.services.system import System
from tests.apps import app_for
from tests.factories import FakeCamera, administrator, own_token, register

TUS = {"Tus-Resumable": "1.0.0"}


class Dock:
    """A test client speaking as a dock."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"}

    def declare(self, document: dict[str, Any]) -> Any:
        return self.client.put(
            f"/api/v1/manifests/{document['recording_id']}", json=document, headers=self.auth
        )

    def create(self, document: dict[str, Any], length: int | None = None, **headers: str) -> Any:
        rid = base64.b64encode(document["recording_id"].encode()).decode()
        name = base64.b64encode(b"x.mp4").decode()
        return self.client.post(
            "/api/v1/uploads",
            headers={
                **TUS,
                **self.auth,
                "Upload-Length": str(length or document["size"]),
                "Upload-Metadata": f"recording_id {rid},filename {name}",
                **headers,
            },
        )

    def patch(
        self, location: str, offset: int, body: bytes, checksum: bytes | None = None, **headers: str
    ) -> Any:
        digest = hashlib.sha256(body).digest() if checksum is None else checksum
        return self.client.patch(
            location,
            content=body,
            headers={
                **TUS,
                **self.auth,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Upload-Checksum": f"sha256 {base64.b64encode(digest).decode()}",
                **headers,
            },
        )

    def head(self, location: str) -> Any:
        return self.client.head(location, headers={**TUS, **self.auth})


@pytest.fixture
def setup(system: System) -> Iterator[tuple[System, FakeCamera, Dock]]:
    camera, _, token = register(system, administrator(system))
    with TestClient(app_for(system)) as client:
        yield system, camera, Dock(client, token)


def _count(system: System, model: Any) -> int:
    with system.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def test_options_advertises_version_extensions_and_checksum(setup: Any) -> None:
    _, _, dock = setup
    answer = dock.client.options("/api/v1/uploads")
    assert answer.status_code == 204
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) == {
        "creation",
        "checksum",
        "termination",
        "expiration",
    }
    # tus checksum: "The Server MUST support at least the SHA1 checksum algorithm".
    assert answer.headers["Tus-Checksum-Algorithm"].split(",") == ["sha1", "sha256"]
    assert int(answer.headers["Tus-Max-Size"]) > 1024**3


def test_a_whole_upload_in_chunks_makes_a_recording_with_a_valid_receipt(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(300_000)
    document = camera.manifest(data)
    declared = dock.declare(document)
    assert declared.status_code == 200, declared.text
    assert declared.json() == {
        "recording_id": document["recording_id"],
        "stored": False,
        "receipt": None,
        "uploads": [],
    }
    created = dock.create(document)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location.startswith("http://testserver/api/v1/uploads/")
    assert "Upload-Expires" in created.headers and created.headers["Tus-Resumable"] == "1.0.0"

    head = dock.head(location)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Cache-Control"] == "no-store"

    offset = 0
    for size in (100_000, 100_000, 100_000):
        answer = dock.patch(location, offset, data[offset : offset + size])
        assert answer.status_code == 204, answer.text
        offset += size
        assert answer.headers["Upload-Offset"] == str(offset)
    assert answer.headers["Custody-Recording"] == document["recording_id"]

    receipt = dock.client.get(f"/api/v1/receipts/{document['recording_id']}", headers=dock.auth)
    assert receipt.status_code == 200
    checked = verify_receipt(
        receipt.json(), parse_manifest(document), system.server_key.public_key()
    )
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, document["recording_id"])
        assert recording is not None and recording.size == len(data)
        assert b"".join(system.store.read(recording.sha256)) == data
    assert system.jobs.probed == [document["recording_id"]]


def test_a_chunk_with_a_wrong_checksum_is_refused_with_460_and_no_progress(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(50_000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    assert dock.patch(location, 0, data[:20_000]).status_code == 204
    bad = dock.patch(location, 20_000, data[20_000:40_000], checksum=hashlib.sha256(b"x").digest())
    assert bad.status_code == 460
    assert bad.json()["error"]["code"] == "checksum_mismatch"
    assert dock.head(location).headers["Upload-Offset"] == "20000"
    # The right bytes then go through from the same offset.
    assert dock.patch(location, 20_000, data[20_000:]).status_code == 204
    assert _count(system, Recording) == 1


def _sha1(body: bytes) -> str:
    return f"sha1 {base64.b64encode(hashlib.sha1(body).digest()).decode()}"


def test_sha1_checksums_are_verified_like_sha256(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(50_000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    first = dock.patch(location, 0, data[:20_000], **{"Upload-Checksum": _sha1(data[:20_000])})
    assert first.status_code == 204, first.text
    assert first.headers["Upload-Offset"] == "20000"
    # A sha1 that does not match: 460, nothing kept.
    wrong = dock.patch(location, 20_000, data[20_000:], **{"Upload-Checksum": _sha1(b"other")})
    assert wrong.status_code == 460
    assert wrong.json()["error"]["code"] == "checksum_mismatch"
    assert dock.head(location).headers["Upload-Offset"] == "20000"
    # A sha256 digest named sha1 is not a sha1 digest.
    misnamed = f"sha1 {base64.b64encode(hashlib.sha256(data[20_000:]).digest()).decode()}"
    refused = dock.patch(location, 20_000, data[20_000:], **{"Upload-Checksum": misnamed})
    assert refused.status_code == 400
    # An algorithm the server does not list is refused (tus: 400 Bad Request).
    md5 = f"md5 {base64.b64encode(hashlib.md5(data[20_000:]).digest()).decode()}"
    assert (
        dock.patch(location, 20_000, data[20_000:], **{"Upload-Checksum": md5}).status_code == 400
    )
    last = dock.patch(location, 20_000, data[20_000:], **{"Upload-Checksum": _sha1(data[20_000:])})
    assert last.status_code == 204, last.text
    assert last.headers["Custody-Recording"] == document["recording_id"]
    assert _count(system, Recording) == 1


def test_head_gives_back_the_metadata_the_upload_was_created_with(setup: Any) -> None:
    _, camera, dock = setup
    data = os.urandom(1000)
    document = camera.manifest(data)
    dock.declare(document)
    rid = base64.b64encode(document["recording_id"].encode()).decode()
    name = base64.b64encode("clip é.mp4".encode()).decode()
    metadata = f"recording_id {rid},filename {name},is_confidential"
    created = dock.create(document, **{"Upload-Metadata": metadata})
    assert created.status_code == 201, created.text
    head = dock.head(created.headers["Location"])
    assert head.status_code == 200
    # The same pairs (tus: "MUST include the Upload-Metadata response header").
    assert set(head.headers["Upload-Metadata"].split(",")) == set(metadata.split(","))


@pytest.mark.parametrize(
    "content_type",
    [
        "application/offset+octet-stream; charset=binary",
        "Application/Offset+Octet-Stream",
        "application/offset+octet-stream ;foo=bar",
    ],
)
def test_content_type_is_compared_as_a_media_type(setup: Any, content_type: str) -> None:
    _, camera, dock = setup
    data = os.urandom(1000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    answer = dock.patch(location, 0, data[:500], **{"Content-Type": content_type})
    assert answer.status_code == 204, answer.text
    assert answer.headers["Upload-Offset"] == "500"


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "application/offset+octet-streamx", "text/plain"]
)
def test_another_media_type_is_still_415(setup: Any, content_type: str) -> None:
    _, camera, dock = setup
    data = os.urandom(1000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    answer = dock.patch(location, 0, data, **{"Content-Type": content_type})
    assert answer.status_code == 415
    assert dock.head(location).headers["Upload-Offset"] == "0"


def test_a_patch_at_the_wrong_offset_is_409(setup: Any) -> None:
    _, camera, dock = setup
    data = os.urandom(1000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    answer = dock.patch(location, 500, data[500:])
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "offset_mismatch"
    assert dock.head(location).headers["Upload-Offset"] == "0"


def test_protocol_preconditions(setup: Any) -> None:
    _, camera, dock = setup
    data = os.urandom(1000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    # Wrong or missing Tus-Resumable: 412 with the version we speak.
    wrong = dock.client.patch(
        location,
        content=b"x",
        headers={
            **dock.auth,
            "Tus-Resumable": "0.2.2",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert wrong.status_code == 412 and wrong.headers["Tus-Version"] == "1.0.0"
    # Wrong content type: 415.
    assert dock.patch(location, 0, data, **{"Content-Type": "text/plain"}).status_code == 415
    # No Upload-Offset: 400.
    missing = dock.client.patch(
        location,
        content=data,
        headers={**TUS, **dock.auth, "Content-Type": "application/offset+octet-stream"},
    )
    assert missing.status_code == 400
    # Unknown upload: 404 for PATCH and HEAD.
    assert dock.patch("/api/v1/uploads/" + "0" * 32, 0, data).status_code == 404
    assert dock.head("/api/v1/uploads/" + "0" * 32).status_code == 404
    # Too large: 413.
    assert dock.create(document, length=2**62).status_code == 413
    # An unsupported checksum algorithm: 400.
    md5 = dock.client.patch(
        location,
        content=data,
        headers={
            **TUS,
            **dock.auth,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": "md5 AAAA",
        },
    )
    assert md5.status_code == 400
    assert dock.head(location).headers["Upload-Offset"] == "0"


def test_creation_needs_a_declared_manifest_and_its_exact_length(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(1000)
    document = camera.manifest(data)
    assert dock.create(document).status_code == 400
    dock.declare(document)
    wrong = dock.create(document, length=999)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "content_mismatch"
    assert _count(system, Upload) == 0


def test_uploads_need_a_dock_token(setup: Any) -> None:
    _system, camera, dock = setup
    document = camera.manifest(b"abc")
    answer = dock.client.put(f"/api/v1/manifests/{document['recording_id']}", json=document)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_authenticated"
    forged = dock.client.post(
        "/api/v1/uploads",
        headers={**TUS, "Authorization": "Bearer cdk_forged", "Upload-Length": "3"},
    )
    assert forged.status_code == 401


def test_a_user_token_cannot_upload(setup: Any) -> None:
    from custody.services.identity import users

    system, camera, dock = setup
    admin = users.principal_named(system, "admin")
    users.create_user(system, admin, "alice", "investigator")
    token = own_token(system, "alice")
    document = camera.manifest(b"abc")
    answer = dock.client.put(
        f"/api/v1/manifests/{document['recording_id']}",
        json=document,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 401


def test_termination_ends_the_upload_and_frees_its_bytes(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(1000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    dock.patch(location, 0, data[:400])
    answer = dock.client.delete(location, headers={**TUS, **dock.auth})
    assert answer.status_code == 204
    assert dock.head(location).status_code == 410
    assert dock.patch(location, 400, data[400:]).status_code == 410
    assert list(system.settings.staging_dir.iterdir()) == []


def test_terminating_a_completed_upload_ends_it_and_keeps_the_recording(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(3000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    assert dock.patch(location, 0, data).status_code == 204
    receipt = dock.client.get(f"/api/v1/receipts/{document['recording_id']}", headers=dock.auth)

    answer = dock.client.delete(location, headers={**TUS, **dock.auth})
    assert answer.status_code == 204, answer.text
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    # The upload resource is gone ...
    assert dock.head(location).status_code == 410
    assert dock.patch(location, len(data), b"").status_code == 410
    assert dock.client.delete(location, headers={**TUS, **dock.auth}).status_code == 410
    # ... and the recording is as it was: its row, its bytes, its receipt.
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, document["recording_id"])
        assert recording is not None and recording.state == "stored"
        assert b"".join(system.store.read(recording.sha256)) == data
    again = dock.client.get(f"/api/v1/receipts/{document['recording_id']}", headers=dock.auth)
    assert again.status_code == 200 and again.json() == receipt.json()
    assert dock.declare(document).json()["stored"] is True


def test_an_expired_upload_is_gone(setup: Any) -> None:
    from datetime import timedelta

    from custody.domain.uploads import UPLOAD_LIFETIME

    system, camera, dock = setup
    data = os.urandom(1000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    system.clock.advance(UPLOAD_LIFETIME + timedelta(seconds=1))
    assert dock.head(location).status_code == 410
    assert dock.patch(location, 0, data).status_code == 410


def test_a_forged_manifest_is_refused_and_flagged(setup: Any) -> None:
    system, camera, dock = setup
    document = camera.manifest(b"footage")
    forged = {**document, "officer_id": "9999ZZ"}
    answer = dock.declare(forged)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "signature_invalid"
    assert dock.create(forged).status_code == 400  # nothing was declared
    with system.unit_of_work() as uow:
        flags = uow.session.scalars(select(IngestFlag)).all()
        assert [f.kind for f in flags] == ["signature_invalid"]
        denied = uow.session.scalars(select(AuditEvent).where(AuditEvent.allowed.is_(False))).all()
        assert [e.tag for e in denied] == ["dock:recording:signature_invalid"]


def test_an_unknown_camera_is_refused(setup: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _, _, dock = setup
    stranger = FakeCamera("BWV-9999", Ed25519PrivateKey.generate())
    answer = dock.declare(stranger.manifest(b"x"))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "unknown_camera"


def test_the_same_recording_twice_is_one_recording(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(5000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    assert dock.patch(location, 0, data).status_code == 204
    # A dock that lost the answer tries again: no second upload opens for a stored
    # recording; the answer points at its receipt.
    second = dock.create(document)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "recording_stored"
    receipt = dock.client.get(second.headers["Location"], headers=dock.auth)
    assert receipt.status_code == 200
    assert receipt.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert _count(system, Upload) == 1
    again = dock.declare(document)
    assert again.json()["stored"] is True
    assert again.json()["receipt"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert _count(system, Recording) == 1


def test_the_same_recording_id_with_other_bytes_is_409_and_flagged(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(5000)
    document = camera.manifest(data)
    dock.declare(document)
    dock.patch(dock.create(document).headers["Location"], 0, data)
    other = camera.manifest(os.urandom(5000), recording_id=document["recording_id"])
    answer = dock.declare(other)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "recording_conflict"
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, document["recording_id"])
        assert recording is not None and recording.sha256 == hashlib.sha256(data).hexdigest()
        assert [f.kind for f in uow.session.scalars(select(IngestFlag))] == ["conflict"]


def test_a_declared_manifest_reports_uploads_in_progress(setup: Any) -> None:
    _, camera, dock = setup
    data = os.urandom(5000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    dock.patch(location, 0, data[:2000])
    again = dock.declare(document).json()
    upload_id = location.rsplit("/", 1)[1]
    assert again["uploads"] == [
        {
            "upload_id": upload_id,
            "offset": 2000,
            "length": 5000,
            "url": f"/api/v1/uploads/{upload_id}",
        }
    ]


def test_bytes_that_do_not_match_the_manifest_fail_the_upload(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(5000)
    tampered = bytearray(data)
    tampered[100] ^= 0xFF
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    answer = dock.patch(location, 0, bytes(tampered))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "content_mismatch"
    assert _count(system, Recording) == 0
    assert list(system.store.iter_objects()) == []
    assert dock.head(location).status_code == 410


def test_bytes_past_the_recorded_offset_are_cut_off(setup: Any) -> None:
    """A request that wrote bytes but died before the offset moved leaves them unacknowledged."""
    system, camera, dock = setup
    # Past a whole segment of the sealed staging (1 MiB), so the dying request seals one.
    data = os.urandom(3 << 20)
    sha = hashlib.sha256(data).hexdigest()
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    dock.patch(location, 0, data[:1000])
    dying = system.staging.writer(location.rsplit("/", 1)[1], 1000, len(data), sha)
    dying.write(b"garbage from a request that died" * 40_000)
    dying.close()
    assert dock.head(location).headers["Upload-Offset"] == "1000"
    assert dock.patch(location, 1000, data[1000:]).status_code == 204
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, document["recording_id"])
        assert recording is not None
    assert b"".join(system.store.read(hashlib.sha256(data).hexdigest())) == data


def test_a_commit_interrupted_after_the_file_moved_completes_from_the_store(setup: Any) -> None:
    system, camera, dock = setup
    data = os.urandom(4000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    dock.patch(location, 0, data[:3000])
    # Simulate: the last chunk was written and its offset recorded, the file moved into the
    # store, and then the server died before the recording row was committed.
    sha = hashlib.sha256(data).hexdigest()
    last = system.staging.writer(upload_id, 3000, len(data), sha)
    last.write(data[3000:])
    last.keep()
    last.close()
    with system.unit_of_work() as uow:
        upload = uow.session.get(Upload, upload_id)
        assert upload is not None
        upload.offset = len(data)
        uow.commit()
    system.staging.move_into(system.store, upload_id, len(data), sha, verified=False)
    assert not system.staging.has(upload_id)
    assert dock.head(location).headers["Upload-Offset"] == str(len(data))
    finish = dock.client.patch(
        location,
        content=b"",
        headers={
            **TUS,
            **dock.auth,
            "Upload-Offset": str(len(data)),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert finish.status_code == 204, finish.text
    assert finish.headers["Custody-Recording"] == document["recording_id"]
    assert _count(system, Recording) == 1


def test_every_error_is_json_with_a_code(setup: Any) -> None:
    _, _, dock = setup
    answer = dock.client.put(
        "/api/v1/manifests/not-a-uuid", json={"recording_id": "x"}, headers=dock.auth
    )
    assert answer.status_code == 400
    body = answer.json()
    assert set(body["error"]) == {"code", "message"}
    bad_json = dock.client.put(
        f"/api/v1/manifests/{'0' * 8}-0000-0000-0000-{'0' * 12}",
        content=b"{not json",
        headers={**dock.auth, "Content-Type": "application/json"},
    )
    assert bad_json.status_code == 422
    assert json.loads(bad_json.text)["error"]["code"] == "invalid_request"


def test_the_server_key_is_published(setup: Any) -> None:
    _system, _, dock = setup
    answer = dock.client.get("/api/v1/server-key").json()
    assert answer["algorithm"] == "Ed25519"
    assert signing.load_public_key(answer["public_key"]) is not None


def test_an_empty_patch_on_a_committed_upload_names_its_recording(setup: Any) -> None:
    """A dock that lost the answer to its last chunk asks again and learns the recording."""
    _, camera, dock = setup
    data = os.urandom(3000)
    document = camera.manifest(data)
    dock.declare(document)
    location = dock.create(document).headers["Location"]
    assert dock.patch(location, 0, data).status_code == 204
    again = dock.client.patch(
        location,
        content=b"",
        headers={
            **TUS,
            **dock.auth,
            "Upload-Offset": str(len(data)),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert again.status_code == 204, again.text
    assert again.headers["Upload-Offset"] == str(len(data))
    assert again.headers["Custody-Recording"] == document["recording_id"]
    assert dock.head(location).headers["Upload-Offset"] == str(len(data))


def test_a_report_about_an_unregistered_camera_is_refused_clearly(setup: Any) -> None:
    _, _, dock = setup
    answer = dock.client.post(
        "/api/v1/docks/reports",
        headers=dock.auth,
        json={
            "serial": "BWV-NOPE",
            "bay": "bay-1",
            "battery_percent": 50,
            "free_bytes": 10,
            "firmware": "1.0",
            "recordings_waiting": 1,
        },
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "unknown_camera"
