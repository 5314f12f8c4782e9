"""The manifest format and its signature."""

from __future__ import annotations

import copy

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.domain import signing
from custody.domain.errors import ManifestInvalid, SignatureInvalid
from custody.domain.manifest import parse_manifest
from tests.factories import FakeCamera


@pytest.fixture
def camera() -> FakeCamera:
    return FakeCamera("BWV-0001", Ed25519PrivateKey.generate())


def test_a_signed_manifest_parses_and_verifies(camera: FakeCamera) -> None:
    document = camera.manifest(b"footage")
    manifest = parse_manifest(document)
    assert manifest.size == 7
    assert manifest.device_serial == "BWV-0001"
    signing.verify(document, camera.key.public_key())


def test_key_order_and_spacing_do_not_change_the_signature(camera: FakeCamera) -> None:
    document = camera.manifest(b"footage")
    reordered = dict(reversed(list(document.items())))
    signing.verify(reordered, camera.key.public_key())


@pytest.mark.parametrize(
    "field,value",
    [
        ("sha256", "0" * 64),
        ("size", 8),
        ("officer_id", "9999ZZ"),
        ("started_at", "2026-10-01T09:00:01Z"),
    ],
)
def test_any_change_breaks_the_signature(camera: FakeCamera, field: str, value: object) -> None:
    document = copy.deepcopy(camera.manifest(b"footage"))
    document[field] = value
    with pytest.raises(SignatureInvalid):
        signing.verify(document, camera.key.public_key())


def test_another_cameras_key_does_not_verify(camera: FakeCamera) -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(SignatureInvalid):
        signing.verify(camera.manifest(b"x"), other.public_key())


def test_a_missing_or_garbled_signature_is_refused(camera: FakeCamera) -> None:
    document = camera.manifest(b"x")
    with pytest.raises(SignatureInvalid):
        signing.verify(
            {k: v for k, v in document.items() if k != "signature"}, camera.key.public_key()
        )
    with pytest.raises(SignatureInvalid):
        signing.verify({**document, "signature": "not base64!"}, camera.key.public_key())


@pytest.mark.parametrize(
    "change,message",
    [
        ({"format": "other/1"}, "format"),
        ({"recording_id": "not-a-uuid"}, "recording_id"),
        ({"recording_id": "6F9619FF-8B86-D011-B42D-00C04FC964FF"}, "lower-case"),
        ({"size": 0}, "size"),
        ({"size": True}, "size"),
        ({"sha256": "ABC"}, "sha256"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"ended_at": "2026-10-01T08:00:00Z"}, "before"),
        ({"pre_event_seconds": 500}, "pre_event"),
        ({"file": "../etc/passwd"}, "file"),
        ({"gps": [{"at": "2026-10-01T09:00:00Z", "lat": 91, "lon": 0}]}, "Earth"),
        ({"gps": "here"}, "gps"),
        ({"device_serial": ""}, "device_serial"),
    ],
)
def test_malformed_manifests_are_refused_with_the_reason(
    camera: FakeCamera, change: dict[str, object], message: str
) -> None:
    document = {**camera.manifest(b"footage"), **change}
    with pytest.raises(ManifestInvalid, match=message):
        parse_manifest(document)


def test_a_manifest_must_be_an_object() -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(["not", "an", "object"])
