"""A number in a tus header is ASCII digits (RFC 9110's 1*DIGIT), and anything else is a 400
in our envelope, over real HTTP to a real `custody serve`.

HTTP header bytes are Latin-1, which has the superscripts "¹²³": `str.isdigit` takes them and
`int` does not, so they used to reach `int` and answer 500 (and on a PATCH left nothing in the
audit log). The test client of Starlette re-encodes headers as UTF-8, so only a real server
sees the bytes an attacker sends.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import httpx
import pytest

from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraRecording, CameraStorage
from tests.conftest import Installation, running_installation

TUS = {"Tus-Resumable": "1.0.0"}
# As an attacker's client puts them on the wire: single Latin-1 bytes.
LATIN_DIGITS = [b"\xb2", b"\xb9\xb2\xb3", b"1\xb2", b"\xb3"]


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    with running_installation(tmp_path_factory.mktemp("station")) as made:
        yield made


@pytest.fixture(scope="module")
def recording(
    installation: Installation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CameraRecording]:
    camera = tmp_path_factory.mktemp("bay") / "camera"
    simulate_camera(camera, serial="BWV-0201", officer_id="1234AB", recordings=1, duration=2)
    added = installation.run("fleet", "add-camera", "--from", str(camera))
    assert added.returncode == 0, added.stderr
    (found,) = CameraStorage(camera).recordings()
    yield found


def _dock(installation: Installation) -> httpx.Client:
    return httpx.Client(
        base_url=installation.server.url,
        headers={"Authorization": f"Bearer {installation.dock_token}", **TUS},
    )


def _metadata(recording: CameraRecording) -> str:
    rid = base64.b64encode(recording.manifest.recording_id.encode()).decode()
    return f"recording_id {rid},filename {base64.b64encode(b'x.mp4').decode()}"


def _refused(answer: httpx.Response, header: str) -> bool:
    return (
        answer.status_code == 400
        and answer.json()["error"]["code"] == "invalid_input"
        and answer.json()["error"]["message"].startswith(f"{header} must be")
    )


@pytest.mark.parametrize("digits", LATIN_DIGITS)
def test_an_upload_length_in_other_digits_is_400(
    installation: Installation, recording: CameraRecording, digits: bytes
) -> None:
    with _dock(installation) as dock:
        declared = dock.put(
            f"/api/v1/manifests/{recording.manifest.recording_id}", json=recording.document
        )
        assert declared.status_code == 200, declared.text
        answer = dock.post(
            "/api/v1/uploads",
            headers={"Upload-Length": digits, "Upload-Metadata": _metadata(recording)},  # type: ignore[dict-item]
        )
    assert _refused(answer, "upload-length"), answer.text


@pytest.mark.parametrize("digits", LATIN_DIGITS)
def test_an_upload_offset_in_other_digits_is_400_and_the_upload_goes_on(
    installation: Installation, recording: CameraRecording, digits: bytes
) -> None:
    media = recording.media_path.read_bytes()
    chunk = media[:1000]
    checksum = "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode()
    with _dock(installation) as dock:
        dock.put(f"/api/v1/manifests/{recording.manifest.recording_id}", json=recording.document)
        created = dock.post(
            "/api/v1/uploads",
            headers={"Upload-Length": str(len(media)), "Upload-Metadata": _metadata(recording)},
        )
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        chunk_headers = {
            "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": checksum,
        }
        answer = dock.patch(
            location,
            content=chunk,
            headers={**chunk_headers, "Upload-Offset": digits},  # type: ignore[dict-item]
        )
        assert _refused(answer, "upload-offset"), answer.text
        # Nothing moved, and the upload takes the right offset still.
        assert dock.head(location).headers["Upload-Offset"] == "0"
        fine = dock.patch(location, content=chunk, headers={**chunk_headers, "Upload-Offset": "0"})
        assert fine.status_code == 204, fine.text
        assert fine.headers["Upload-Offset"] == "1000"
        dock.delete(location)
