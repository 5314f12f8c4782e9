"""Two server nodes behind HAProxy and two workers on Redis, sharing only PostgreSQL, S3 and
Redis: a node SIGKILLed mid-upload and a worker SIGKILLed mid-job lose and repeat nothing.

The node dies at a planned point (tests/proxy.py between HAProxy and it: the nth chunk to
reach it, at a byte of its body) and stays dead; the dock agent's retries through the
balancer finish every upload on the other node, including the one the dead node was
receiving. The first camera docks alone; the test then holds the row lock of one of its
recordings and starts the workers while the other cameras dock: one worker is caught
mid-probe of that recording (it waits for the lock, and the test sees which one) and
killed, and the other runs that probe once its lease runs out. At the end every
recording is stored once, every probe ran once, and `custody audit verify` passes.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from custody.bootstrap import build_system
from custody.camera.simulator import simulate_camera, simulate_copies
from custody.camera.storage import CameraStorage
from custody.config import Settings
from custody.db.models import AuditEvent, Recording
from custody.dock.agent import DockAgent
from custody.dock.backoff import Backoff
from custody.services.fleet import registry
from custody.services.identity import setup, users
from custody.services.recordings.media import PROBE_TAG
from custody.services.system import NoJobs, System
from custody.tools import cluster
from tests.conftest import custody, services_required
from tests.integration.test_redis_workers import row_held, waiting_on_the_lock
from tests.proxy import Fault, FaultProxy

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

UPLOADS = "/api/v1/uploads/"
INGEST_TAG = "dock:recording:ingest"
CHUNK = 64 * 1024
CAMERAS = 3
RECORDINGS = 2
# Long enough for the survivor to try the dead node, be refused and come back: HAProxy
# takes the node out at its first failed check.
PATIENT = Backoff(base=0.05, cap=0.5, attempts=80)
LEASE_SECONDS = 2
WAIT_SECONDS = 60.0


@pytest.fixture(scope="session")
def haproxy() -> str:
    binary = cluster.haproxy_binary()
    if binary is None:
        if services_required():
            pytest.fail("HAProxy is required (CUSTODY_REQUIRE_SERVICES=1): make haproxy")
        pytest.skip("HAProxy is not installed (make haproxy)")
    return binary


@dataclass
class StaysDead:
    """Node A as tests/proxy.py sees it: a planned fault kills it, and nothing restarts it."""

    node: cluster.Node

    @property
    def port(self) -> int:
        return self.node.port

    def kill(self) -> None:
        self.node.kill()

    def start(self) -> None:
        return None


@dataclass
class Deployment:
    """The installation (made in this process, as `custody init` would) and its two nodes,
    started at once: node A has a data dir of its own, node B the installation's."""

    primary: Path
    env: dict[str, str]
    system: System
    dock_token: str
    nodes: list[cluster.Node]

    def add_cameras(self, bays: list[Path]) -> None:
        admin = users.principal_named(self.system, setup.ADMIN)
        for bay in bays:
            device = CameraStorage(bay).device
            registry.add_camera(
                self.system,
                admin,
                serial=device.serial,
                model=device.model,
                firmware=device.firmware,
                public_key=device.public_key,
            )


@pytest.fixture
def deployment(
    tmp_path: Path, postgres_url: str, s3_url: str, redis_url: str, haproxy: str
) -> Iterator[Deployment]:
    env = {
        "CUSTODY_DATABASE_URL": postgres_url,
        "CUSTODY_STORAGE_URL": s3_url,
        "CUSTODY_QUEUE_URL": redis_url,
        "CUSTODY_QUEUE_NAME": f"custody-test-{uuid.uuid4().hex[:12]}",
        "CUSTODY_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        # Jobs are the workers' alone, so that the test knows who runs them.
        "CUSTODY_WORKER_IN_PROCESS": "false",
    }
    primary = tmp_path / "primary"
    settings = Settings(
        data_dir=primary, database_url=postgres_url, storage_url=s3_url, queue_url=redis_url
    )
    system = build_system(settings, create=True, jobs=NoJobs())
    setup.ensure_admin(system)
    admin = users.principal_named(system, setup.ADMIN)
    registry.add_officer(system, admin, "1234AB", name="A. Officer", unit="Hackney")
    token = registry.add_dock(system, admin, "Hackney-1").token
    root = tmp_path / "deployment"
    nodes = [cluster.node(primary, root, name, env) for name in ("node-a", "node-b")]
    try:
        # Both start at once: each spends most of its start importing Custody.
        for node in nodes:
            node.spawn()
        yield Deployment(primary, env, system, token, nodes)
    finally:
        for node in nodes:
            node.kill()
        system.engine.dispose()


