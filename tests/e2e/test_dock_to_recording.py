"""The whole path over real HTTP: camera → dock agent → server → recording → camera emptied.

The tests share one installation and its server, as the docks of a station do: each docks
a camera of its own and looks at that camera's recordings.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from custody.dock.agent import DockAgent
from custody.dock.backoff import Backoff
from custody.domain import signing
from tests.conftest import Installation, running_installation


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    with running_installation(tmp_path_factory.mktemp("station")) as made:
        yield made


def _register(installation: Installation, camera_dir: Path) -> None:
    result = installation.run("fleet", "add-camera", "--from", str(camera_dir))
    assert result.returncode == 0, result.stderr


def _originals(camera_dir: Path) -> dict[str, bytes]:
    return {
        r.manifest.recording_id: r.media_path.read_bytes()
        for r in CameraStorage(camera_dir).recordings()
    }


def _recordings_of(installation: Installation, serial: str) -> dict[str, Any]:
    """The server's listing of one camera's recordings, as the viewer sees it."""
    answer = httpx.get(
        f"{installation.server.url}/api/v1/recordings",
        params={"camera": serial, "limit": 50},
        headers={"Authorization": f"Bearer {installation.viewer_token}"},
    )
    assert answer.status_code == 200, answer.text
    listing: dict[str, Any] = answer.json()
    return listing


def test_a_dock_killed_while_freeing_camera_space_is_finished_by_the_next_run(
    installation: Installation, tmp_path: Path
) -> None:
    """Issue 11, point 14: the camera ends empty, and nothing is stored twice."""
    camera_dir = tmp_path / "bay-1"
    simulate_camera(camera_dir, serial="BWV-0014", officer_id="1234AB", recordings=2, duration=2)
    _register(installation, camera_dir)
    originals = _originals(camera_dir)
    kept = sorted((camera_dir / "recordings").glob("*.json"))[0]
    manifest = kept.read_bytes()
    dock = ("dock", "--server", installation.server.url, "--token", installation.dock_token)
    first = installation.run_process(*dock, "--bay", str(camera_dir), "--once")
    assert first.returncode == 0, first.stderr + first.stdout
    # The state a kill between release's two deletions leaves: footage gone, manifest left.
    assert list((camera_dir / "recordings").iterdir()) == []
    kept.write_bytes(manifest)

    again = installation.run_process(*dock, "--bay", str(camera_dir), "--once")

    assert again.returncode == 0, again.stderr + again.stdout
    assert list((camera_dir / "recordings").iterdir()) == []
    listing = _recordings_of(installation, "BWV-0014")
    assert sorted(r["id"] for r in listing["items"]) == sorted(originals)


def test_docked_footage_arrives_byte_for_byte_and_the_camera_is_emptied(
    installation: Installation, tmp_path: Path
) -> None:
    camera_dir = tmp_path / "bay-1"
    simulate_camera(camera_dir, serial="BWV-0001", officer_id="1234AB", recordings=3, duration=4)
    _register(installation, camera_dir)
    originals = _originals(camera_dir)

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
    assert result.returncode == 0, result.stderr + result.stdout

    assert CameraStorage(camera_dir).recordings() == []
    assert list((camera_dir / "recordings").iterdir()) == []
    auth = {"Authorization": f"Bearer {installation.viewer_token}"}
    listing = _recordings_of(installation, "BWV-0001")
    assert sorted(item["id"] for item in listing["items"]) == sorted(originals)
    key = httpx.get(f"{installation.server.url}/api/v1/server-key").json()["public_key"]
    for recording_id, data in originals.items():
        detail = httpx.get(
            f"{installation.server.url}/api/v1/recordings/{recording_id}", headers=auth
        ).json()
        assert detail["sha256"] == hashlib.sha256(data).hexdigest()
        assert detail["officer"] == "1234AB" and detail["camera"] == "BWV-0001"
        signing.verify(detail["receipt"], signing.load_public_key(key))


def test_the_media_streams_with_http_ranges(installation: Installation, tmp_path: Path) -> None:
    camera_dir = tmp_path / "bay-1"
    simulate_camera(camera_dir, serial="BWV-0002", officer_id="1234AB", recordings=1, duration=3)
    _register(installation, camera_dir)
    data = next(iter(_originals(camera_dir).values()))
    with DockAgent(installation.server.url, installation.dock_token, [camera_dir]) as agent:
        assert agent.run_once().ok
    auth = {"Authorization": f"Bearer {installation.viewer_token}"}
    listing = _recordings_of(installation, "BWV-0002")
    assert len(listing["items"]) == 1
    media = f"{installation.server.url}/api/v1/recordings/{listing['items'][0]['id']}/media"
    # A download is the whole original, as an attachment.
    whole = httpx.get(media, params={"download": "true"}, headers=auth)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"].startswith("attachment")
    # Playing is a range at a time, inline, even when no range is asked for.
    played = httpx.get(media, headers=auth)
    assert played.status_code == 206 and played.headers["content-disposition"].startswith("inline")
    assert played.headers["content-range"] == f"bytes 0-{len(played.content) - 1}/{len(data)}"
    assert played.content == data[: len(played.content)]
    part = httpx.get(media, headers={**auth, "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = httpx.get(media, headers={**auth, "Range": "bytes=-10"})
    assert tail.content == data[-10:]
    beyond = httpx.get(media, headers={**auth, "Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"
    # A player's many ranges are one viewing in the trail; the download its own event.
    for n in range(30):
        httpx.get(media, headers={**auth, "Range": f"bytes={n}-{n + 99}"}).raise_for_status()
    trail = httpx.get(media.removesuffix("/media") + "/audit", headers=auth).json()["events"]
    tags = [event["tag"] for event in trail if event["actor"] == "user:pat"]
    assert tags.count("user:recording:stream") == 1
    assert tags.count("user:recording:download") == 1


def test_a_forged_manifest_leaves_the_footage_on_the_camera(
    installation: Installation, tmp_path: Path
) -> None:
    camera_dir = tmp_path / "bay-1"
    recordings = simulate_camera(
        camera_dir, serial="BWV-0003", officer_id="1234AB", recordings=2, duration=2
    )
    _register(installation, camera_dir)
    # Someone edits a manifest on the camera to pin the footage on another officer.
    forged = recordings[0]
    document = json.loads(forged.manifest_path.read_text())
    document["officer_id"] = "9999ZZ"
    forged.manifest_path.write_text(json.dumps(document))

    with DockAgent(
        installation.server.url,
        installation.dock_token,
        [camera_dir],
        backoff=Backoff(base=0.01, cap=0.05, attempts=3),
    ) as agent:
        result = agent.run_once()
    assert not result.ok
    assert forged.manifest.recording_id in result.kept
    assert forged.media_path.exists() and forged.manifest_path.exists()
    # The honest recording went through.
    assert not recordings[1].media_path.exists()
    listing = _recordings_of(installation, "BWV-0003")
    assert [item["id"] for item in listing["items"]] == [recordings[1].manifest.recording_id]


def test_two_agents_racing_on_one_camera_make_one_recording_each(
    installation: Installation, tmp_path: Path
) -> None:
    camera_dir = tmp_path / "bay-1"
    simulate_camera(camera_dir, serial="BWV-0004", officer_id="1234AB", recordings=3, duration=3)
    _register(installation, camera_dir)
    originals = _originals(camera_dir)
    results = []

    def ship() -> None:
        with DockAgent(
            installation.server.url,
            installation.dock_token,
            [camera_dir],
            chunk_size=32 * 1024,
            backoff=Backoff(base=0.01, cap=0.1, attempts=20),
        ) as agent:
            results.append(agent.run_once())

    threads = [threading.Thread(target=ship) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    listing = _recordings_of(installation, "BWV-0004")
    assert listing["total"] == 3
    assert sorted(item["id"] for item in listing["items"]) == sorted(originals)
    assert CameraStorage(camera_dir).recordings() == []


def test_corrupt_footage_is_kept_as_received_and_marked_unplayable(
    installation: Installation, tmp_path: Path
) -> None:
    from custody.camera.simulator import corrupt_recording

    camera_dir = tmp_path / "bay-1"
    made = simulate_camera(
        camera_dir, serial="BWV-0005", officer_id="1234AB", recordings=1, duration=4
    )
    broken = corrupt_recording(made[0], truncate_to=made[0].media_path.stat().st_size // 3)
    data = broken.media_path.read_bytes()
    _register(installation, camera_dir)
    with DockAgent(installation.server.url, installation.dock_token, [camera_dir]) as agent:
        assert agent.run_once().ok
    auth = {"Authorization": f"Bearer {installation.viewer_token}"}
    url = f"{installation.server.url}/api/v1/recordings/{broken.manifest.recording_id}"
    deadline = time.monotonic() + 60
    detail = httpx.get(url, headers=auth).json()
    while detail["state"] == "stored" and time.monotonic() < deadline:
        time.sleep(0.2)
        detail = httpx.get(url, headers=auth).json()
    assert detail["state"] == "unplayable"
    assert detail["media_error"]
    assert httpx.get(f"{url}/media?download=true", headers=auth).content == data


def test_commands_that_print_a_secret_print_it_alone(installation: Installation) -> None:
    # Real processes: what a script capturing the output would get, and nothing else.
    for args in (("fleet", "add-dock", "Camden-1"), ("users", "token", "--as", "pat")):
        result = installation.run_process(*args)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == 1 and " " not in lines[0] and len(lines[0]) > 40
