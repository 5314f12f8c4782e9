"""The audit log: how fast events are appended, and how long `verify` takes over a million.

Appends are measured the way the application makes them, one event per committed
transaction through a unit of work (on SQLite every commit is fsynced), by one
writer and, on PostgreSQL, by several at once queueing on the head row's lock.
Then N events (default 1,000,000) are seeded with bulk inserts, their chain hashes
computed in Python exactly as appends compute them, and the server signs a first
checkpoint over all of them (the whole tree), a second after a few more events
(only the new ones: the frontier carries the tree on), builds an inclusion proof,
and verifies everything, as `custody audit verify` does.

    .venv/bin/python benchmarks/audit.py [--events 1000000] [--appends 2000] [--no-postgres]

PostgreSQL is reached at CUSTODY_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), in a throwaway schema.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, insert, text, update

from custody.audit.log import HEAD_ID, event_hash
from custody.bootstrap import build_system
from custody.config import Settings
from custody.db.models import AuditEvent, AuditHead
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.services.audit_trail import trail
from custody.services.system import NoJobs, System

console = Console(width=132)  # the figures table is wider than a default terminal
POSTGRES_ADMIN_URL = os.environ.get(
    "CUSTODY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 10_000
TAGS = (
    "dock:recording:ingest",
    "user:recording:view",
    "user:recording:stream",
    "user:recording:categorise",
    "user:recording:audit",
)
AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@dataclass
class Figures:
    database: str
    appends_per_second: float = 0.0
    concurrent_appends_per_second: float | None = None
    seed_seconds: float = 0.0
    first_checkpoint_seconds: float = 0.0
    next_checkpoint_seconds: float = 0.0
    proof_seconds: float = 0.0
    verify_seconds: float = 0.0
    events: int = 0


@contextmanager
def postgres_schema() -> Iterator[str]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure_appends(system: System, count: int, writers: int = 1) -> float:
    """Events per second, each appended and committed in its own unit of work."""
    per_writer = count // writers
    start = threading.Barrier(writers + 1)

    def write(number: int) -> None:
        actor = Actor(f"user:officer{number}", "10.1.2.3", AGENT)
        start.wait()
        for index in range(per_writer):
            with system.unit_of_work() as uow:
                uow.audit(
                    "user:recording:view",
                    actor,
                    object_type="recording",
                    object_id=f"{number}-{index}",
                )
                uow.commit()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return per_writer * writers / (time.perf_counter() - began)


def seed_rows(first: int, count: int, prev_hash: str) -> tuple[list[dict[str, Any]], str]:
    """`count` chained events from seq `first`, hashed exactly as `append` hashes them."""
    rows = []
    for seq in range(first, first + count):
        recording = str(uuid.UUID(int=seq * 7919))
        row: dict[str, Any] = {
            "seq": seq,
            "at": START + timedelta(milliseconds=seq * 250),
            "tag": TAGS[seq % len(TAGS)],
            "actor": f"user:officer{seq % 5000}",
            "object_type": "recording",
            "object_id": recording,
            "allowed": seq % 97 != 0,
            "reason": None if seq % 97 else "officers see their own footage",
            "address": f"10.{seq % 250}.{seq % 199}.{seq % 251}",
            "user_agent": AGENT,
            "details": json.dumps({"range": [0, seq % 4096]}, separators=(",", ":")),
            "prev_hash": prev_hash,
        }
        row["hash"] = event_hash({**row, "at": isoformat(row["at"])})
        prev_hash = row["hash"]
        rows.append(row)
    return rows, prev_hash


def seed(system: System, events: int) -> float:
    """Bulk-insert `events` chained events after those already there; seconds taken."""
    with system.unit_of_work() as uow:
        head = uow.session.get_one(AuditHead, HEAD_ID)
        first, prev_hash = head.seq + 1, head.hash
    began = time.perf_counter()
    done = 0
    with system.engine.begin() as connection:
        while done < events:
            count = min(BATCH, events - done)
            rows, prev_hash = seed_rows(first + done, count, prev_hash)
            connection.execute(insert(AuditEvent), rows)
            done += count
            if done % 100_000 == 0:
                console.print(f"  seeded {done:,} events", style="dim")
        connection.execute(
            update(AuditHead)
            .where(AuditHead.id == HEAD_ID)
            .values(seq=first + events - 1, hash=prev_hash)
        )
    return time.perf_counter() - began


def timed(work: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    result = work()
    return time.perf_counter() - began, result


def run(name: str, url: str, data_dir: Path, events: int, appends: int) -> Figures:
    console.rule(f"[bold]{name}")
    settings = Settings(data_dir=data_dir, database_url=url)
    system = build_system(settings, jobs=NoJobs(), create=True)
    figures = Figures(name)
    try:
        figures.appends_per_second = measure_appends(system, appends)
        console.print(f"  {figures.appends_per_second:,.0f} appends/s (one writer)")
        if system.engine.dialect.name == "postgresql":
            figures.concurrent_appends_per_second = measure_appends(system, appends, writers=8)
            console.print(f"  {figures.concurrent_appends_per_second:,.0f} appends/s (8 writers)")
        figures.seed_seconds = seed(system, events)
        console.print(f"  seeded {events:,} events in {figures.seed_seconds:.1f} s")
        figures.first_checkpoint_seconds, first = timed(lambda: trail.publish_checkpoint(system))
        console.print(f"  first checkpoint (whole tree): {figures.first_checkpoint_seconds:.1f} s")
        measure_appends(system, 1000)
        figures.next_checkpoint_seconds, _ = timed(lambda: trail.publish_checkpoint(system))
        console.print(f"  next checkpoint (+1,000 events): {figures.next_checkpoint_seconds:.3f} s")
        figures.proof_seconds, _ = timed(lambda: trail.inclusion_proof(system, first.size // 2))
        console.print(f"  inclusion proof: {figures.proof_seconds:.1f} s")
        figures.verify_seconds, report = timed(lambda: trail.verify(system))
        assert report.intact, report.faults
        figures.events = report.events
        console.print(
            f"  verify: {report.events:,} events and {report.checkpoints} checkpoints "
            f"in {figures.verify_seconds:.1f} s"
        )
    finally:
        system.engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2_000)
    parser.add_argument("--no-postgres", action="store_true")
    arguments = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as scratch:
        root = Path(scratch)
        results.append(
            run(
                "SQLite",
                f"sqlite:///{root / 'sqlite' / 'custody.db'}",
                root / "sqlite",
                arguments.events,
                arguments.appends,
            )
        )
        if not arguments.no_postgres:
            with postgres_schema() as url:
                results.append(
                    run("PostgreSQL", url, root / "postgres", arguments.events, arguments.appends)
                )
    table = Table(title=f"Audit log, {arguments.events:,} events")
    table.add_column("database")
    table.add_column("appends/s\n1 writer", justify="right")
    table.add_column("appends/s\n8 writers", justify="right")
    table.add_column("first checkpoint\n(whole tree)", justify="right")
    table.add_column("next checkpoint\n(+1,000)", justify="right")
    table.add_column("inclusion\nproof", justify="right")
    table.add_column("verify", justify="right")
    table.add_column("verify\nevents/s", justify="right")
    for figures in results:
        concurrent = figures.concurrent_appends_per_second
        table.add_row(
            figures.database,
            f"{figures.appends_per_second:,.0f}",
            "-" if concurrent is None else f"{concurrent:,.0f}",
            f"{figures.first_checkpoint_seconds:.1f} s",
            f"{figures.next_checkpoint_seconds:.2f} s",
            f"{figures.proof_seconds:.1f} s",
            f"{figures.verify_seconds:.1f} s",
            f"{figures.events / figures.verify_seconds:,.0f}",
        )
    console.print(table)
    console.print(
        "[dim]SQLite: synchronous=FULL, one fsync per committed append. Verify recomputes every "
        "event's hash, its link, every checkpoint's Merkle root and signature.[/]"
    )


if __name__ == "__main__":
    main()
