"""Many writers at once on PostgreSQL leave one chain: no fork, no gap, and `verify` passes.

Appends take no shared lock: each commits a pending row with its change, and the
sequencer chains them under the head row's lock. Threads of one process, two engines
(as two nodes would have), and two `custody serve` processes taking simultaneous HTTP
requests all write at once while checkpoints are published alongside.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from custody.config import Settings
from custody.db.models import AuditCheckpoint, AuditEvent
from custody.domain.actor import Actor
from custody.services.audit_trail import trail
from custody.services.system import System
from tests.conftest import Installer, RecordedJobs, ServerProcess, free_port
from tests.people import Force, make_force, store_recording

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_system(tmp_path: Path, postgres_url: str, install: Installer) -> Iterator[System]:
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url)
    built = install(settings, jobs=RecordedJobs())
    yield built
    built.engine.dispose()


def seqs(system: System) -> list[int]:
    # The table itself is read here, not through a service: sequence what is pending first,
    # as every service that reads sequence numbers does.
    system.sequence_audit()
    with system.unit_of_work() as uow:
        return list(uow.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))


def assert_one_chain(system: System) -> None:
    numbers = seqs(system)
    assert numbers == list(range(1, len(numbers) + 1)), "sequence numbers have gaps"
    report = trail.verify(system)
    assert report.intact, report.faults
    assert report.events == len(numbers)


def test_many_threads_appending_at_once_make_one_chain(pg_system: System) -> None:
    threads, each = 16, 30
    start = threading.Barrier(threads + 1)  # the writers and the publisher

    def writer(number: int) -> None:
        start.wait()
        for index in range(each):
            with pg_system.unit_of_work() as uow:
                uow.audit(
                    "test:thing:touch",
                    Actor(f"user:writer{number}"),
                    object_type="thing",
                    object_id=f"{number}-{index}",
                )
                uow.commit()

    def publisher() -> None:
        start.wait()
        for _ in range(10):
            trail.publish_checkpoint(pg_system)

    with ThreadPoolExecutor(threads + 1) as pool:
        futures = [pool.submit(writer, n) for n in range(threads)]
        futures.append(pool.submit(publisher))
        for future in futures:
            future.result()
    assert len(seqs(pg_system)) == threads * each
    trail.publish_checkpoint(pg_system)
    assert_one_chain(pg_system)
    with pg_system.unit_of_work() as uow:
        sizes = list(uow.session.scalars(select(AuditCheckpoint.size)))
    assert len(sizes) == len(set(sizes)) >= 2


def test_a_rolled_back_writer_leaves_no_hole(pg_system: System) -> None:
    def writer(commit: bool) -> None:
        with pg_system.unit_of_work() as uow:
            uow.audit("test:thing:touch", Actor("user:w"))
            if commit:
                uow.commit()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(writer, [index % 3 != 0 for index in range(60)]))
    assert len(seqs(pg_system)) == 40
    assert_one_chain(pg_system)


def test_simultaneous_requests_to_two_servers_make_one_chain(
    pg_system: System, postgres_url: str
) -> None:
    force: Force = make_force(pg_system)
    recording = store_recording(force)
    pg_system.engine.dispose()  # the servers are the writers now
    env = {"CUSTODY_DATABASE_URL": postgres_url}
    servers = [ServerProcess(pg_system.settings.data_dir, free_port(), env) for _ in range(2)]
    for server in servers:
        server.start()
    try:
        with pg_system.unit_of_work() as uow:
            before = uow.session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        # Each request writes exactly one audit event: a view, a refusal, a token, a trail.
        requests = [
            ("GET", f"/api/v1/recordings/{recording}", "alice", 200),
            ("GET", f"/api/v1/recordings/{recording}", "charlie", 404),
            ("POST", "/api/v1/me/tokens", "dana", 201),
            ("GET", f"/api/v1/recordings/{recording}/audit", "bob", 200),
            ("GET", "/api/v1/users", "gus", 403),
        ] * 40

        def call(index: int) -> int:
            method, path, who, _ = requests[index]
            server = servers[index % len(servers)]
            answer = httpx.request(
                method,
                server.url + path,
                json={"name": f"t{index}"},
                headers=force.auth(who),
                timeout=60,
            )
            return answer.status_code

        with ThreadPoolExecutor(24) as pool:
            statuses = list(pool.map(call, range(len(requests))))
        assert statuses == [want for *_, want in requests]
    finally:
        for server in servers:
            server.stop()
    numbers = seqs(pg_system)
    assert len(numbers) == before + len(requests)
    assert_one_chain(pg_system)
    result = subprocess.run(
        [sys.executable, "-m", "custody", "audit", "verify"],
        capture_output=True,
        text=True,
        env={**os.environ, "CUSTODY_DATA_DIR": str(pg_system.settings.data_dir), **env},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
