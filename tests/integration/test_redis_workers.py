"""`custody worker` on Redis: jobs run once, a worker killed mid-job has its job run by
another, periodic jobs once a period, and a worker stops gracefully on SIGTERM.

A job is caught mid-run deterministically: the test holds the recording's row lock in
PostgreSQL, so the probe stops where it writes its result, and the test sees which
worker waits there (`pg_stat_activity`, by each worker's application name).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from custody.config import Settings
from custody.db.models import AuditEvent
from custody.jobs.leases import LeasedRedisHuey
from custody.jobs.queue import HueyJobs, make_huey
from custody.jobs.tasks import once_per_slot
from custody.services.recordings.media import PROBE_TAG
from custody.services.system import System
from tests.conftest import Installer
from tests.integration.test_jobs import add_recording, wait_until_probed

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
LEASE_SECONDS = 2.0
WAIT_SECONDS = 60.0


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from custody.camera.simulator import simulate_camera
    from tests.integration.test_jobs import START

    root = tmp_path_factory.mktemp("camera")
    (clip,) = simulate_camera(
        root, serial="BWV-0001", officer_id="1234AB", recordings=1, duration=1.0, start=START
    )
    return clip.media_path.read_bytes()


@dataclass
class Force:
    """An installation on PostgreSQL and a Redis queue of its own."""

    settings: Settings
    system: System

    def env(self, name: str) -> dict[str, str]:
        url = make_url(self.settings.resolved_database_url).update_query_dict(
            {"application_name": name}
        )
        return {
            **os.environ,
            "CUSTODY_DATA_DIR": str(self.settings.data_dir),
            "CUSTODY_DATABASE_URL": url.render_as_string(hide_password=False),
            "CUSTODY_QUEUE_URL": self.settings.resolved_queue_url,
            "CUSTODY_QUEUE_NAME": self.settings.queue_name,
            "CUSTODY_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        }


@pytest.fixture
def force(tmp_path: Path, postgres_url: str, redis_url: str, install: Installer) -> Iterator[Force]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=postgres_url,
        queue_url=redis_url,
        queue_name=f"custody-test-{uuid.uuid4().hex[:12]}",
        job_lease_seconds=LEASE_SECONDS,
    )
    system = install(settings)
    assert isinstance(system.jobs, HueyJobs)
    try:
        yield Force(settings, system)
    finally:
        system.jobs.huey.storage.flush_all()
        system.engine.dispose()


class Worker:
    """`custody worker` in a process of its own, named in PostgreSQL as `name`."""

    def __init__(self, force: Force, name: str, log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "custody", "worker", "--workers", "1", "--no-periodic"],
                env=force.env(name),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def workers(force: Force, log_dir: Path, *names: str) -> Iterator[dict[str, Worker]]:
    started = {name: Worker(force, name, log_dir) for name in names}
    try:
        yield started
    finally:
        for worker in started.values():
            worker.stop()


@contextmanager
def row_held(database_url: str, recording_id: str) -> Iterator[None]:
    """Hold the recording's row lock: a probe of it waits at its last step until released."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection, connection.begin():
            connection.execute(
                text("SELECT id FROM recordings WHERE id = :id FOR UPDATE"), {"id": recording_id}
            )
            yield
    finally:
        engine.dispose()


def waiting_on_the_lock(database_url: str, names: set[str]) -> str:
    """The name of the worker whose job waits for the held row (fails after a minute)."""
    engine = create_engine(database_url, poolclass=NullPool)
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                found = connection.scalars(
                    text(
                        "SELECT application_name FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).all()
            waiting = [name for name in found if name in names]
            if waiting:
                assert len(waiting) == 1, waiting
                return waiting[0]
            time.sleep(0.05)
    finally:
        engine.dispose()
    pytest.fail("no worker started the probe")


def probes_of(system: System, recording_id: str) -> int:
    # A worker's events are committed with its probe and chained shortly after: chain them
    # now, so that none still pending is missed (or, doubled, hidden).
    system.sequence_audit()
    with system.unit_of_work() as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.tag == PROBE_TAG, AuditEvent.object_id == recording_id)
            )
            or 0
        )


def leases_of(force: Force) -> int:
    huey = force.system.jobs.huey  # type: ignore[attr-defined]
    return int(huey.storage.leased())


