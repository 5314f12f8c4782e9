"""The audit log at a force's scale: audited transactions by 8 writers, proofs at 10 million
events, `verify` of a million, each beside a baseline from the same run.

On PostgreSQL (the force's database):

1. Transactions as the application makes them (a unit of work: one change, its audit
   events, commit; a background sequencer in every writer process, as `custody serve` and
   `custody worker` run), by 8 writer processes for a fixed time. Beside them, from the
   same run and the same 8 processes: the same transactions without the audit, and this
   PostgreSQL's plain commits/s (one INSERT and a COMMIT on a bare psycopg connection).
   A commit is an fsync: no number of events per second can exceed the machine's commits
   per second times the events each transaction audits, so transactions of one event and
   of many (a court bundle's export audits one event per exhibit) are both measured, with
   events/s counted when every one of them is sequenced into the chain.
2. The sequencer's own rate over 20,000 pending events.
3. A log of M events (default 10,000,000) seeded in bulk by the sequencer's own chaining
   code (`sequencer.chain`) over synthetic pending rows, COPYed in, with a signed
   checkpoint; kept as the database `custody_audit_cache_M` (its keys beside it, under
   CUSTODY_BENCH_CACHE, default /tmp/custody-bench-cache), which later runs copy as a
   template in seconds. Inclusion proofs for 200 random events from the stored tree.
4. `verify` of V events (default 1,000,000, from its own cached log) as `custody audit
   verify` runs it, beside the time to read the same rows alone; then 10,000 more events,
   a checkpoint and an incremental verify.

    .venv/bin/python benchmarks/audit.py [--quick] [--seconds S] [--proof-events M]
                                         [--verify-events V] [--only writers|verify|proofs]

Ends with: `audit: N ev/s with 8 writers, proof X ms at M events, verify 1M in S s`, N being
the events/s of transactions that audit many events (see the lines above it for one).
PostgreSQL is reached at CUSTODY_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from custody.audit import sequencer
from custody.audit.checkpoints import checkpoint_document
from custody.audit.log import GENESIS, HEAD_ID, iter_rows
from custody.bootstrap import build_system
from custody.config import Settings
from custody.db.models import AuditCheckpoint, AuditHead, AuditPending
from custody.domain import merkle, signing
from custody.domain.actor import Actor
from custody.services.audit_trail import trail
from custody.services.system import NoJobs, System

console = Console(width=120)
POSTGRES_ADMIN_URL = os.environ.get(
    "CUSTODY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CACHE_ROOT = Path(os.environ.get("CUSTODY_BENCH_CACHE", "/tmp/custody-bench-cache"))
CACHE_PREFIX = "custody_audit_cache_"
START = datetime(2026, 1, 1, tzinfo=UTC)
WRITERS = 8
# Events per transaction for "many": a court bundle's export audits one per exhibit.
MANY = 20
SEED_BATCH = 50_000
TAGS = (
    "dock:recording:ingest",
    "user:recording:view",
    "user:recording:stream",
    "user:recording:categorise",
    "user:recording:audit",
)
AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the wall clock of a shared
    machine is inflated by everyone else's work; this is not)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def database_url(name: str) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def admin_sql(statement: str) -> list[Any]:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            result = connection.execute(text(statement))
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


@contextmanager
def scratch_database(template: str | None = None) -> Iterator[str]:
    """A throwaway database (a copy of `template`, if given); its URL."""
    name = f"custody_bench_{uuid.uuid4().hex[:10]}"
    admin_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield database_url(name)
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- audited transactions by 8 writers ------------------------------------------------------

_CHANGE = text("INSERT INTO bench_changes (recording, note, at) VALUES (:recording, :note, :at)")
_CHANGES_TABLE = (
    "CREATE TABLE bench_changes (id bigserial PRIMARY KEY, recording text NOT NULL, "
    "note text NOT NULL, at timestamptz NOT NULL)"
)


def _writer(
    settings: Settings,
    number: int,
    events: int,
    seconds: float,
    barrier: Any,
    results: Any,
) -> None:
    """Commit transactions for `seconds`: one change and `events` audit events each (none:
    the baseline); or, with `events` < 0, bare psycopg commits of one INSERT."""
    actor = Actor(f"user:officer{number}", "10.1.2.3", AGENT)
    done = 0
    if events < 0:
        url = make_url(settings.resolved_database_url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False)) as connection:
            barrier.wait()
            began = time.process_time()
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                connection.execute(
                    "INSERT INTO bench_changes (recording, note, at) VALUES (%s, %s, now())",
                    (f"{number}-{done}", "categorised"),
                )
                connection.commit()
                done += 1
        results.put((done, time.perf_counter(), time.process_time() - began))
        return
    system = build_system(settings, jobs=NoJobs())
    if events:
        system.start_sequencer()  # as `custody serve` and `custody worker` run
    barrier.wait()
    began = time.process_time()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        recording = f"{number}-{done}"
        with system.unit_of_work() as uow:
            uow.session.execute(
                _CHANGE, {"recording": recording, "note": "categorised", "at": uow.now()}
            )
            for index in range(events):
                uow.audit(
                    "user:recording:export" if events > 1 else "user:recording:categorise",
                    actor,
                    object_type="recording",
                    object_id=f"{recording}-{index}",
                )
            uow.commit()
        done += 1
    finished = time.perf_counter()
    cpu = time.process_time() - began
    system.stop_sequencer()
    system.engine.dispose()
    results.put((done, finished, cpu))


@dataclass(frozen=True)
class Writers:
    transactions: float  # committed transactions per second, all writers together
    events: float  # audit events per second, counted until the last is sequenced
    cpu_per_transaction_ms: float  # writer processes' CPU per transaction


def measure_writers(system: System, events: int, seconds: float) -> Writers:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(WRITERS + 1)
    results = context.Queue()
    system.engine.dispose()  # nothing shared across fork
    processes = [
        context.Process(
            target=_writer, args=(system.settings, number, events, seconds, barrier, results)
        )
        for number in range(WRITERS)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    began = time.perf_counter()
    reports = [results.get() for _ in processes]
    for process in processes:
        process.join()
    transactions = sum(report[0] for report in reports)
    finished = max(report[1] for report in reports)
    cpu = sum(report[2] for report in reports)
    rate = transactions / (finished - began)
    event_rate = 0.0
    if events > 0:
        system.sequence_audit()  # whatever the writers' own sequencers had not reached
        sequenced = time.perf_counter()
        with system.sessions() as session:
            pending = session.scalar(select(func.count()).select_from(AuditPending))
            total = session.get_one(AuditHead, HEAD_ID).seq
        assert pending == 0 and total >= transactions * events, (pending, total)
        event_rate = transactions * events / (sequenced - began)
    return Writers(rate, event_rate, cpu / max(transactions, 1) * 1000)


def run_writers(root: Path, seconds: float) -> dict[str, float]:
    console.rule(f"[bold]PostgreSQL: {WRITERS} writer processes, {seconds:.0f} s each run")
    figures: dict[str, float] = {}
    with scratch_database() as url:
        settings = Settings(data_dir=root / "writers", database_url=url)
        system = build_system(settings, jobs=NoJobs(), create=True)
        with system.engine.begin() as connection:
            connection.execute(text(_CHANGES_TABLE))
        try:
            plain = measure_writers(system, -1, seconds)
            console.print(
                f"  baseline, this PostgreSQL's plain commits (psycopg, one INSERT each): "
                f"{plain.transactions:,.0f}/s  [dim]{load()}[/]"
            )
            bare = measure_writers(system, 0, seconds)
            console.print(
                f"  baseline, a unit of work with one change, no audit: "
                f"{bare.transactions:,.0f} tx/s, {bare.cpu_per_transaction_ms:.2f} ms CPU/tx  "
                f"[dim]{load()}[/]"
            )
            one = measure_writers(system, 1, seconds)
            console.print(
                f"  the same with its audit event: {one.transactions:,.0f} tx/s "
                f"({one.transactions / bare.transactions:.0%} of the baseline), "
                f"{one.events:,.0f} ev/s sequenced, {one.cpu_per_transaction_ms:.2f} ms CPU/tx  "
                f"[dim]{load()}[/]"
            )
            many = measure_writers(system, MANY, seconds)
            console.print(
                f"  the same with {MANY} audit events (as a bundle export): "
                f"{many.transactions:,.0f} tx/s ({many.transactions / bare.transactions:.0%} of "
                f"the baseline), {many.events:,.0f} ev/s sequenced, "
                f"{many.cpu_per_transaction_ms:.2f} ms CPU/tx  [dim]{load()}[/]"
            )
            report = trail.verify(system)
            assert report.intact, report.faults
            console.print(f"  one chain: {report.events:,} events verify", style="dim")
            figures["sequencer"] = measure_sequencer(system, 20_000)
            console.print(
                f"  the sequencer alone: {figures['sequencer']:,.0f} ev/s (batches of "
                f"{sequencer.BATCH:,})  [dim]{load()}[/]"
            )
        finally:
            system.engine.dispose()
    figures.update(
        plain=plain.transactions,
        bare=bare.transactions,
        one_tx=one.transactions,
        one_events=one.events,
        many_tx=many.transactions,
        many_events=many.events,
    )
    return figures


def measure_sequencer(system: System, count: int) -> float:
    """Pending events sequenced per second (committed 500 a transaction, then sequenced)."""
    actor = Actor("user:bench", "10.0.0.1", AGENT)
    for start in range(0, count, 500):
        with system.unit_of_work() as uow:
            for index in range(start, min(count, start + 500)):
                uow.audit(
                    "user:recording:view", actor, object_type="recording", object_id=str(index)
                )
            uow.session.commit()  # not uow.commit(): nothing sequenced before the timing
    began = time.perf_counter()
    done = system.sequence_audit()
    assert done == count, (done, count)
    return count / (time.perf_counter() - began)


# --- a large log, seeded in bulk and cached as a template -----------------------------------


def synthetic_pending(first: int, count: int) -> list[tuple[Any, ...]]:
    """Pending rows (as `pending_query` reads them) for events first..first+count-1."""
    rows = []
    for seq in range(first, first + count):
        rows.append(
            (
                None,
                START + timedelta(milliseconds=seq * 250),
                TAGS[seq % len(TAGS)],
                f"user:officer{seq % 5000}",
                "recording",
                str(uuid.UUID(int=seq * 7919)),
                seq % 97 != 0,
                None if seq % 97 else "officers see their own footage",
                f"10.{seq % 250}.{seq % 199}.{seq % 251}",
                AGENT,
                f'{{"range":[0,{seq % 4096}]}}',
                None,
            )
        )
    return rows


def seed(system: System, events: int) -> None:
    """Chain `events` synthetic events after the head with the sequencer's own code, COPY
    them and their tree nodes in, and sign a checkpoint over the log as `publish` does.

    Secondary indexes are dropped while loading and made again after (a bulk load's
    habit; the sequencer keeps them as it goes)."""
    with system.sessions() as session:
        head = session.get_one(AuditHead, HEAD_ID)
        seq, prev = head.seq, head.hash if head.seq else GENESIS
        tree = sequencer.tree_at(session, seq) if seq else merkle.Accumulator()
    with system.engine.begin() as connection:
        indexes = connection.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events' "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            )
        ).all()
        for name, _ in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
    target = seq + events
    began = time.perf_counter()
    while seq < target:
        with system.engine.begin() as connection:
            for _ in range(20):  # a million events a transaction
                if seq >= target:
                    break
                rows = synthetic_pending(seq + 1, min(SEED_BATCH, target - seq))
                chained, nodes = sequencer.chain(tree, seq, prev, rows, check=False)
                sequencer.write_postgres(connection, chained, nodes)
                seq, prev = chained[-1][0], chained[-1][12]
            connection.execute(
                update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=seq, hash=prev)
            )
        done = events - (target - seq)
        console.print(
            f"  seeded {done:,} of {events:,} events ({done / (time.perf_counter() - began):,.0f}"
            f"/s)  [dim]{load()}[/]",
            style="dim",
        )
    with system.engine.begin() as connection:
        for _, definition in indexes:
            connection.execute(text(definition))
    with system.sessions() as session:
        stored = sequencer.stored_root(session, seq)
    root = tree.root()
    assert stored == root, "the stored tree must fold to the events' root"
    now = system.clock.now()
    signed = signing.sign(checkpoint_document(seq, root.hex(), now), system.server_key)
    with system.sessions() as session:
        session.add(
            AuditCheckpoint(
                size=seq,
                root=root.hex(),
                signed_at=now,
                signature=signed["signature"],
                frontier=json.dumps([node.hex() for node in tree.frontier]),
            )
        )
        session.commit()


def cached_sizes() -> list[int]:
    rows = admin_sql(
        f"SELECT datname FROM pg_database WHERE datname LIKE '{CACHE_PREFIX}%' "
        "AND datname NOT LIKE '%building'"
    )
    sizes = []
    for (name,) in rows:
        size = name.removeprefix(CACHE_PREFIX)
        if size.isdigit() and (CACHE_ROOT / name / "keys").is_dir():
            sizes.append(int(size))
    return sorted(sizes)


def ensure_cache(size: int) -> str:
    """The name of a template database holding a log of `size` events (made if missing,
    from the largest smaller one if there is one)."""
    name = f"{CACHE_PREFIX}{size}"
    have = cached_sizes()
    if size in have:
        return name
    smaller = [cached for cached in have if cached < size]
    building = f"{name}_building"
    admin_sql(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
    # One without its keys beside it (made with another CUSTODY_BENCH_CACHE) is made again.
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(CACHE_ROOT / name, ignore_errors=True)
    base = smaller[-1] if smaller else 0
    console.print(
        f"  making the template {name} (from {base:,} events cached); later runs copy it",
        style="dim",
    )
    template = f' TEMPLATE "{CACHE_PREFIX}{base}"' if base else ""
    admin_sql(f'CREATE DATABASE "{building}"{template}')
    data_dir = CACHE_ROOT / name
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if base:
        shutil.copytree(CACHE_ROOT / f"{CACHE_PREFIX}{base}", data_dir)
    settings = Settings(data_dir=data_dir, database_url=database_url(building))
    system = build_system(settings, jobs=NoJobs(), create=True)
    try:
        seed(system, size - base)
    finally:
        system.engine.dispose()
    admin_sql(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    return name


@contextmanager
def large_log(root: Path, size: int) -> Iterator[System]:
    """A System on a fresh copy of the cached log of `size` events."""
    cache = ensure_cache(size)
    data_dir = root / f"log_{size}_{uuid.uuid4().hex[:6]}"
    shutil.copytree(CACHE_ROOT / cache, data_dir)
    began = time.perf_counter()
    with scratch_database(template=cache) as url:
        console.print(
            f"  copied the cached log of {size:,} events in {time.perf_counter() - began:.1f} s",
            style="dim",
        )
        system = build_system(
            Settings(data_dir=data_dir, database_url=url), jobs=NoJobs(), create=True
        )
        try:
            yield system
        finally:
            system.engine.dispose()


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds (this process and its children) and the result."""
    began, cpu = time.perf_counter(), cpu_seconds()
    result = work()
    return time.perf_counter() - began, cpu_seconds() - cpu, result


