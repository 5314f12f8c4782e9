"""The on-camera format: device.json, signed manifests, and release only for a valid receipt."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.camera import CameraStorage, DeviceInfo, NotACamera, load_device_key
from custody.camera.device import save_device_key, write_device
from custody.domain import signing
from custody.domain.errors import NotFound, ReceiptInvalid, SignatureInvalid
from custody.domain.manifest import GpsPoint, Manifest
from custody.domain.receipt import Receipt, issue_receipt

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@dataclass
class Camera:
    root: Path
    key: Ed25519PrivateKey
    storage: CameraStorage

    @property
    def recordings_dir(self) -> Path:
        return self.root / "recordings"


def device_info(key: Ed25519PrivateKey, **changes: Any) -> DeviceInfo:
    fields: dict[str, Any] = {
        "serial": "BWV-0001",
        "model": "Custody SimCam 1",
        "firmware": "1.4.2",
        "public_key": signing.public_key_text(key.public_key()),
        "battery_percent": 64,
        "capacity_bytes": 10_000,
        "officer_id": "PC 4127",
        "undocked_at": T0 - timedelta(hours=1),
    } | changes
    return DeviceInfo(**fields)


def make_camera(root: Path) -> Camera:
    key = Ed25519PrivateKey.generate()
    root.mkdir()
    save_device_key(root, key)
    write_device(root, device_info(key))
    (root / "recordings").mkdir()
    return Camera(root, key, CameraStorage(root))


def record(camera: Camera, footage: bytes, started_at: datetime = T0) -> Manifest:
    """Write a recording the way a camera does: footage, then its signed manifest."""
    recording_id = str(uuid.uuid4())
    (camera.recordings_dir / f"{recording_id}.mp4").write_bytes(footage)
    manifest = Manifest(
        recording_id=recording_id,
        device_serial="BWV-0001",
        officer_id="PC 4127",
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=10),
        pre_event_seconds=30,
        file=f"{recording_id}.mp4",
        size=len(footage),
        sha256=hashlib.sha256(footage).hexdigest(),
        gps=(GpsPoint(started_at, 51.545, -0.0553),),
    )
    document = signing.sign(manifest.to_json(), camera.key)
    (camera.recordings_dir / f"{recording_id}.json").write_text(json.dumps(document))
    return manifest


def receipt_for(
    manifest: Manifest, server_key: Ed25519PrivateKey, **changes: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "recording_id": manifest.recording_id,
        "sha256": manifest.sha256,
        "size": manifest.size,
        "stored_at": T0 + timedelta(hours=9),
    } | changes
    return issue_receipt(Receipt(**fields), server_key)


@pytest.fixture
def camera(tmp_path: Path) -> Camera:
    return make_camera(tmp_path / "camera")


@pytest.fixture
def server_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


# device.json


def test_device_json_round_trips(camera: Camera) -> None:
    assert camera.storage.device == device_info(camera.key)
    changed = device_info(camera.key, battery_percent=None, officer_id=None, undocked_at=None)
    write_device(camera.root, changed)
    assert camera.storage.device == changed  # re-read from disk, not cached


def test_device_json_is_the_documented_shape(camera: Camera) -> None:
    document = json.loads((camera.root / "device.json").read_text())
    assert document == {
        "format": "custody-device/1",
        "serial": "BWV-0001",
        "model": "Custody SimCam 1",
        "firmware": "1.4.2",
        "public_key": signing.public_key_text(camera.key.public_key()),
        "battery_percent": 64,
        "capacity_bytes": 10_000,
        "officer_id": "PC 4127",
        "undocked_at": "2024-05-01T07:00:00Z",
    }


def test_a_directory_without_device_json_is_not_a_camera(tmp_path: Path) -> None:
    assert not CameraStorage.is_camera(tmp_path)
    with pytest.raises(NotACamera):
        CameraStorage(tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        {"format": "custody-device/2"},
        {"serial": ""},
        {"public_key": "not-a-key"},
        {"battery_percent": 101},
        {"battery_percent": True},
        {"capacity_bytes": 0},
        {"officer_id": ""},
        {"undocked_at": "yesterday"},
    ],
)
def test_an_invalid_device_json_is_not_a_camera(camera: Camera, change: dict[str, Any]) -> None:
    path = camera.root / "device.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | change))
    assert not CameraStorage.is_camera(camera.root)
    with pytest.raises(NotACamera):
        CameraStorage(camera.root)


def test_unparseable_device_json_is_not_a_camera(camera: Camera) -> None:
    (camera.root / "device.json").write_text("{")
    assert not CameraStorage.is_camera(camera.root)


def test_the_simulator_key_is_private_and_loads(camera: Camera) -> None:
    mode = stat.S_IMODE(os.stat(camera.root / ".device-key").st_mode)
    assert mode == 0o600
    loaded = load_device_key(camera.root)
    assert signing.public_key_text(loaded.public_key()) == camera.storage.device.public_key


def test_atomic_writes_leave_no_temporary_files(camera: Camera) -> None:
    write_device(camera.root, device_info(camera.key, battery_percent=12))
    assert sorted(p.name for p in camera.root.iterdir()) == [
        ".device-key",
        "device.json",
        "recordings",
    ]


def test_a_camera_without_a_key_file_cannot_give_one(camera: Camera) -> None:
    (camera.root / ".device-key").unlink()
    with pytest.raises(NotFound):
        load_device_key(camera.root)


# manifests


def test_manifest_signature_verifies_with_the_device_key(camera: Camera) -> None:
    record(camera, b"footage")
    [recording] = camera.storage.recordings()
    device_key = signing.load_public_key(camera.storage.device.public_key)
    signing.verify(recording.document, device_key)


def test_any_changed_byte_of_a_manifest_breaks_its_signature(camera: Camera) -> None:
    record(camera, b"footage")
    [recording] = camera.storage.recordings()
    device_key = signing.load_public_key(camera.storage.device.public_key)
    signature = recording.document["signature"]
    signed = signing.canonical_bytes(recording.document)
    checked = 0
    for index in range(len(signed)):
        altered = bytearray(signed)
        altered[index] = ord("0") if altered[index] != ord("0") else ord("1")
        try:
            document = json.loads(bytes(altered))
        except ValueError:
            continue  # no longer JSON: refused before any signature is checked
        with pytest.raises(SignatureInvalid):
            signing.verify({**document, "signature": signature}, device_key)
        checked += 1
    assert checked > len(signed) // 2


def test_recordings_are_listed_oldest_first(camera: Camera) -> None:
    late = record(camera, b"late", T0 + timedelta(hours=2))
    early = record(camera, b"early", T0)
    middle = record(camera, b"middle", T0 + timedelta(hours=1))
    listed = camera.storage.recordings()
    assert [r.manifest for r in listed] == [early, middle, late]
    first = listed[0]
    assert first.media_path == camera.recordings_dir / f"{early.recording_id}.mp4"
    assert first.manifest_path == camera.recordings_dir / f"{early.recording_id}.json"
    assert first.document["sha256"] == early.sha256
    assert camera.storage.problems() == []


def test_broken_manifests_are_skipped_and_reported_not_deleted(camera: Camera) -> None:
    good = record(camera, b"good")
    bad_json = camera.recordings_dir / f"{uuid.uuid4()}.json"
    bad_json.write_text("{not json")
    bad_field = record(camera, b"field")
    field_path = camera.recordings_dir / f"{bad_field.recording_id}.json"
    field_path.write_text(json.dumps(json.loads(field_path.read_text()) | {"size": -1}))
    orphan = camera.recordings_dir / f"{uuid.uuid4()}.mp4"
    orphan.write_bytes(b"no manifest")
    (camera.recordings_dir / ".half-written.part").write_bytes(b"ignored")

    assert [r.manifest for r in camera.storage.recordings()] == [good]
    problems = camera.storage.problems()
    assert len(problems) == 3
    assert any(bad_json.name in p and "unreadable" in p for p in problems)
    assert any(field_path.name in p and "size" in p for p in problems)
    assert any(orphan.name in p and "without a manifest" in p for p in problems)
    assert bad_json.exists() and field_path.exists() and orphan.exists()


def test_a_manifest_naming_another_file_is_skipped(camera: Camera) -> None:
    manifest = record(camera, b"footage")
    path = camera.recordings_dir / f"{manifest.recording_id}.json"
    document = json.loads(path.read_text()) | {"file": "other.mp4"}
    path.write_text(json.dumps(signing.sign(document, camera.key)))
    assert camera.storage.recordings() == []
    assert "other.mp4" in camera.storage.problems()[0]


def test_free_bytes_is_capacity_less_recordings(camera: Camera) -> None:
    assert camera.storage.free_bytes() == 10_000
    record(camera, b"x" * 1000)
    manifest_bytes = sum(p.stat().st_size for p in camera.recordings_dir.glob("*.json"))
    assert camera.storage.free_bytes() == 10_000 - 1000 - manifest_bytes
    write_device(camera.root, device_info(camera.key, capacity_bytes=None))
    assert camera.storage.free_bytes() is None


# release


def assert_still_held(camera: Camera, manifest: Manifest) -> None:
    assert (camera.recordings_dir / f"{manifest.recording_id}.mp4").read_bytes()
    assert (camera.recordings_dir / f"{manifest.recording_id}.json").exists()
    assert [r.manifest for r in camera.storage.recordings()] == [manifest]


def test_release_deletes_footage_and_manifest_for_a_valid_receipt(
    camera: Camera, server_key: Ed25519PrivateKey
) -> None:
    manifest = record(camera, b"footage")
    receipt = receipt_for(manifest, server_key)
    camera.storage.release(manifest.recording_id, receipt, server_key.public_key())
    assert list(camera.recordings_dir.iterdir()) == []
    assert camera.storage.recordings() == []


@pytest.mark.parametrize(
    "change",
    [
        {"sha256": "0" * 64},
        {"size": 6},
        {"recording_id": "3b2e0a52-5c3e-4c0c-9a57-1b1f0d5ad1a1"},
    ],
    ids=["wrong-sha256", "wrong-size", "other-recording-id"],
)
def test_release_refuses_a_receipt_that_differs_from_the_manifest(
    camera: Camera, server_key: Ed25519PrivateKey, change: dict[str, Any]
) -> None:
    manifest = record(camera, b"footage")
    receipt = receipt_for(manifest, server_key, **change)
    with pytest.raises(ReceiptInvalid):
        camera.storage.release(manifest.recording_id, receipt, server_key.public_key())
    assert_still_held(camera, manifest)


def test_release_refuses_a_receipt_signed_by_another_key(
    camera: Camera, server_key: Ed25519PrivateKey
) -> None:
    manifest = record(camera, b"footage")
    forged = receipt_for(manifest, Ed25519PrivateKey.generate())
    with pytest.raises(ReceiptInvalid):
        camera.storage.release(manifest.recording_id, forged, server_key.public_key())
    assert_still_held(camera, manifest)


def test_release_refuses_another_recordings_receipt(
    camera: Camera, server_key: Ed25519PrivateKey
) -> None:
    kept = record(camera, b"not uploaded yet")
    uploaded = record(camera, b"uploaded", T0 + timedelta(hours=1))
    receipt = receipt_for(uploaded, server_key)
    with pytest.raises(ReceiptInvalid):
        camera.storage.release(kept.recording_id, receipt, server_key.public_key())
    assert [r.manifest for r in camera.storage.recordings()] == [kept, uploaded]


def test_release_refuses_a_receipt_for_an_edited_manifest(
    camera: Camera, server_key: Ed25519PrivateKey
) -> None:
    """Editing the manifest on the camera must not let a receipt for other bytes free footage."""
    kept = record(camera, b"never uploaded")
    uploaded = record(camera, b"uploaded", T0 + timedelta(hours=1))
    path = camera.recordings_dir / f"{kept.recording_id}.json"
    edited = json.loads(path.read_text()) | {"sha256": uploaded.sha256, "size": uploaded.size}
    path.write_text(json.dumps(edited))
    receipt = receipt_for(uploaded, server_key, recording_id=kept.recording_id)
    with pytest.raises(ReceiptInvalid):
        camera.storage.release(kept.recording_id, receipt, server_key.public_key())
    assert (camera.recordings_dir / f"{kept.recording_id}.mp4").exists()


def test_release_of_an_unknown_recording_is_not_found(
    camera: Camera, server_key: Ed25519PrivateKey
) -> None:
    manifest = record(camera, b"footage")
    receipt = receipt_for(manifest, server_key)
    with pytest.raises(NotFound):
        camera.storage.release(str(uuid.uuid4()), receipt, server_key.public_key())
    with pytest.raises(NotFound):
        camera.storage.release("../device", receipt, server_key.public_key())
    assert_still_held(camera, manifest)


def test_an_interrupted_release_can_be_finished(
    camera: Camera, server_key: Ed25519PrivateKey
) -> None:
    manifest = record(camera, b"footage")
    # A power cut after the footage was deleted and before the manifest was.
    (camera.recordings_dir / f"{manifest.recording_id}.mp4").unlink()
    assert camera.storage.recordings() == []
    assert "footage is gone" in camera.storage.problems()[0]
    receipt = receipt_for(manifest, server_key)
    camera.storage.release(manifest.recording_id, receipt, server_key.public_key())
    assert list(camera.recordings_dir.iterdir()) == []