def no_leases_left(force: Force) -> bool:
    """Every lease dropped (a job's lease goes just after its commit, so wait a little)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while leases_of(force) and time.monotonic() < deadline:
        time.sleep(0.05)
    return leases_of(force) == 0


def test_a_worker_killed_mid_job_has_its_job_run_once_by_the_other(
    force: Force, footage: bytes, tmp_path: Path
) -> None:
    system = force.system
    recordings = [add_recording(system, footage) for _ in range(5)]
    caught = recordings[0]
    with workers(force, tmp_path, "worker-a", "worker-b") as running:
        with row_held(force.settings.resolved_database_url, caught):
            system.jobs.probe_recording(caught)
            victim = waiting_on_the_lock(force.settings.resolved_database_url, set(running))
            running[victim].process.kill()
            running[victim].process.wait()
        # The dead worker's lease runs out; the survivor finds it and runs the probe, and
        # the jobs queued since.
        for recording_id in recordings[1:]:
            system.jobs.probe_recording(recording_id)
        for recording_id in recordings:
            assert wait_until_probed(system, recording_id).state == "playable"
        (survivor,) = set(running) - {victim}
        assert running[survivor].process.poll() is None
        log = running[survivor].log.read_text()
        assert "queued again" in log, log

        # Each probe happened once: one result, one audit event per recording.
        assert [probes_of(system, r) for r in recordings] == [1] * len(recordings)
        assert no_leases_left(force)
        assert system.jobs.huey.pending_count() == 0  # type: ignore[attr-defined]

        running[survivor].process.send_signal(signal.SIGTERM)
        assert running[survivor].process.wait(timeout=WAIT_SECONDS) == 0
        assert "Custody worker stopped" in running[survivor].log.read_text()


def test_sigterm_lets_the_running_job_finish_then_stops(
    force: Force, footage: bytes, tmp_path: Path
) -> None:
    system = force.system
    caught = add_recording(system, footage)
    with workers(force, tmp_path, "worker-a") as running:
        worker = running["worker-a"]
        with row_held(force.settings.resolved_database_url, caught):
            system.jobs.probe_recording(caught)
            assert waiting_on_the_lock(force.settings.resolved_database_url, {"worker-a"})
            worker.process.send_signal(signal.SIGTERM)
            # Still at its job while the job waits (a stop that waits, not one that drops it).
            with pytest.raises(subprocess.TimeoutExpired):
                worker.process.wait(timeout=LEASE_SECONDS * 2)
            assert leases_of(force) == 1
        assert worker.process.wait(timeout=WAIT_SECONDS) == 0
    assert wait_until_probed(system, caught).state == "playable"
    assert probes_of(system, caught) == 1
    assert no_leases_left(force)


def test_a_job_taken_by_a_consumer_that_died_goes_to_another_once(force: Force) -> None:
    settings = force.settings.model_copy(update={"job_lease_seconds": 0.3})
    dead, alive = make_huey(settings), make_huey(settings)
    assert isinstance(dead, LeasedRedisHuey) and isinstance(alive, LeasedRedisHuey)
    ran: list[str] = []
    task = dead.task(name="note")(ran.append)
    alive.task(name="note")(ran.append)
    task("once")
    taken = dead.dequeue()  # ...and its consumer dies before running it
    assert taken is not None
    assert alive.dequeue() is None
    alive.keep_leases()  # the lease has not run out yet: nothing is put back
    assert alive.dequeue() is None
    time.sleep(0.4)
    alive.keep_leases()
    again = alive.dequeue()
    assert again is not None and again.id == taken.id
    alive.execute(again)
    assert ran == ["once"]
    assert alive.storage.leased() == 0 and alive.pending_count() == 0


def test_a_periodic_job_runs_once_a_period_and_again_only_if_its_worker_died(
    force: Force,
) -> None:
    first, second = make_huey(force.settings), make_huey(force.settings)
    runs: list[str] = []
    first._running.job_id = "delivery-1"
    assert once_per_slot(first, "sweep", 3600, lambda: runs.append("first"))
    # Another consumer's copy of the same period's job: skipped.
    second._running.job_id = "delivery-2"
    assert not once_per_slot(second, "sweep", 3600, lambda: runs.append("copy"))
    # The first job delivered again (its worker died mid-run): it runs again.
    second._running.job_id = "delivery-1"
    assert once_per_slot(second, "sweep", 3600, lambda: runs.append("again"))
    assert runs == ["first", "again"]
