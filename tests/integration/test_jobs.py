"""Background jobs through Huey: queued after commit, run by consumers in and out of process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from huey import SqliteHuey
from sqlalchemy import select

from custody.bootstrap import build_system
from custody.camera.simulator import simulate_camera
from custody.config import Settings
from custody.db.models import Camera, Officer, Recording
from custody.domain.clock import ManualClock
from custody.jobs.leases import LeasedRedisHuey
from custody.jobs.queue import HueyJobs, make_huey, start_in_process_consumer
from custody.jobs.tasks import once_per_slot
from custody.services.system import NoJobs, System
from tests.conftest import Installer

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
WAIT_SECONDS = 60.0


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Three seconds of a simulated camera's real footage."""
    root = tmp_path_factory.mktemp("camera")
    (clip,) = simulate_camera(
        root, serial="BWV-0001", officer_id="1234AB", recordings=1, duration=3.0, start=START
    )
    return clip.media_path.read_bytes()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def queued_system(tmp_path: Path, clock: ManualClock, install: Installer) -> Iterator[System]:
    """An installation wired as `custody serve` wires it: Huey on SQLite in the data dir."""
    built = install(Settings(data_dir=tmp_path / "data"), clock=clock)
    yield built
    built.engine.dispose()


def add_recording(system: System, data: bytes, *, stored_at: datetime = START) -> str:
    """Store `data` as a recording's original and insert its row (state "stored")."""
    stored = system.store.put_stream([data])
    recording_id = str(uuid.uuid4())
    with system.unit_of_work() as uow:
        session = uow.session
        camera_id = session.scalar(select(Camera.id).where(Camera.serial == "BWV-0001"))
        if camera_id is None:
            officer = Officer(
                warrant_number="1234AB", name="A. Officer", unit="Hackney", created_at=START
            )
            session.add(officer)
            session.flush()
            camera = Camera(
                serial="BWV-0001",
                model="SimCam",
                firmware="1.0",
                public_key="00" * 32,
                officer_id=officer.id,
                registered_at=START,
            )
            session.add(camera)
            session.flush()
            camera_id = camera.id
        session.add(
            Recording(
                id=recording_id,
                camera_id=camera_id,
                started_at=stored_at - timedelta(minutes=10),
                ended_at=stored_at - timedelta(minutes=9),
                pre_event_seconds=30,
                sha256=stored.sha256,
                size=stored.size,
                stored_at=stored_at,
                manifest_document="{}",
                receipt_document="{}",
                state="stored",
            )
        )
        uow.commit()
    return recording_id


def state_of(system: System, recording_id: str) -> Recording:
    with system.unit_of_work() as uow:
        found = uow.session.get(Recording, recording_id)
        assert found is not None
        return found


