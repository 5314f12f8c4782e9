"""Files at rest are the service's alone: nobody else on the machine may read footage, the
database, the job queue, a partial upload or the server key.

A real installation (`custody init`, a `custody serve` process) takes a docked camera's
footage and half of another upload, under the umask most machines give (022); then every
folder of its data dir must be 0700 and every file 0600. Tests run as root, who reads
everything whatever the modes: what another user would see is what the modes say.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from custody.dock.client import DockClient
from tests.conftest import Installation, running_installation

OTHERS = stat.S_IRWXG | stat.S_IRWXO


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The umask of most machines and service managers, for this process and its children."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def installation(umask_022: None, tmp_path: Path) -> Iterator[Installation]:
    with running_installation(tmp_path) as made:
        yield made


def _open_to_others(data_dir: Path, harness_log: Path) -> list[str]:
    found = []
    for path in [data_dir, *data_dir.rglob("*")]:
        if path == harness_log:
            continue  # the test's own capture of the server's output, not the server's file
        mode = path.lstat().st_mode
        if mode & OTHERS:
            found.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(data_dir.parent)}")
    return found


def test_every_file_and_folder_of_the_data_dir_is_the_services_alone(
    installation: Installation, tmp_path: Path
) -> None:
    # Not vacuous: a file made the ordinary way here is readable by others.
    ordinary = tmp_path / "ordinary"
    ordinary.write_bytes(b"x")
    assert ordinary.stat().st_mode & stat.S_IROTH

    docked, half = tmp_path / "bay-1", tmp_path / "bay-2"
    simulate_camera(docked, serial="BWV-0101", officer_id="1234AB", recordings=1, duration=2)
    simulate_camera(half, serial="BWV-0102", officer_id="1234AB", recordings=1, duration=2)
    for camera in (docked, half):
        added = installation.run("fleet", "add-camera", "--from", str(camera))
        assert added.returncode == 0, added.stderr
    result = installation.run_process(
        "dock",
        "--server",
        installation.server.url,
        "--token",
        installation.dock_token,
        "--bay",
        str(docked),
        "--once",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert CameraStorage(docked).recordings() == []

    # Half an upload, left in staging as a dock cut off mid-way would leave it.
    (recording,) = CameraStorage(half).recordings()
    media = recording.media_path.read_bytes()
    first = media[: len(media) // 2]
    with DockClient(installation.server.url, installation.dock_token) as client:
        client.declare(recording.manifest.recording_id, recording.document)
        url = client.create_upload(recording.manifest.recording_id, "half.mp4", len(media))
        assert client.patch(url, 0, first, hashlib.sha256(first).digest()).offset == len(first)

    # The docked recording is stored and listed.
    listed = httpx.get(
        f"{installation.server.url}/api/v1/recordings",
        headers={"Authorization": f"Bearer {installation.viewer_token}"},
    ).json()
    assert listed["total"] == 1

    data_dir = installation.data_dir
    made = {p.relative_to(data_dir).parts[0] for p in data_dir.rglob("*")}
    assert {"custody.db", "queue.db", "objects", "uploads", "keys"} <= made, made
    partial = list((data_dir / "uploads").glob("*.sealed"))
    assert partial, "no partial upload to look at"
    # Sealed as it arrived: not even an unfinished upload lies in plaintext.
    assert first[4096:4160] not in partial[0].read_bytes()
    assert len([p for p in (data_dir / "objects").rglob("*") if p.is_file()]) >= 1

    assert _open_to_others(data_dir, installation.server.log) == []
