"""Invariants 1 and 2 under faults: a killed server, cut connections and corrupted chunks.

No recording is lost or duplicated, and no camera file is deleted before the server
holds it: a watcher checks the server's database every time a file leaves the camera.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from custody.dock.agent import DockAgent, DockResult
from custody.dock.backoff import Backoff
from tests.conftest import Installation
from tests.proxy import FaultyProxy

PATIENT = Backoff(base=0.05, cap=0.4, attempts=60)


class CameraWatcher:
    """Polls a camera; whenever footage leaves it, the server must already hold that recording."""

    def __init__(self, camera_dir: Path, database: Path) -> None:
        self.media = camera_dir / "recordings"
        self.database = database
        self.seen: set[str] = set()
        self.released: list[str] = []
        self.violations: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CameraWatcher:
        self.seen = {p.stem for p in self.media.glob("*.mp4")}
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            present = {p.stem for p in self.media.glob("*.mp4")}
            for gone in self.seen - present:
                self.released.append(gone)
                if not self._stored(gone):
                    self.violations.append(f"{gone} left the camera before the server held it")
            self.seen = present
            time.sleep(0.005)

    def _stored(self, recording_id: str) -> bool:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30) as db:
            row = db.execute(
                "SELECT sha256 FROM recordings WHERE id = ?", (recording_id,)
            ).fetchone()
        return row is not None


def _server_state(installation: Installation) -> dict[str, str]:
    with sqlite3.connect(installation.data_dir / "custody.db") as db:
        return dict(db.execute("SELECT id, sha256 FROM recordings").fetchall())


def _ingest_events(installation: Installation) -> list[str]:
    with sqlite3.connect(installation.data_dir / "custody.db") as db:
        rows = db.execute(
            "SELECT object_id FROM audit_events WHERE tag = 'dock:recording:ingest'"
        ).fetchall()
    return [r[0] for r in rows]


def _camera(
    tmp_path: Path, installation: Installation, serial: str, recordings: int = 3
) -> tuple[Path, dict[str, str]]:
    camera_dir = tmp_path / "bay-1"
    made = simulate_camera(
        camera_dir,
        serial=serial,
        officer_id="1234AB",
        recordings=recordings,
        duration=3,
        video_bitrate=6_000_000,
    )
    result = installation.run("fleet", "add-camera", "--from", str(camera_dir))
    assert result.returncode == 0, result.stderr
    return camera_dir, {
        r.manifest.recording_id: hashlib.sha256(r.media_path.read_bytes()).hexdigest() for r in made
    }


def _dock_until_done(
    server: str, token: str, camera_dir: Path, deadline: float, chunk_size: int = 128 * 1024
) -> list[DockResult]:
    results = []
    while time.monotonic() < deadline:
        with DockAgent(
            server, token, [camera_dir], chunk_size=chunk_size, backoff=PATIENT
        ) as agent:
            result = agent.run_once()
        results.append(result)
        if result.ok and not CameraStorage(camera_dir).recordings():
            break
    return results


def _assert_all_stored_once(
    installation: Installation, camera_dir: Path, originals: dict[str, str]
) -> None:
    assert _server_state(installation) == originals
    assert sorted(_ingest_events(installation)) == sorted(originals)
    assert CameraStorage(camera_dir).recordings() == []
    objects = installation.data_dir / "objects"
    for sha in originals.values():
        stored = objects / sha[:2] / sha[2:4] / sha
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha


@pytest.mark.slow
def test_the_server_killed_again_and_again_loses_and_duplicates_nothing(
    installation: Installation, tmp_path: Path
) -> None:
    camera_dir, originals = _camera(tmp_path, installation, "BWV-0101", recordings=4)
    rng = random.Random(20261125)
    kills = 0
    stop = threading.Event()

    def killer() -> None:
        nonlocal kills
        while not stop.is_set() and kills < 10:
            time.sleep(rng.uniform(0.05, 0.6))
            if stop.is_set():
                break
            installation.server.kill()
            kills += 1
            time.sleep(rng.uniform(0.0, 0.3))
            installation.server.start()

    with CameraWatcher(camera_dir, installation.data_dir / "custody.db") as watcher:
        thread = threading.Thread(target=killer)
        thread.start()
        try:
            _dock_until_done(
                installation.server.url, installation.dock_token, camera_dir, time.monotonic() + 240
            )
        finally:
            stop.set()
            thread.join()
        if installation.server.process is None or installation.server.process.poll() is not None:
            installation.server.start()
        # Whatever the kills interrupted, one more pass with a healthy server finishes it.
        _dock_until_done(
            installation.server.url, installation.dock_token, camera_dir, time.monotonic() + 120
        )
    assert kills >= 3, "the server was hardly killed: the test proved nothing"
    assert watcher.violations == []
    assert sorted(watcher.released) == sorted(originals)
    _assert_all_stored_once(installation, camera_dir, originals)


def test_cut_connections_resume_from_the_servers_offset(
    installation: Installation, tmp_path: Path
) -> None:
    camera_dir, originals = _camera(tmp_path, installation, "BWV-0102")
    proxy = FaultyProxy(installation.server.port, cut_probability=0.05, seed=7)
    proxy.start()
    try:
        with CameraWatcher(camera_dir, installation.data_dir / "custody.db") as watcher:
            _dock_until_done(proxy.url, installation.dock_token, camera_dir, time.monotonic() + 180)
    finally:
        proxy.stop()
    assert proxy.cuts > 0, "no connection was cut: the test proved nothing"
    assert watcher.violations == []
    _assert_all_stored_once(installation, camera_dir, originals)


def test_corrupted_chunks_are_refused_and_sent_again(
    installation: Installation, tmp_path: Path
) -> None:
    camera_dir, originals = _camera(tmp_path, installation, "BWV-0103")
    proxy = FaultyProxy(installation.server.port, corrupt_probability=0.05, seed=11)
    proxy.start()
    try:
        with CameraWatcher(camera_dir, installation.data_dir / "custody.db") as watcher:
            _dock_until_done(proxy.url, installation.dock_token, camera_dir, time.monotonic() + 180)
    finally:
        proxy.stop()
    assert proxy.corruptions > 0, "no byte was corrupted: the test proved nothing"
    assert watcher.violations == []
    _assert_all_stored_once(installation, camera_dir, originals)
    with sqlite3.connect(installation.data_dir / "custody.db") as db:
        # Corruption never reached a stored object: nothing failed the whole-file check.
        assert db.execute("SELECT count(*) FROM uploads WHERE state = 'failed'").fetchone() == (0,)