def wait_until_probed(system: System, recording_id: str) -> Recording:
    """The recording once a worker has probed it; fails after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = state_of(system, recording_id)
        if found.state != "stored":
            return found
        time.sleep(0.1)
    pytest.fail(f"recording {recording_id} was not probed within {WAIT_SECONDS} s")


def huey_of(system: System) -> HueyJobs:
    assert isinstance(system.jobs, HueyJobs)
    return system.jobs


def test_the_queue_url_picks_the_storage(tmp_path: Path) -> None:
    default = make_huey(Settings(data_dir=tmp_path))
    assert isinstance(default, SqliteHuey)
    assert default.storage.filename == str(tmp_path / "queue.db")
    redis = make_huey(Settings(data_dir=tmp_path, queue_url="redis://127.0.0.1:6379/3"))
    assert isinstance(redis, LeasedRedisHuey)
    with pytest.raises(ValueError, match="unsupported queue URL"):
        make_huey(Settings(data_dir=tmp_path, queue_url="amqp://rabbit/"))
    with pytest.raises(ValueError, match="sqlite:///path"):
        make_huey(Settings(data_dir=tmp_path, queue_url="sqlite://"))


def test_bootstrap_wires_huey_and_a_job_goes_out_only_after_commit(
    queued_system: System, footage: bytes
) -> None:
    jobs = huey_of(queued_system)
    rid = add_recording(queued_system, footage)

    with queued_system.unit_of_work() as uow:
        uow.after_commit(lambda: queued_system.jobs.probe_recording(rid))
        uow.rollback()
    assert jobs.huey.pending_count() == 0

    with queued_system.unit_of_work() as uow:
        uow.after_commit(lambda: queued_system.jobs.probe_recording(rid))
        uow.commit()
    assert jobs.huey.pending_count() == 1


def test_a_queued_probe_runs_in_the_in_process_consumer(
    queued_system: System, footage: bytes, clock: ManualClock
) -> None:
    rid = add_recording(queued_system, footage)
    queued_system.jobs.probe_recording(rid)
    clock.advance(timedelta(minutes=1))

    consumer = start_in_process_consumer(queued_system, workers=2, periodic=False)
    try:
        probed = wait_until_probed(queued_system, rid)
    finally:
        consumer.stop()

    assert probed.state == "playable"
    assert (probed.video_codec, probed.width, probed.height) == ("h264", 640, 360)
    assert probed.duration_seconds == pytest.approx(3.0, abs=0.2)
    # The task ran against the system it was queued for, on that system's clock.
    assert probed.probed_at == clock.now()
    assert queued_system.store.exists(probed.thumbnail_sha256 or "")
    assert not consumer.running
    assert huey_of(queued_system).huey.pending_count() == 0


def test_another_process_s_consumer_runs_what_the_server_queued(
    tmp_path: Path, footage: bytes, install: Installer
) -> None:
    # Two systems on one data dir stand for a server node and a worker: they share
    # nothing but the database, the store and the queue.
    settings = Settings(data_dir=tmp_path / "data")
    server = install(settings)
    worker = build_system(settings)
    try:
        good = add_recording(server, footage)
        cut = add_recording(server, footage[: len(footage) // 2])
        server.jobs.probe_recording(good)
        server.jobs.probe_recording(cut)
        consumer = start_in_process_consumer(worker, workers=2, periodic=False)
        try:
            assert wait_until_probed(server, good).state == "playable"
            assert wait_until_probed(server, cut).state == "unplayable"
        finally:
            consumer.stop()
    finally:
        server.engine.dispose()
        worker.engine.dispose()


def test_the_reconciler_requeues_recordings_whose_probe_was_lost(
    queued_system: System, footage: bytes
) -> None:
    jobs = huey_of(queued_system)
    lost = add_recording(queued_system, footage, stored_at=START - timedelta(minutes=30))
    add_recording(queued_system, footage, stored_at=START)

    jobs.tasks.reconcile_probes.call_local()

    assert jobs.huey.pending_count() == 1
    consumer = start_in_process_consumer(queued_system, workers=1, periodic=False)
    try:
        assert wait_until_probed(queued_system, lost).state == "playable"
    finally:
        consumer.stop()


def test_each_periodic_sweep_runs_once_a_period_across_consumers(queued_system: System) -> None:
    other = HueyJobs.for_system(queued_system)
    runs: list[str] = []
    assert once_per_slot(huey_of(queued_system).huey, "sweep", 3600, lambda: runs.append("a"))
    assert not once_per_slot(other.huey, "sweep", 3600, lambda: runs.append("b"))
    assert once_per_slot(other.huey, "another", 3600, lambda: runs.append("c"))
    assert runs == ["a", "c"]


def test_a_queue_that_cannot_be_reached_does_not_fail_the_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, install: Installer
) -> None:
    # A port nothing listens on: the commit that asked stands; the reconciler re-sends.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(data_dir=tmp_path / "data", queue_url=f"redis://127.0.0.1:{port}/0")
    system = install(settings)
    try:
        system.jobs.probe_recording(str(uuid.uuid4()))
    finally:
        system.engine.dispose()
    assert "the reconciler will" in caplog.text


def test_stop_waits_for_a_running_job(queued_system: System, footage: bytes) -> None:
    jobs = huey_of(queued_system)
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def slow() -> None:
        started.set()
        release.wait(10)
        finished.append("done")

    slow_task = jobs.huey.task(name="slow")(slow)
    slow_task()
    consumer = start_in_process_consumer(queued_system, workers=1, periodic=False)
    assert started.wait(WAIT_SECONDS)
    stopper = threading.Thread(target=consumer.stop)
    stopper.start()
    stopper.join(0.5)
    assert stopper.is_alive(), "stop() returned while a job was still running"
    release.set()
    stopper.join(WAIT_SECONDS)
    assert finished == ["done"]
    assert not stopper.is_alive()


def redis_available() -> None:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1):
            return
    except OSError:
        if os.environ.get("CUSTODY_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis at {REDIS_HOST}:{REDIS_PORT} is required but not reachable")
        pytest.skip(f"Redis at {REDIS_HOST}:{REDIS_PORT} is not running")


@pytest.mark.redis
def test_a_probe_queued_in_redis_runs_in_a_consumer(
    tmp_path: Path, footage: bytes, clock: ManualClock, install: Installer
) -> None:
    redis_available()
    settings = Settings(
        data_dir=tmp_path / "data", queue_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    )
    system = install(settings, clock=clock, jobs=NoJobs())
    # A queue of its own, so that parallel runs and other tests never share keys.
    jobs = HueyJobs.for_system(system, name=f"custody-test-{uuid.uuid4().hex}")
    system.jobs = jobs
    try:
        rid = add_recording(system, footage)
        system.jobs.probe_recording(rid)
        assert jobs.huey.pending_count() == 1
        consumer = start_in_process_consumer(system, workers=2, periodic=False)
        try:
            probed = wait_until_probed(system, rid)
        finally:
            consumer.stop()
        assert probed.state == "playable"
        assert probed.probed_at == clock.now()
    finally:
        jobs.huey.flush()
        system.engine.dispose()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_the_worker_command_runs_jobs_and_stops_on_a_signal(
    tmp_path: Path, footage: bytes, stop_signal: signal.Signals, install: Installer
) -> None:
    data_dir = tmp_path / "data"
    system = install(Settings(data_dir=data_dir))
    try:
        rid = add_recording(system, footage)
        system.jobs.probe_recording(rid)
        log = tmp_path / "worker.log"
        with open(log, "wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "custody", "worker", "--workers", "2", "--no-periodic"],
                env={**os.environ, "CUSTODY_DATA_DIR": str(data_dir)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            assert wait_until_probed(system, rid).state == "playable"
            worker.send_signal(stop_signal)
            assert worker.wait(timeout=WAIT_SECONDS) == 0, log.read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert "Custody worker stopped" in log.read_text()
    finally:
        system.engine.dispose()
