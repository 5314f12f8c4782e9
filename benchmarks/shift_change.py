"""Shift change: N cameras docking within a few minutes, through two nodes behind HAProxy.

Starts the whole system as processes: two `custody serve` nodes (no workers of their own)
behind HAProxy, two `custody worker` processes on Redis, PostgreSQL (a new database) and
the S3 server AWS_ENDPOINT_URL names (a new bucket with Object Lock). Then N simulated
cameras dock spread over a window of seconds: each is a dock agent of its own (tus, its
signed manifests, several recordings), behind a link capped at the bay's bandwidth, eight
bays to a dock as at a station; the agents run in processes of 250 cameras each. First
one recording alone goes through the same balancer uncapped: the single-stream figure of
the same run.

Prints wall time, aggregate MB/s beside the single stream, per-recording time from
docking to the verified receipt (median, p99, max), errors and retries, the nodes' and
HAProxy's memory and open connections (and so the memory a connection costs), the
database's connections at peak, and ends with one line:

    shift change: N cameras, R recordings, lost L, failed F, max/median X.Y, A MB/s

`--quick`: 100 cameras, small recordings, well under a minute of docking.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import shutil
import ssl
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from custody.bootstrap import build_system
from custody.camera.simulator import simulate_camera, simulate_copies
from custody.camera.storage import CameraStorage
from custody.config import Settings
from custody.db.models import Recording
from custody.dock.agent import DockAgent
from custody.dock.backoff import Backoff
from custody.dock.progress import Fate, Outcome
from custody.services.fleet import registry
from custody.services.identity import setup, users
from custody.services.system import NoJobs
from custody.tools import cluster

console = Console()
POSTGRES_ADMIN_URL = os.environ.get(
    "CUSTODY_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CUSTODY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BAYS_PER_DOCK = 8
SLICE = 64 * 1024
DOCKS_PER_PROCESS = 250
# A dock retries a long while before giving up: a shift change is not the time to drop footage.
PATIENT = Backoff(base=0.2, cap=5.0, attempts=200)


class Paced(httpx.SyncByteStream):
    """A request body sent no faster than the bay's link, a slice at a time."""

    def __init__(self, body: bytes, bytes_per_second: float) -> None:
        self.body = body
        self.rate = bytes_per_second

    def __iter__(self) -> Iterator[bytes]:
        started = time.monotonic()
        for at in range(0, len(self.body), SLICE):
            piece = self.body[at : at + SLICE]
            due = started + (at + len(piece)) / self.rate
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            yield piece


