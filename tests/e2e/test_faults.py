"""Invariants 1 and 2 under faults: a killed server, cut connections and corrupted chunks.

No recording is lost or duplicated, and no camera file is deleted before the server
holds it: a watcher checks the server's database every time a file leaves the camera.
Every fault is planned at a point of the exchange (tests/proxy.py) and must strike there,
so that each run proves the same thing on a fast machine or a loaded one.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from custody.bootstrap import build_system
from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from custody.config import Settings
from custody.dock.agent import DockAgent, DockResult
from custody.dock.backoff import Backoff
from custody.services.system import NoJobs
from custody.storage.encryption import unsealed
from custody.storage.s3 import S3Store
from tests.conftest import Installation, running_installation
from tests.proxy import Exchange, Fault, FaultProxy

# Short waits and many of them: the dock is back within a fifth of a second of a restarted
# server (each kill's restart no longer costs a long last wait), as patient as before in all.
PATIENT = Backoff(base=0.05, cap=0.2, attempts=120)
RESTART_PATIENT = Backoff(base=0.05, cap=0.2, attempts=600)
CHUNK = 128 * 1024
UPLOADS = "/api/v1/uploads/"
RECEIPTS = "/api/v1/receipts/"
# The smallest part S3 takes: the uploads here then cross part boundaries mid-chunk.
S3_PART = 5 * 1024 * 1024


@pytest.fixture(params=["file", "s3"])
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Installation]:
    """A server on each store: files in the data dir, and S3 (objects and tus staging)."""
    env = {}
    if request.param == "s3":
        url = request.getfixturevalue("s3_url")
        env = {"CUSTODY_STORAGE_URL": url, "CUSTODY_S3_PART_BYTES": str(S3_PART)}
    with running_installation(tmp_path, env) as made:
        yield made


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
    tmp_path: Path,
    installation: Installation,
    serial: str,
    recordings: int = 3,
    *,
    duration: float = 3,
    bitrate: int = 6_000_000,
) -> tuple[Path, dict[str, str]]:
    camera_dir = tmp_path / "bay-1"
    made = simulate_camera(
        camera_dir,
        serial=serial,
        officer_id="1234AB",
        recordings=recordings,
        duration=duration,
        video_bitrate=bitrate,
    )
    result = installation.run("fleet", "add-camera", "--from", str(camera_dir))
    assert result.returncode == 0, result.stderr
    return camera_dir, {
        r.manifest.recording_id: hashlib.sha256(r.media_path.read_bytes()).hexdigest() for r in made
    }


def _dock_until_done(
    server: str,
    token: str,
    camera_dir: Path,
    deadline: float,
    chunk_size: int = CHUNK,
    backoff: Backoff = PATIENT,
) -> list[DockResult]:
    results = []
    while time.monotonic() < deadline:
        # One upload at a time: the nth request of a plan is then the same request on a fast
        # machine and a loaded one (two in parallel interleave as the scheduler pleases).
        with DockAgent(
            server, token, [camera_dir], parallel=1, chunk_size=chunk_size, backoff=backoff
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
    url = installation.env.get("CUSTODY_STORAGE_URL", (installation.data_dir / "objects").as_uri())
    # Through the installation's own store (sealed at rest: the stored bytes are ciphertext).
    settings = Settings(data_dir=installation.data_dir, storage_url=url)
    system = build_system(settings, jobs=NoJobs())
    try:
        for sha in originals.values():
            assert hashlib.sha256(b"".join(system.store.read(sha))).hexdigest() == sha
        # Listing (for fixity) finds each of them (beside thumbnails and other derivatives).
        assert set(originals.values()) <= set(system.store.iter_objects())
        object_lock = unsealed(system.store).object_lock
    finally:
        system.engine.dispose()
    # The server said at start-up whether its store refuses early deletes itself.
    said = " ".join(installation.server.log.read_text().split())
    assert ("the object store has no Object Lock" in said) is not object_lock


def _on_camera(camera_dir: Path) -> Callable[[Exchange], bool]:
    """At a fault on a receipt: is that recording's footage still on the camera?"""

    def held(exchange: Exchange) -> bool:
        recording_id = exchange.path.rstrip("/").rsplit("/", 1)[1]
        return (camera_dir / "recordings" / f"{recording_id}.mp4").exists()

    return held