def run_proofs(root: Path, size: int) -> dict[str, float]:
    console.rule(f"[bold]PostgreSQL: inclusion proofs at {size:,} events")
    with large_log(root, size) as system:
        trail.inclusion_proof(system, 1)  # the first connection is not a proof's cost
        times, cpus = [], []
        for seq in (random.randint(1, size) for _ in range(200)):
            spent, cpu, _ = timed(lambda s=seq: trail.inclusion_proof(system, s))  # type: ignore[misc]
            times.append(spent * 1000)
            cpus.append(cpu * 1000)
        times.sort()
        figures = {"proof_ms": statistics.mean(times), "proof_size": size}
        console.print(
            f"  from stored nodes: mean {figures['proof_ms']:.2f} ms, median "
            f"{statistics.median(times):.2f} ms, p99 {times[int(len(times) * 0.99) - 1]:.2f} ms; "
            f"{statistics.mean(cpus):.2f} ms CPU each here (200 random events, each checked "
            f"against the signed checkpoint)  [dim]{load()}[/]"
        )
    return figures


def read_only(system: System, size: int) -> int:
    """The baseline: the same rows read the same way, nothing checked."""
    count = 0
    for _ in iter_rows(system.sessions, until=size):
        count += 1
    return count


def run_verify(root: Path, size: int) -> dict[str, float]:
    console.rule(f"[bold]PostgreSQL: verify of {size:,} events")
    with large_log(root, size) as system:
        spent, cpu, count = timed(lambda: read_only(system, size))
        console.print(
            f"  baseline, reading the rows alone: {spent:.2f} s ({cpu:.2f} s CPU here)  "
            f"[dim]{load()}[/]"
        )
        spent, cpu, report = timed(lambda: trail.verify(system, record_as="benchmark"))
        assert report.intact and report.events == size == count, report.faults
        # The block checkers are this process's children, counted in `cpu` once they end.
        console.print(
            f"  verify: {report.events:,} events, {report.checkpoints} checkpoint(s), every "
            f"stored tree node, in {spent:.2f} s ({report.events / spent:,.0f} ev/s; "
            f"{cpu:.2f} s CPU in this process and its block checkers; the server's not "
            f"counted)  [dim]{load()}[/]"
        )
        figures = {"verify": spent, "verify_cpu": cpu, "verified": report.events}
        seed(system, 10_000)
        spent, cpu, report = timed(lambda: trail.verify(system, since_last=True))
        assert report.intact and report.skipped == size, (report.faults, report.skipped)
        console.print(
            f"  incremental verify (10,000 new events after {report.skipped:,}): {spent:.2f} s "
            f"({cpu:.2f} s CPU)  [dim]{load()}[/]"
        )
    return figures


