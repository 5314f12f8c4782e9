"""tus against a real `custody serve`: clients we did not write, and a peer gone silent.

tuspy (Python) with sha1 checksums and a resume; tus-js-client (Node, installed from npm
by `make install` into tests/interop) with overridePatchMethod and a resume; and a raw
socket that stops sending mid-PATCH without closing, as a dock does when its cable is
pulled, after which another client resumes from HEAD's offset.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tusclient.client import TusClient

from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from tests.conftest import Installation, running_installation, services_required
from tests.factories import FakeCamera

TUS = {"Tus-Resumable": "1.0.0"}
# The server gives up on a PATCH body after this long without a byte (default 30 s).
# Long enough for the lock it holds to be seen on a loaded machine (the window is this).
IDLE_SECONDS = 2
INTEROP = Path(__file__).resolve().parent.parent / "interop"


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    with pytest.MonkeyPatch.context() as patch:
        # Read by the server process the installation starts.
        patch.setenv("CUSTODY_UPLOAD_IDLE_SECONDS", str(IDLE_SECONDS))
        with running_installation(tmp_path_factory.mktemp("station")) as made:
            yield made


@pytest.fixture(scope="module")
def camera(installation: Installation) -> FakeCamera:
    made = FakeCamera("BWV-TUS-1", Ed25519PrivateKey.generate())
    result = installation.run(
        "fleet",
        "add-camera",
        "--serial",
        made.serial,
        "--model",
        "SimCam",
        "--firmware",
        "1.0",
        "--public-key",
        made.public_key,
        "--officer",
        "1234AB",
    )
    assert result.returncode == 0, result.stderr
    return made


def _dock(installation: Installation) -> dict[str, str]:
    return {"Authorization": f"Bearer {installation.dock_token}"}


def _declared(installation: Installation, camera: FakeCamera, data: bytes) -> dict[str, Any]:
    document = camera.manifest(data)
    answer = httpx.put(
        f"{installation.server.url}/api/v1/manifests/{document['recording_id']}",
        json=document,
        headers=_dock(installation),
    )
    assert answer.status_code == 200, answer.text
    return document


def _create(installation: Installation, document: dict[str, Any]) -> str:
    rid = base64.b64encode(document["recording_id"].encode()).decode()
    answer = httpx.post(
        f"{installation.server.url}/api/v1/uploads",
        headers={
            **TUS,
            **_dock(installation),
            "Upload-Length": str(document["size"]),
            "Upload-Metadata": f"recording_id {rid}",
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.headers["Location"]


def _offset(installation: Installation, location: str) -> int:
    answer = httpx.head(location, headers={**TUS, **_dock(installation)})
    assert answer.status_code == 200
    return int(answer.headers["Upload-Offset"])


def _stored(installation: Installation, document: dict[str, Any]) -> bool:
    answer = httpx.get(
        f"{installation.server.url}/api/v1/receipts/{document['recording_id']}",
        headers=_dock(installation),
    )
    if answer.status_code != 200:
        return False
    receipt: dict[str, Any] = answer.json()
    return receipt["sha256"] == document["sha256"]


def _patch(
    installation: Installation,
    location: str,
    offset: int,
    body: bytes,
    client: httpx.Client | None = None,
    **headers: str,
) -> httpx.Response:
    send = client.patch if client is not None else httpx.patch
    return send(
        location,
        content=body,
        headers={
            **TUS,
            **_dock(installation),
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **headers,
        },
    )


# --- a peer that goes silent mid-PATCH ---------------------------------------------------


def _silent_patch(
    installation: Installation, location: str, declared: int, sent: bytes, **headers: str
) -> socket.socket:
    """Open a PATCH that promises `declared` bytes, send `sent`, then say nothing more.

    The socket stays open (no FIN, no RST), as when a cable is pulled."""
    path = urlsplit(location).path
    lines = [
        f"PATCH {path} HTTP/1.1",
        f"Host: 127.0.0.1:{installation.server.port}",
        f"Authorization: Bearer {installation.dock_token}",
        "Tus-Resumable: 1.0.0",
        "Upload-Offset: 0",
        "Content-Type: application/offset+octet-stream",
        f"Content-Length: {declared}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    peer = socket.create_connection(("127.0.0.1", installation.server.port))
    peer.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + sent)
    return peer


def _wait_until_locked(installation: Installation, location: str) -> None:
    """Until the silent request holds the upload: an empty PATCH at offset 0 answers 423.

    (Before it does, the empty PATCH writes nothing and answers 204.)"""
    deadline = time.monotonic() + 10
    # One client for every try: a new one costs tens of ms of CPU (its CA bundle), and the
    # lock is held only until the server gives up on the silent body (IDLE_SECONDS).
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            if _patch(installation, location, 0, b"", client).status_code == 423:
                return
    pytest.fail("the silent PATCH never took the upload's lock")


def _answer_to(peer: socket.socket) -> bytes:
    """What the server says to the silent peer, read until the server closes."""
    peer.settimeout(15 * IDLE_SECONDS)
    received = b""
    try:
        while chunk := peer.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server still holds the silent PATCH open: {received!r}")
    return received


@pytest.mark.parametrize("with_checksum", [False, True], ids=["plain", "checksum"])
def test_a_patch_that_goes_silent_ends_and_another_client_resumes(
    installation: Installation, camera: FakeCamera, with_checksum: bool
) -> None:
    data = os.urandom(200_000)
    document = _declared(installation, camera, data)
    location = _create(installation, document)
    sent = data[:70_000]
    checksum = {}
    if with_checksum:
        # The checksum covers bytes that never all arrive: none of them may be kept.
        whole = base64.b64encode(hashlib.sha256(data[:120_000]).digest()).decode()
        checksum = {"Upload-Checksum": f"sha256 {whole}"}
    peer = _silent_patch(installation, location, 120_000, sent, **checksum)
    try:
        _wait_until_locked(installation, location)
        answer = _answer_to(peer)
    finally:
        peer.close()
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 408 Request Timeout", answer
    assert b'"code":"body_idle"' in answer

    # Another client (the same dock, after its restart) resumes from the server's offset.
    offset = _offset(installation, location)
    assert offset == (0 if with_checksum else len(sent))
    rest = _patch(installation, location, offset, data[offset:])
    assert rest.status_code == 204, rest.text
    assert rest.headers["Custody-Recording"] == document["recording_id"]
    assert _stored(installation, document)


def test_the_dock_recovers_an_upload_a_silent_connection_held(
    installation: Installation, tmp_path: Path
) -> None:
    """The dock agent itself: it learns of the held upload when it declares the manifest,
    is refused 423 while the silent request holds it, then resumes it and empties the
    camera, with nobody restarting anything."""
    camera_dir = tmp_path / "bay-1"
    simulate_camera(camera_dir, serial="BWV-TUS-2", officer_id="1234AB", recordings=1, duration=2)
    added = installation.run("fleet", "add-camera", "--from", str(camera_dir))
    assert added.returncode == 0, added.stderr
    (recording,) = CameraStorage(camera_dir).recordings()
    data = recording.media_path.read_bytes()
    answer = httpx.put(
        f"{installation.server.url}/api/v1/manifests/{recording.manifest.recording_id}",
        json=recording.document,
        headers=_dock(installation),
    )
    assert answer.status_code == 200, answer.text
    location = _create(installation, recording.document)
    sent = len(data) // 3
    peer = _silent_patch(installation, location, len(data), data[:sent])
    try:
        _wait_until_locked(installation, location)
        result = installation.run_process(
            "dock",
            "--server",
            installation.server.url,
            "--token",
            installation.dock_token,
            "--bay",
            str(camera_dir),
            "--once",
        )
    finally:
        peer.close()
    assert result.returncode == 0, result.stderr + result.stdout
    assert CameraStorage(camera_dir).recordings() == []
    assert _stored(installation, recording.document)
    # It finished the upload the silent connection had started, from the bytes it kept.
    assert _offset(installation, location) == len(data)


# --- tuspy -------------------------------------------------------------------------------


def test_tuspy_uploads_with_sha1_checksums_and_resumes(
    installation: Installation, camera: FakeCamera
) -> None:
    data = os.urandom(300_000)
    document = _declared(installation, camera, data)
    client = TusClient(f"{installation.server.url}/api/v1/uploads", headers=_dock(installation))
    first = client.uploader(
        file_stream=BytesIO(data),
        chunk_size=100_000,
        metadata={"recording_id": document["recording_id"]},
        upload_checksum=True,
    )
    assert first.checksum_algorithm_name == "sha1"
    first.upload_chunk()
    assert first.url is not None and _offset(installation, first.url) == 100_000

    # A new uploader for the same URL: asks HEAD for the offset and sends the rest.
    resumed = client.uploader(
        file_stream=BytesIO(data), chunk_size=100_000, url=first.url, upload_checksum=True
    )
    assert resumed.offset == 100_000
    resumed.upload()
    assert _offset(installation, first.url) == len(data)
    assert _stored(installation, document)


# --- tus-js-client -----------------------------------------------------------------------


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if services_required():
            pytest.fail("node is required (CUSTODY_REQUIRE_SERVICES=1) but not installed")
        pytest.skip("node is not installed")
    if not (INTEROP / "node_modules" / "tus-js-client").is_dir():
        pytest.fail(
            "tus-js-client is not installed: run `make install` (npm ci --prefix tests/interop)"
        )
    return node


def test_tus_js_client_with_override_patch_method_uploads_and_resumes(
    installation: Installation, camera: FakeCamera, tmp_path: Path
) -> None:
    node = _node()
    data = os.urandom(250_000)
    document = _declared(installation, camera, data)
    file = tmp_path / "clip.mp4"
    file.write_bytes(data)
    result = subprocess.run(
        [
            node,
            str(INTEROP / "tus_upload.mjs"),
            f"{installation.server.url}/api/v1/uploads",
            installation.dock_token,
            str(file),
            document["recording_id"],
            "100000",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    seen = json.loads(result.stdout)
    # It stopped after its first chunk and resumed the same upload from the server's offset.
    assert seen["first"]["offset"] == 100_000
    assert seen["second"] == {"url": seen["first"]["url"], "offset": len(data), "done": True}
    assert _offset(installation, seen["first"]["url"]) == len(data)
    assert _stored(installation, document)


# --- what a client learns from a method the path does not have ---------------------------


def test_a_method_the_tus_paths_do_not_have_is_405_with_allow(
    installation: Installation, camera: FakeCamera
) -> None:
    document = _declared(installation, camera, os.urandom(1000))
    location = _create(installation, document)
    auth = _dock(installation)
    upload = httpx.get(location, headers={**TUS, **auth})
    assert upload.status_code == 405
    assert set(upload.headers["Allow"].replace(" ", "").split(",")) >= {
        "HEAD",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }
    assert upload.json()["error"]["code"] == "method_not_allowed"
    uploads = httpx.put(f"{installation.server.url}/api/v1/uploads", headers={**TUS, **auth})
    assert uploads.status_code == 405
    assert {"OPTIONS", "POST"} <= set(uploads.headers["Allow"].replace(" ", "").split(","))
    # An override names the method the path is asked for: an unknown one is 405 too.
    odd = httpx.post(location, headers={**TUS, **auth, "X-HTTP-Method-Override": "PUT"})
    assert odd.status_code == 405 and "PATCH" in odd.headers["Allow"]