def _next_patch(proxy: FaultProxy, after: Exchange) -> Exchange:
    """The dock's next PATCH of the same upload after the exchange a fault struck."""
    later = [
        e
        for e in proxy.exchanges
        if e.seq > after.seq and e.method == "PATCH" and e.path == after.path
    ]
    assert later, f"the upload {after.path} was never continued"
    return later[0]


def _dock_through(
    proxy: FaultProxy,
    installation: Installation,
    camera_dir: Path,
    originals: dict[str, str],
    chunk_size: int = CHUNK,
    backoff: Backoff = PATIENT,
) -> None:
    """Dock through the proxy until the camera is empty; then check what must hold."""
    with CameraWatcher(camera_dir, installation.data_dir / "custody.db") as watcher, proxy:
        _dock_until_done(
            proxy.url,
            installation.dock_token,
            camera_dir,
            time.monotonic() + 240,
            chunk_size,
            backoff,
        )
    assert proxy.unstruck == [], "planned faults that never happened: the test proved less"
    assert watcher.violations == []
    assert sorted(watcher.released) == sorted(originals)
    _assert_all_stored_once(installation, camera_dir, originals)


@pytest.mark.slow
def test_the_server_killed_again_and_again_loses_and_duplicates_nothing(
    installation: Installation, tmp_path: Path
) -> None:
    # Four recordings of a dozen chunks each: the second upload's POST and receipt are struck,
    # and each chunk sent to S3 rewrites its upload's tail (the smaller, the fewer seconds).
    camera_dir, originals = _camera(
        tmp_path, installation, "BWV-0101", recordings=4, bitrate=4_000_000
    )
    plan = [
        # Part of a chunk reached the server, which never acknowledged it.
        Fault("mid-chunk", "kill", "PATCH", UPLOADS, nth=3, body_at=50_000),
        # The chunk is durable and its offset committed; the dock never hears so.
        Fault("chunk stored, answer lost", "kill", "PATCH", UPLOADS, nth=8, status=204),
        # The server opened an upload the dock never learns of.
        Fault("upload made, answer lost", "kill", "POST", "/api/v1/uploads", nth=2, status=201),
        # The recording and its receipt are committed; the dock never hears so.
        Fault(
            "committed, answer lost",
            "kill",
            "PATCH",
            UPLOADS,
            status=204,
            answer_header="custody-recording",
        ),
        # The receipt was on its way when the server died.
        Fault(
            "receipt lost",
            "kill",
            "GET",
            RECEIPTS,
            nth=2,
            status=200,
            observe=_on_camera(camera_dir),
        ),
    ]
    proxy = FaultProxy(installation.server, plan)

    _dock_through(proxy, installation, camera_dir, originals)

    assert proxy.kills == len(plan)
    # A resumed upload continues from the server's offset: the unacknowledged part of a
    # chunk is sent again, and an acknowledged chunk the dock never heard of is not.
    cut = proxy.struck("mid-chunk")
    assert _next_patch(proxy, cut).offset == cut.offset
    lost = proxy.struck("chunk stored, answer lost")
    assert _next_patch(proxy, lost).offset == int(lost.answer_headers["upload-offset"])
    # Footage stays on the camera until a receipt is verified.
    assert next(f for f in plan if f.name == "receipt lost").observed is True


def test_cut_connections_resume_from_the_servers_offset(
    installation: Installation, tmp_path: Path
) -> None:
    # One recording of 17 chunks holds every fault planned (each chunk costs S3 seconds).
    camera_dir, originals = _camera(tmp_path, installation, "BWV-0102", recordings=1)
    plan = [
        Fault("early in a chunk", "cut", "PATCH", UPLOADS, nth=2, body_at=1_000),
        Fault("late in a chunk", "cut", "PATCH", UPLOADS, nth=6, body_at=CHUNK - 10_000),
        Fault("a chunk's answer", "cut", "PATCH", UPLOADS, nth=10, status=204),
        Fault("an offset's answer", "cut", "HEAD", UPLOADS),
        Fault(
            "a receipt's answer", "cut", "GET", RECEIPTS, status=200, observe=_on_camera(camera_dir)
        ),
    ]
    proxy = FaultProxy(installation.server, plan)

    _dock_through(proxy, installation, camera_dir, originals)

    for name in ("early in a chunk", "late in a chunk"):
        cut = proxy.struck(name)
        assert _next_patch(proxy, cut).offset == cut.offset, name
    lost = proxy.struck("a chunk's answer")
    assert _next_patch(proxy, lost).offset == int(lost.answer_headers["upload-offset"])
    assert next(f for f in plan if f.name == "a receipt's answer").observed is True