def size_label(count: int) -> str:
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1000 and count % 1000 == 0:
        return f"{count // 1000}k"
    return f"{count:,}"


# The parts, in the order the last line names them.
PARTS = ("writers", "proofs", "verify")


def _line(figures: dict[str, float], part: str) -> str:
    """One part's figure as the last line says it."""
    if part == "writers":
        return f"{figures['many_events']:,.0f} ev/s with 8 writers"
    if part == "proofs":
        return (
            f"proof {figures['proof_ms']:.2f} ms at {size_label(int(figures['proof_size']))} events"
        )
    return f"verify {size_label(int(figures['verified']))} in {figures['verify']:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about a minute")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--proof-events", type=int, default=None)
    parser.add_argument("--verify-events", type=int, default=None)
    parser.add_argument(
        "--only",
        choices=PARTS,
        action="append",
        help="run this part alone (repeatable): the others are not measured",
    )
    arguments = parser.parse_args()
    parts = arguments.only or list(PARTS)
    seconds = arguments.seconds or (3.0 if arguments.quick else 10.0)
    proof_events = arguments.proof_events or (100_000 if arguments.quick else 10_000_000)
    verify_events = arguments.verify_events or (100_000 if arguments.quick else 1_000_000)
    console.print(f"[dim]{load()} on {os.cpu_count()} cores at the start[/]")
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as scratch:
        root = Path(scratch)
        figures: dict[str, float] = {}
        if "writers" in parts:
            figures.update(run_writers(root, seconds))
        if "verify" in parts:
            figures.update(run_verify(root, verify_events))
        if "proofs" in parts:
            figures.update(run_proofs(root, proof_events))
    last = "audit: " + ", ".join(_line(figures, part) for part in PARTS if part in parts)
    if set(parts) != set(PARTS):
        console.print(f"[dim]{load()} on {os.cpu_count()} cores at the end[/]")
        print(last)
        return
    console.print(
        f"[dim]{load()} on {os.cpu_count()} cores at the end; transactions of {MANY} events: "
        f"{figures['many_tx'] / figures['bare']:.0%} of the no-audit baseline's tx/s; of one "
        f"event: {figures['one_events']:,.0f} ev/s, "
        f"{figures['one_tx'] / figures['bare']:.0%}; plain commits {figures['plain']:,.0f}/s[/]"
    )
    print(last)


if __name__ == "__main__":
    main()