def _cameras(root: Path) -> tuple[list[Path], dict[str, str]]:
    """The first camera's footage is encoded; the others carry copies of it (each unique)."""
    first = simulate_camera(
        root / "bay-0",
        serial="BWV-0000",
        officer_id="1234AB",
        recordings=RECORDINGS,
        duration=1.5,
        video_bitrate=2_000_000,
    )
    made = list(first)
    for index in range(1, CAMERAS):
        made += simulate_copies(
            root / f"bay-{index}",
            serial=f"BWV-{index:04d}",
            officer_id="1234AB",
            template=first[0],
            recordings=RECORDINGS,
            start=first[0].manifest.started_at,
        )
    originals = {
        clip.manifest.recording_id: hashlib.sha256(clip.media_path.read_bytes()).hexdigest()
        for clip in made
    }
    return [root / f"bay-{index}" for index in range(CAMERAS)], originals


def _dock_until_empty(url: str, token: str, bays: list[Path]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with DockAgent(
            url, token, bays, parallel=CAMERAS, chunk_size=CHUNK, backoff=PATIENT
        ) as agent:
            agent.run_once()
        if not any(CameraStorage(bay).recordings() for bay in bays):
            return
    pytest.fail("the docks did not empty their cameras")


def _count(system: System, tag: str, recording_id: str) -> int:
    system.sequence_audit()  # the nodes' and workers' events, chained shortly after commit
    with system.unit_of_work() as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.tag == tag, AuditEvent.object_id == recording_id)
            )
            or 0
        )


def _stored(system: System) -> dict[str, str]:
    with system.unit_of_work() as uow:
        rows = uow.session.execute(select(Recording.id, Recording.sha256)).all()
        return {recording_id: sha for recording_id, sha in rows}


def _unprobed(system: System) -> int:
    with system.unit_of_work() as uow:
        return int(
            uow.session.scalar(
                select(func.count()).select_from(Recording).where(Recording.state == "stored")
            )
            or 0
        )


def _named(database_url: str, name: str) -> str:
    url = make_url(database_url).update_query_dict({"application_name": name})
    return url.render_as_string(hide_password=False)


def test_a_node_and_a_worker_killed_lose_nothing_and_repeat_nothing(
    tmp_path: Path, deployment: Deployment
) -> None:
    env, system = deployment.env, deployment.system
    node_a, node_b = deployment.nodes
    root = tmp_path / "deployment"
    # Made while the nodes start.
    bays, originals = _cameras(tmp_path / "cameras")
    deployment.add_cameras(bays)
    first_camera = {r.manifest.recording_id for r in CameraStorage(bays[0]).recordings()}
    kill = Fault("node A killed mid-chunk", "kill", "PATCH", UPLOADS, nth=4, body_at=1000)
    proxy = FaultProxy(StaysDead(node_a), [kill])
    balancer = cluster.Balancer(root / "haproxy", [("a", 0), ("b", node_b.port)], check_ms=200)
    workers = [
        cluster.worker(
            deployment.primary,
            root,
            name,
            {**env, "CUSTODY_DATABASE_URL": _named(env["CUSTODY_DATABASE_URL"], name)},
            threads=1,
        )
        for name in ("worker-a", "worker-b")
    ]
    database_url = env["CUSTODY_DATABASE_URL"]
    try:
        for node in deployment.nodes:
            cluster.wait_healthy(node.url, node.process, node.log)
        with proxy:
            balancer.backends[0] = ("a", proxy.port)
            balancer.start()
            _dock_until_empty(balancer.url, deployment.dock_token, bays[:1])
            # One worker will be caught mid-probe of this recording, and killed. The
            # workers start now and take the probes waiting in Redis while the others dock.
            caught = sorted(first_camera)[0]
            with row_held(database_url, caught):
                for process in workers:
                    process.spawn()
                _dock_until_empty(balancer.url, deployment.dock_token, bays[1:])
                victim_name = waiting_on_the_lock(database_url, {w.name for w in workers})
                victim = next(w for w in workers if w.name == victim_name)
                victim.kill()
        assert proxy.unstruck == [], "node A was never killed: the test proved less"
        assert not node_a.alive
        # The upload node A was receiving when it died was finished by node B.
        cut = proxy.struck("node A killed mid-chunk")
        assert cut.offset is not None
        # Node A had its share of the chunks (round-robin) before it died, and none after.
        reached_a = [e for e in proxy.exchanges if e.method == "PATCH"]
        assert len(reached_a) >= kill.nth
        assert all(e.seq <= cut.seq or e.status is None for e in reached_a)

        # Every recording stored once, with the camera's bytes, in the one shared bucket.
        assert _stored(system) == originals
        for recording_id, sha in originals.items():
            assert _count(system, INGEST_TAG, recording_id) == 1
            assert hashlib.sha256(b"".join(system.store.read(sha))).hexdigest() == sha
        assert system.staging.staged_ids() == set()

        # The victim's probe is run by the survivor once the lease runs out: every probe once.
        survivor = next(w for w in workers if w is not victim)
        deadline = time.monotonic() + WAIT_SECONDS
        while _unprobed(system) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _unprobed(system) == 0
        assert [_count(system, PROBE_TAG, r) for r in sorted(originals)] == [1] * len(originals)
        assert "queued again" in survivor.log.read_text()
        assert survivor.terminate() == 0
        assert "Custody worker stopped" in survivor.log.read_text()

        verified = custody(deployment.primary, "audit", "verify", env=env)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        for process in workers:
            process.kill()
        balancer.stop()