def test_corrupted_chunks_are_refused_and_sent_again(
    installation: Installation, tmp_path: Path
) -> None:
    # One recording of 17 chunks holds every fault planned (each chunk costs S3 seconds).
    camera_dir, originals = _camera(tmp_path, installation, "BWV-0103", recordings=1)
    plan = [
        Fault("first byte", "corrupt", "PATCH", UPLOADS, nth=2, body_at=0),
        Fault("middle byte", "corrupt", "PATCH", UPLOADS, nth=7, body_at=CHUNK // 2),
        Fault("last byte", "corrupt", "PATCH", UPLOADS, nth=12, body_at=CHUNK - 1),
    ]
    proxy = FaultProxy(installation.server, plan)

    _dock_through(proxy, installation, camera_dir, originals)

    for fault in plan:
        damaged = proxy.struck(fault.name)
        assert damaged.status == 460, fault.name
        again = _next_patch(proxy, damaged)
        assert (again.offset, again.body_length, again.status) == (
            damaged.offset,
            damaged.body_length,
            204,
        ), fault.name
    with sqlite3.connect(installation.data_dir / "custody.db") as db:
        # Corruption never reached a stored object: nothing failed the whole-file check.
        assert db.execute("SELECT count(*) FROM uploads WHERE state = 'failed'").fetchone() == (0,)


def test_s3_staging_resumes_across_part_boundaries_after_kills(tmp_path: Path, s3_url: str) -> None:
    """A recording of several S3 parts, sent in chunks that do not line up with them, the
    server killed mid-chunk (as a part was on its way) and after a chunk was stored: the
    restarted server (no running hash left) continues from its offset and re-hashes the
    whole file from the bucket before it commits."""
    env = {"CUSTODY_STORAGE_URL": s3_url, "CUSTODY_S3_PART_BYTES": str(S3_PART)}
    chunk = 3 * 1024 * 1024
    with running_installation(tmp_path, env) as installation:
        camera_dir, originals = _camera(
            tmp_path, installation, "BWV-0104", 1, duration=4, bitrate=24_000_000
        )
        (recording,) = originals
        size = (camera_dir / "recordings" / f"{recording}.mp4").stat().st_size
        assert size > 2 * S3_PART, "the recording must span several parts"
        plan = [
            # Chunk 2 holds bytes [3, 6) MiB: killed 2.5 MiB in, past the first part's end.
            Fault("mid-part", "kill", "PATCH", UPLOADS, nth=2, body_at=chunk - 512 * 1024),
            # The chunk [6, 9) MiB is stored (its tail in the bucket); the answer is lost.
            # (Only 204 answers count: the third is that chunk's.)
            Fault("tail stored, answer lost", "kill", "PATCH", UPLOADS, nth=3, status=204),
        ]
        proxy = FaultProxy(installation.server, plan)

        # Patient enough for a restart on a loaded machine: the same upload must go on.
        _dock_through(proxy, installation, camera_dir, originals, chunk, RESTART_PATIENT)

        cut = proxy.struck("mid-part")
        assert _next_patch(proxy, cut).offset == cut.offset == chunk
        lost = proxy.struck("tail stored, answer lost")
        assert _next_patch(proxy, lost).offset == int(lost.answer_headers["upload-offset"])
        assert int(lost.answer_headers["upload-offset"]) == 3 * chunk
        # Nothing of the upload is left in the bucket's staging area.
        assert S3Store.from_url(s3_url).staging().staged_ids() == set()