class BayLink(httpx.HTTPTransport):
    """One bay's link to the server: request bodies capped at `bytes_per_second`."""

    def __init__(self, bytes_per_second: float, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(verify=tls if tls is not None else True)
        self.rate = bytes_per_second

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method in ("PATCH", "POST", "PUT") and self.rate > 0:
            body = request.read()
            if len(body) > SLICE:
                request.stream = Paced(body, self.rate)
        return super().handle_request(request)


@dataclass
class Timing:
    """A dock agent's reporter: when each recording's receipt verified, and the retries."""

    docked_at: float
    done: dict[str, float] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    # Why the dock tried again: the reason's first words, counted.
    reasons: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def started(self, recording_id: str, camera: str, size: int, offset: int) -> None:
        return None

    def advanced(self, recording_id: str, offset: int) -> None:
        return None

    def finished(self, outcome: Outcome) -> None:
        with self.lock:
            if outcome.fate is Fate.KEPT:
                self.kept[outcome.recording_id] = outcome.reason or "kept"
            else:
                self.done[outcome.recording_id] = time.monotonic() - self.docked_at

    def note(self, message: str, *, warning: bool = False) -> None:
        if warning:
            # "<camera> <recording>: <request>: <reason>; try n of m in s"
            reason = message.split(": ", 2)[-1].split(";")[0]
            with self.lock:
                self.retries += 1
                self.reasons[" ".join(reason.split()[:6])] += 1


@dataclass(frozen=True)
class Docked:
    """What one camera's docking came to, sent back from its dock process."""

    done: dict[str, float]
    kept: dict[str, str]
    retries: int
    reasons: Counter[str]


@dataclass(frozen=True)
class DockShare:
    """The cameras one dock process docks: (bay, its dock's token, seconds after the start)."""

    url: str
    chunk_size: int
    rate: float
    cameras: list[tuple[Path, str, float]]


def _dock_process(share: DockShare, link: Connection) -> None:
    """Dock `share`'s cameras, each on a thread, each by a dock agent of its own; send back
    what happened to each and the CPU seconds it took."""
    # One TLS context for all (unused over http, but each transport would load the CAs).
    context = ssl.create_default_context()
    link.send("ready")
    began: float = link.recv()
    started = time.process_time()
    timings: list[Timing] = []
    lock = threading.Lock()

    def dock(bay: Path, token: str, at: float) -> None:
        if (wait := began + at - time.monotonic()) > 0:
            time.sleep(wait)
        timing = Timing(docked_at=time.monotonic())
        with lock:
            timings.append(timing)
        with DockAgent(
            share.url,
            token,
            [bay],
            parallel=1,
            chunk_size=share.chunk_size,
            transport=BayLink(share.rate, context),
            backoff=PATIENT,
            reporter=timing,
        ) as agent:
            agent.run_once()

    threads = [threading.Thread(target=dock, args=camera, daemon=True) for camera in share.cameras]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    link.send(
        (
            [Docked(dict(t.done), dict(t.kept), t.retries, Counter(t.reasons)) for t in timings],
            time.process_time() - started,
        )
    )
    link.close()


@dataclass
class Peaks:
    """The nodes' and workers' memory and the database's connections, sampled."""

    pids: dict[str, int]
    database: str
    # The ports whose open connections are counted: each node's, and the balancer's.
    ports: dict[str, int] = field(default_factory=dict)
    node_rss_mb: dict[str, float] = field(default_factory=dict)
    worker_rss_mb: dict[str, float] = field(default_factory=dict)
    balancer_rss_mb: float = 0.0
    # Open connections at peak, by port's name (a node's, or the balancer's from docks).
    open_connections: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    # Backends waiting for a lock at the worst sample, and the samples with any waiting.
    lock_waits: int = 0
    samples_waiting: int = 0
    samples: int = 0
    # What the waiting backends were running, summed over the samples.
    waited_on: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        engine = create_engine(POSTGRES_ADMIN_URL, poolclass=NullPool)
        try:
            while not self.stop.wait(0.5):
                established = _established(set(self.ports.values()))
                for name, port in self.ports.items():
                    count = established.get(port, 0)
                    self.open_connections[name] = max(self.open_connections.get(name, 0), count)
                for name, pid in self.pids.items():
                    rss = _rss_mb(pid)
                    if name == "haproxy":
                        self.balancer_rss_mb = max(self.balancer_rss_mb, rss)
                        continue
                    peaks = self.node_rss_mb if name.startswith("node") else self.worker_rss_mb
                    peaks[name] = max(peaks.get(name, 0.0), rss)
                with engine.connect() as connection:
                    count, waiting = connection.execute(
                        text(
                            "SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock') "
                            "FROM pg_stat_activity WHERE datname = :db"
                        ),
                        {"db": self.database},
                    ).one()
                    if waiting:
                        self.waited_on.update(
                            " ".join(q.split())[:70]
                            for q in connection.scalars(
                                text(
                                    "SELECT query FROM pg_stat_activity WHERE datname = :db "
                                    "AND wait_event_type = 'Lock'"
                                ),
                                {"db": self.database},
                            )
                        )
                self.connections = max(self.connections, int(count or 0))
                self.lock_waits = max(self.lock_waits, int(waiting or 0))
                self.samples += 1
                self.samples_waiting += bool(waiting)
        finally:
            engine.dispose()


def _established(ports: set[int]) -> Counter[int]:
    """Open TCP connections accepted on each of `ports` (the server's side), from /proc."""
    counts: Counter[int] = Counter()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local address "0100007F:1F90", state 01 = ESTABLISHED
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == "01" and port in ports:
                counts[port] += 1
    return counts


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def _require_services() -> None:
    if not os.environ.get("AWS_ENDPOINT_URL"):
        raise SystemExit('no S3 server: eval "$(tools/s3-server start DIR PORT)" first')
    if cluster.haproxy_binary() is None:
        raise SystemExit("no HAProxy: make haproxy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=500)
    parser.add_argument("--recordings", type=int, default=3, help="per camera")
    parser.add_argument("--size-kb", type=int, default=256, help="each recording's size")
    parser.add_argument("--chunk-kb", type=int, default=128, help="the docks' tus chunk")
    parser.add_argument("--bay-mbit", type=float, default=25.0, help="each bay's link")
    parser.add_argument("--window", type=float, default=None, help="seconds the docking spans")
    parser.add_argument("--single-mb", type=int, default=16, help="the single stream's size")
    parser.add_argument(
        "--dock-processes",
        type=int,
        default=0,
        help=f"default: one per {DOCKS_PER_PROCESS} cameras",
    )
    parser.add_argument("--quick", action="store_true", help="100 cameras, under a minute")
    parser.add_argument("--dir", type=Path, default=None, help="work dir (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs) at the end")
    args = parser.parse_args()
    if args.quick:
        args.cameras = 100
    window = args.window if args.window is not None else max(10.0, args.cameras / 10)
    _require_services()

    work = Path(tempfile.mkdtemp(prefix="custody-shift-", dir=args.dir))
    database = f"custody_shift_{uuid.uuid4().hex[:12]}"
    admin_engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    processes: list[cluster.Process] = []
    balancer: cluster.Balancer | None = None
    try:
        with admin_engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        database_url = make_url(POSTGRES_ADMIN_URL).set(database=database).render_as_string(False)
        bucket = f"custody-shift-{uuid.uuid4().hex[:12]}"
        import boto3

        boto3.client("s3").create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        env = {
            "CUSTODY_DATABASE_URL": database_url,
            "CUSTODY_STORAGE_URL": f"s3://{bucket}/custody",
            "CUSTODY_QUEUE_URL": REDIS_URL,
            "CUSTODY_QUEUE_NAME": f"custody-shift-{uuid.uuid4().hex[:8]}",
            "CUSTODY_WORKER_IN_PROCESS": "false",
        }
        primary = work / "primary"
        settings = Settings(
            data_dir=primary,
            database_url=env["CUSTODY_DATABASE_URL"],
            storage_url=env["CUSTODY_STORAGE_URL"],
            queue_url=env["CUSTODY_QUEUE_URL"],
            queue_name=env["CUSTODY_QUEUE_NAME"],
        )
        system = build_system(settings, create=True, jobs=NoJobs())
        setup.ensure_admin(system)
        admin = users.principal_named(system, setup.ADMIN)

        # The footage: one real MP4 of the chosen size (its sound silent through the
        # pre-event buffer, as its manifest says), copied into every recording (each copy
        # unique, its manifest claiming the same), and a larger one for the single stream.
        duration = 2.0
        with console.status("making footage…"):
            template = simulate_camera(
                work / "template",
                serial="BWV-TEMPLATE",
                officer_id=None,
                recordings=1,
                duration=duration,
                video_bitrate=int(args.size_kb * 1024 * 8 / duration),
            )[0]
            single = simulate_camera(
                work / "single",
                serial="BWV-SINGLE",
                officer_id=None,
                recordings=1,
                duration=8.0,
                video_bitrate=int(args.single_mb * 1024 * 1024 * 8 / 8.0),
            )
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=8)
        bays: list[Path] = []
        originals: set[str] = set()
        with console.status(f"making and registering {args.cameras} cameras…"):
            for bay_dir, serial in [(work / "single", "BWV-SINGLE")] + [
                (work / "bays" / f"cam-{i:05d}", f"BWV-{i:05d}") for i in range(args.cameras)
            ]:
                if serial != "BWV-SINGLE":
                    made = simulate_copies(
                        bay_dir,
                        serial=serial,
                        officer_id=None,
                        template=template,
                        recordings=args.recordings,
                        start=start,
                    )
                    originals |= {m.manifest.recording_id for m in made}
                    bays.append(bay_dir)
                device = CameraStorage(bay_dir).device
                registry.add_camera(
                    system,
                    admin,
                    serial=device.serial,
                    model=device.model,
                    firmware=device.firmware,
                    public_key=device.public_key,
                )
            tokens = [
                registry.add_dock(system, admin, f"Shift-{j:04d}", bays=BAYS_PER_DOCK).token
                for j in range(math.ceil(args.cameras / BAYS_PER_DOCK) + 1)
            ]
        recording_bytes = template.manifest.size + 40

        with console.status("starting 2 nodes, HAProxy and 2 workers…"):
            nodes = [cluster.node(primary, work, f"node-{k}", env) for k in ("a", "b")]
            workers = [cluster.worker(primary, work, f"worker-{k}", env) for k in ("a", "b")]
            processes = [*nodes, *workers]
            for process in processes:
                process.spawn()
            for node in nodes:
                cluster.wait_healthy(node.url, node.process, node.log)
            balancer = cluster.Balancer(
                work / "haproxy", [(n.name, n.port) for n in nodes], check_ms=1000, timeout_s=300
            )
            balancer.start()

        # The single stream: one recording alone through the balancer, uncapped.
        single_size = single[0].media_path.stat().st_size
        began = time.monotonic()
        with DockAgent(
            balancer.url, tokens[-1], [work / "single"], parallel=1, chunk_size=4 << 20
        ) as agent:
            outcome = agent.run_once()
        single_seconds = time.monotonic() - began
        if not outcome.ok:
            raise SystemExit(f"the single stream failed: {outcome.summary()}")

        assert balancer.process is not None
        idle_rss = {n.name: _rss_mb(n.pid) for n in nodes}
        idle_balancer = _rss_mb(balancer.process.pid)
        peaks = Peaks(
            {p.name: p.pid for p in processes} | {"haproxy": balancer.process.pid},
            database,
            ports={n.name: n.port for n in nodes} | {"haproxy": balancer.port},
        )
        sampler = threading.Thread(target=peaks.run, daemon=True)
        sampler.start()
        rate = args.bay_mbit * 1e6 / 8
        console.print(
            f"{args.cameras} cameras x {args.recordings} recordings of {recording_bytes:,} bytes"
            f" docking over {window:.0f} s (bays at {args.bay_mbit:g} Mbit/s)…"
        )
        # The docks run in processes of their own, a few hundred to each: thousands of
        # threads in one interpreter spend their time handing its lock round, not docking.
        shares = max(1, args.dock_processes or math.ceil(args.cameras / DOCKS_PER_PROCESS))
        spawn = multiprocessing.get_context("spawn")
        links = []
        for share in range(shares):
            mine = [
                (bay, tokens[i // BAYS_PER_DOCK], window * i / args.cameras)
                for i, bay in enumerate(bays)
                if i % shares == share
            ]
            ours, theirs = spawn.Pipe()
            child = spawn.Process(
                target=_dock_process,
                args=(DockShare(balancer.url, args.chunk_kb * 1024, rate, mine), theirs),
                daemon=True,
            )
            child.start()
            links.append((child, ours))
        for _, link in links:
            if link.recv() != "ready":
                raise SystemExit("a dock process failed to start")
        cpu_before = {p.name: _cpu_seconds(p.pid) for p in processes}
        began = time.monotonic()
        for _, link in links:
            link.send(began)
        timings: list[Docked] = []
        docks_cpu = 0.0
        for child, link in links:
            share_timings, share_cpu = link.recv()
            timings += share_timings
            docks_cpu += share_cpu
            child.join()
        wall = time.monotonic() - began
        cpu = {p.name: _cpu_seconds(p.pid) - cpu_before[p.name] for p in processes}
        cpu[f"docks ({shares} processes)"] = docks_cpu
        peaks.stop.set()
        sampler.join()

        # What the server holds against what the cameras made.
        with system.unit_of_work() as uow:
            stored = set(
                uow.session.scalars(select(Recording.id).where(Recording.id.in_(originals)))
            )
            rows = uow.session.scalar(
                select(func.count()).select_from(Recording).where(Recording.id.in_(originals))
            )
        on_cameras = {r.manifest.recording_id for b in bays for r in CameraStorage(b).recordings()}
        lost = len(originals - stored - on_cameras)
        failed = len(on_cameras)
        duplicates = int(rows or 0) - len(stored)
        times = [t for timing in timings for t in timing.done.values()]
        retries = sum(t.retries for t in timings)
        kept = sum(len(t.kept) for t in timings)
        total_mb = len(stored) * recording_bytes / 1e6
        aggregate = total_mb / wall
        single_rate = single_size / 1e6 / single_seconds
        median = statistics.median(times) if times else float("nan")
        worst = max(times) if times else float("nan")

        # The probes the shift queued, drained by the workers.
        drained = time.monotonic()
        pending = len(originals)
        while time.monotonic() - drained < 120:
            with system.unit_of_work() as uow:
                pending = int(
                    uow.session.scalar(
                        select(func.count())
                        .select_from(Recording)
                        .where(Recording.state == "stored")
                    )
                    or 0
                )
            if not pending:
                break
            time.sleep(1)
        drain = time.monotonic() - drained
        system.engine.dispose()

        table = Table(title=f"Shift change: {args.cameras} cameras through 2 nodes + HAProxy")
        table.add_column("")
        table.add_column("figure", justify="right")
        table.add_row("recordings (each)", f"{len(originals):,} ({recording_bytes / 1e3:,.0f} kB)")
        table.add_row("wall time (first dock → last receipt)", f"{wall:.1f} s")
        table.add_row("aggregate ingest", f"{aggregate:.1f} MB/s")
        table.add_row(
            f"single stream ({single_size / 1e6:.0f} MB, uncapped, same run)",
            f"{single_rate:.1f} MB/s",
        )
        table.add_row(
            "dock → verified receipt: median / p99 / max",
            f"{median:.2f} / {_percentile(times, 0.99):.2f} / {worst:.2f} s" if times else "-",
        )
        table.add_row("lost / failed / duplicated", f"{lost} / {failed} / {duplicates}")
        table.add_row("errors (kept) / retries", f"{kept} / {retries}")
        table.add_row(
            "node memory before the shift → at peak (RSS)",
            ", ".join(
                f"{k} {idle_rss[k]:.0f} → {v:.0f} MB" for k, v in sorted(peaks.node_rss_mb.items())
            ),
        )
        table.add_row(
            "open connections at peak: nodes (HAProxy's maxconn), docks to HAProxy",
            ", ".join(f"{k} {peaks.open_connections.get(k, 0)}" for k in sorted(idle_rss))
            + f" ({balancer.node_maxconn} each), {peaks.open_connections.get('haproxy', 0)}",
        )
        table.add_row(
            "HAProxy memory before → at peak (RSS)",
            f"{idle_balancer:.0f} → {peaks.balancer_rss_mb:.0f} MB",
        )
        docks_open = peaks.open_connections.get("haproxy", 0)
        nodes_open = sum(peaks.open_connections.get(k, 0) for k in idle_rss)
        nodes_grew = sum(peaks.node_rss_mb.get(k, 0.0) - idle_rss[k] for k in idle_rss)
        table.add_row(
            "memory per open connection (growth / connections at peak): nodes, HAProxy",
            f"{nodes_grew * 1e3 / max(1, nodes_open):,.0f} kB, "
            f"{(peaks.balancer_rss_mb - idle_balancer) * 1e3 / max(1, docks_open):,.0f} kB",
        )
        table.add_row(
            "worker memory at peak (RSS)",
            ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(peaks.worker_rss_mb.items())),
        )
        table.add_row("database connections at peak", str(peaks.connections))
        table.add_row(
            "database backends waiting on a lock: peak, share of samples",
            f"{peaks.lock_waits}, {peaks.samples_waiting / max(1, peaks.samples):.0%}",
        )
        table.add_row(
            "CPU seconds during the shift",
            ", ".join(f"{k} {v:.0f}" for k, v in cpu.items()),
        )
        table.add_row(
            "probes drained after the shift",
            f"{len(originals) - pending:,} of {len(originals):,} in {drain:.0f} s",
        )
        console.print(table)
        reasons: Counter[str] = Counter()
        for timing in timings:
            reasons.update(timing.reasons)
        if reasons:
            console.print("why docks tried again, most often:")
            for reason, seen in reasons.most_common(3):
                console.print(f"  {seen:6d}  {reason}", soft_wrap=True, markup=False)
        if peaks.waited_on:
            console.print("statements waiting on a lock, most often sampled:")
            for statement, seen in peaks.waited_on.most_common(3):
                console.print(f"  {seen:5d}  {statement}", soft_wrap=True, markup=False)
        console.print(f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        console.print(
            f"shift change: {args.cameras} cameras, {len(originals)} recordings, lost {lost}, "
            f"failed {failed}, max/median {worst / median:.1f}, {aggregate:.1f} MB/s",
            soft_wrap=True,
        )
    finally:
        if balancer is not None:
            balancer.stop()
        for process in processes:
            process.terminate(timeout=30)
        with admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin_engine.dispose()
        if args.keep:
            console.print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
