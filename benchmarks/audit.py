"""The audit log at a force's scale: concurrent appends, proofs and `verify` over a million.

On PostgreSQL (the force's database), in throwaway schemas:

1. Appends by 8 writer processes (as 8 server nodes or workers), each event committed in
   its own unit of work as the application commits it. The design before sequencing (each
   append locks the chain head, hashes and inserts the event in the writer's transaction)
   is the baseline, measured in the same run with the same writers.
2. N events (default 1,000,000) seeded in bulk with their chain hashes and stored tree
   nodes, computed exactly as the sequencer computes them; the sequencer's own rate is
   measured on 20,000 pending events.
3. A signed checkpoint over all of them; inclusion proofs for random events from the
   stored tree (the baseline: the proof recomputed from every leaf, as before); a
   consistency proof.
4. `verify` of everything, as `custody audit verify` runs it (the baseline: the previous
   row-at-a-time walk over paged reads); then 10,000 more events, a checkpoint, and an
   incremental verify from the last verified checkpoint.

    .venv/bin/python benchmarks/audit.py [--quick] [--events N] [--appends N] [--sqlite]

Ends with: `audit: N ev/s with 8 writers, proof X ms at M events, verify 1M in S s`.
PostgreSQL is reached at CUSTODY_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import create_engine, func, insert, select, text, update

from custody.audit import sequencer
from custody.audit.log import GENESIS, HEAD_ID, check_link, event_hash, hashed_fields, iter_rows
from custody.bootstrap import build_system
from custody.config import Settings
from custody.db.models import AuditEvent, AuditHead, AuditPending, AuditTreeNode
from custody.domain import merkle
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.services.audit_trail import trail
from custody.services.system import NoJobs, System, UnitOfWork

console = Console(width=120)
POSTGRES_ADMIN_URL = os.environ.get(
    "CUSTODY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 10_000
WRITERS = 8
TAGS = (
    "dock:recording:ingest",
    "user:recording:view",
    "user:recording:stream",
    "user:recording:categorise",
    "user:recording:audit",
)
AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


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


# --- appends ------------------------------------------------------------------------------


def locked_append(uow: UnitOfWork, actor: Actor, object_id: str) -> None:
    """The design before sequencing: every append locks the chain head in its transaction."""
    session = uow.session
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one()
    event = AuditEvent(
        seq=head.seq + 1,
        at=uow.now(),
        tag="user:recording:view",
        actor=actor.name,
        object_type="recording",
        object_id=object_id,
        allowed=True,
        reason=None,
        address=actor.address,
        user_agent=actor.user_agent,
        details="{}",
        prev_hash=head.hash,
    )
    event.hash = event_hash(hashed_fields(event))
    session.add(event)
    head.seq, head.hash = event.seq, event.hash
    session.flush()


def _writer(
    settings: Settings, number: int, count: int, locked: bool, barrier: Any, done: Any
) -> None:
    system = build_system(settings, jobs=NoJobs())
    if not locked:
        system.start_sequencer()  # as `custody serve` and `custody worker` run
    actor = Actor(f"user:officer{number}", "10.1.2.3", AGENT)
    barrier.wait()
    for index in range(count):
        with system.unit_of_work() as uow:
            if locked:
                locked_append(uow, actor, f"{number}-{index}")
            else:
                uow.audit(
                    "user:recording:view",
                    actor,
                    object_type="recording",
                    object_id=f"{number}-{index}",
                )
            uow.commit()
    done.put(time.perf_counter())
    system.stop_sequencer()
    system.engine.dispose()


def measure_appends(system: System, count: int, writers: int, *, locked: bool) -> dict[str, float]:
    """Events per second committed by `writers` processes; for the sequenced design also
    until the last of them is sequenced."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(writers + 1)
    done = context.Queue()
    per_writer = count // writers
    system.engine.dispose()  # nothing shared across fork
    processes = [
        context.Process(
            target=_writer,
            args=(system.settings, number, per_writer, locked, barrier, done),
        )
        for number in range(writers)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    began = time.perf_counter()
    finished = max(done.get() for _ in processes)
    for process in processes:
        process.join()
    committed = per_writer * writers
    figures = {"committed": committed / (finished - began)}
    if not locked:
        system.sequence_audit()  # whatever the writers' own sequencers had not reached
        figures["sequenced"] = committed / (time.perf_counter() - began)
        with system.sessions() as session:
            total = session.scalar(select(func.count()).select_from(AuditEvent))
            pending = session.scalar(select(func.count()).select_from(AuditPending))
        assert pending == 0 and total is not None and total >= committed, (total, pending)
    return figures


# --- seeding ------------------------------------------------------------------------------


def seed_row(seq: int, prev_hash: str) -> dict[str, Any]:
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
    return row


def seed(system: System, events: int) -> float:
    """Bulk-insert `events` chained events and their tree nodes after those there; seconds."""
    with system.sessions() as session:
        head = session.get_one(AuditHead, HEAD_ID)
        first, prev_hash = head.seq + 1, head.hash if head.seq else GENESIS
        tree = sequencer.tree_at(session, head.seq) if head.seq else merkle.Accumulator()
    began = time.perf_counter()
    done = 0
    with system.engine.begin() as connection:
        while done < events:
            count = min(BATCH, events - done)
            rows, nodes = [], []
            for seq in range(first + done, first + done + count):
                row = seed_row(seq, prev_hash)
                prev_hash = row["hash"]
                rows.append(row)
                leaf = merkle.leaf_hash(bytes.fromhex(row["hash"]))
                for level, index, node in tree.add_recording(leaf):
                    nodes.append({"id": sequencer.node_id(level, index), "hash": node})
            connection.execute(insert(AuditEvent), rows)
            if nodes:
                connection.execute(insert(AuditTreeNode), nodes)
            done += count
            if done % 200_000 == 0:
                console.print(f"  seeded {done:,} events", style="dim")
        connection.execute(
            update(AuditHead)
            .where(AuditHead.id == HEAD_ID)
            .values(seq=first + events - 1, hash=prev_hash)
        )
    return time.perf_counter() - began


def measure_sequencer(system: System, count: int) -> float:
    """Pending events sequenced per second (inserted in bulk, then sequenced)."""
    actor = Actor("user:bench", "10.0.0.1", AGENT)
    rows_per_unit = 500
    for start in range(0, count, rows_per_unit):
        with system.unit_of_work() as uow:
            for index in range(start, min(count, start + rows_per_unit)):
                uow.audit(
                    "user:recording:view", actor, object_type="recording", object_id=str(index)
                )
            uow.session.commit()  # not uow.commit(): nothing sequenced before the timing
    began = time.perf_counter()
    done = system.sequence_audit()
    assert done == count, (done, count)
    return count / (time.perf_counter() - began)


# --- proofs and verify --------------------------------------------------------------------


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = work()
    return time.perf_counter() - began, result


def leaf_proof(system: System, seq: int, size: int) -> list[bytes]:
    """The baseline: an inclusion proof recomputed from every leaf, as before stored nodes."""
    hashes = (
        merkle.leaf_hash(bytes.fromhex(row[-1])) for row in iter_rows(system.sessions, until=size)
    )
    return merkle.inclusion_proof(seq - 1, size, hashes)


def row_at_a_time_verify(system: System, size: int) -> int:
    """The baseline: the previous verify's walk (paged reads, one event at a time)."""
    tree = merkle.Accumulator()
    prev, expected = GENESIS, 1
    with system.engine.connect() as connection:
        dialect = connection.dialect.name
    pages: Iterator[Any]
    if dialect == "postgresql":
        # Pages of short transactions, as before.
        def paged() -> Iterator[Any]:
            for low in range(0, size, BATCH):
                with system.sessions() as session:
                    rows = (
                        session.connection()
                        .execute(
                            select(*[getattr(AuditEvent, n) for n in _FIELDS], AuditEvent.hash)
                            .where(AuditEvent.seq > low, AuditEvent.seq <= min(size, low + BATCH))
                            .order_by(AuditEvent.seq)
                        )
                        .all()
                    )
                yield from rows

        pages = paged()
    else:
        pages = iter_rows(system.sessions, until=size)
    for row in pages:
        assert check_link(row, expected, prev) is None
        tree.add(merkle.leaf_hash(bytes.fromhex(row[-1])))
        prev = row[-1]
        expected += 1
    return tree.size


_FIELDS = (
    "seq",
    "at",
    "tag",
    "actor",
    "object_type",
    "object_id",
    "allowed",
    "reason",
    "address",
    "user_agent",
    "details",
    "prev_hash",
)


def size_label(count: int) -> str:
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1000 and count % 1000 == 0:
        return f"{count // 1000}k"
    return f"{count:,}"


def run_postgres(root: Path, events: int, appends: int, baselines: bool) -> dict[str, float]:
    figures: dict[str, float] = {}
    console.rule("[bold]PostgreSQL: appends by 8 writer processes")
    with postgres_schema() as url:
        settings = Settings(data_dir=root / "locked", database_url=url)
        system = build_system(settings, jobs=NoJobs(), create=True)
        locked = measure_appends(system, appends, WRITERS, locked=True)
        figures["locked"] = locked["committed"]
        console.print(
            f"  before (each append locks the chain head): {locked['committed']:,.0f} ev/s"
        )
        system.engine.dispose()
    with postgres_schema() as url:
        settings = Settings(data_dir=root / "sequenced", database_url=url)
        system = build_system(settings, jobs=NoJobs(), create=True)
        try:
            sequenced = measure_appends(system, appends, WRITERS, locked=False)
            figures["appends"] = sequenced["committed"]
            console.print(
                f"  now (pending rows, sequenced after commit): {sequenced['committed']:,.0f} "
                f"ev/s committed, {sequenced['sequenced']:,.0f} ev/s including the last "
                "sequenced"
            )
            report = trail.verify(system)
            assert report.intact, report.faults
            console.print(f"  one chain: {report.events:,} events verify", style="dim")

            console.rule(f"[bold]PostgreSQL: {events:,} events")
            figures["sequencer"] = measure_sequencer(system, 20_000)
            console.print(f"  sequencer: {figures['sequencer']:,.0f} ev/s (batches of 5,000)")
            with system.sessions() as session:
                have = session.get_one(AuditHead, HEAD_ID).seq
            seconds = seed(system, max(0, events - have))
            console.print(f"  seeded to {events:,} events in {seconds:.1f} s", style="dim")
            spent, first = timed(lambda: trail.publish_checkpoint(system))
            console.print(f"  first checkpoint (walks every event): {spent:.1f} s")
            size = first.size
            picks = [random.randint(1, size) for _ in range(200)]
            times = []
            for seq in picks:
                spent, _ = timed(lambda s=seq: trail.inclusion_proof(system, s))  # type: ignore[misc]
                times.append(spent * 1000)
            figures["proof_ms"] = statistics.mean(times)
            figures["proof_p99_ms"] = sorted(times)[int(len(times) * 0.99) - 1]
            figures["proof_size"] = size
            console.print(
                f"  inclusion proof from stored nodes: mean {figures['proof_ms']:.2f} ms, "
                f"p99 {figures['proof_p99_ms']:.2f} ms (200 random events of {size:,})"
            )
            if baselines:
                spent, _ = timed(lambda: leaf_proof(system, size // 2, size))
                figures["proof_before_ms"] = spent * 1000
                console.print(f"  before (recomputed from every leaf): {spent * 1000:,.0f} ms")
            spent, report = timed(lambda: trail.verify(system, record_as="benchmark"))
            assert report.intact, report.faults
            figures["verify"] = spent
            figures["verified"] = report.events
            console.print(
                f"  verify: {report.events:,} events, {report.checkpoints} checkpoint(s) "
                f"in {spent:.2f} s ({report.events / spent:,.0f} ev/s)"
            )
            if baselines:
                spent, _ = timed(lambda: row_at_a_time_verify(system, size))
                figures["verify_before"] = spent
                console.print(f"  before (row at a time, paged): {spent:.2f} s")
            seed(system, 10_000)
            second = trail.publish_checkpoint(system)
            assert second is not None
            spent, _ = timed(lambda: trail.consistency_proof(system, first.id))
            console.print(
                f"  consistency proof {first.size:,} -> {second.size:,}: {spent * 1000:.1f} ms"
            )
            spent, report = timed(lambda: trail.verify(system, since_last=True))
            assert report.intact and report.skipped == size, (report.faults, report.skipped)
            figures["incremental"] = spent
            console.print(
                f"  incremental verify (10,000 new events after {report.skipped:,}): {spent:.2f} s"
            )
        finally:
            system.engine.dispose()
    return figures


def run_sqlite(root: Path, events: int) -> None:
    console.rule("[bold]SQLite (embedded default): one writer, verify")
    settings = Settings(data_dir=root / "sqlite", database_url=f"sqlite:///{root / 'sqlite.db'}")
    system = build_system(settings, jobs=NoJobs(), create=True)
    actor = Actor("user:officer", "10.1.2.3", AGENT)
    count = 500
    began = time.perf_counter()
    for index in range(count):
        with system.unit_of_work() as uow:
            uow.audit("user:recording:view", actor, object_type="recording", object_id=str(index))
            uow.commit()
    console.print(f"  {count / (time.perf_counter() - began):,.0f} appends/s (fsynced commits)")
    seed(system, events - count)
    trail.publish_checkpoint(system)
    spent, report = timed(lambda: trail.verify(system))
    assert report.intact, report.faults
    console.print(f"  verify: {report.events:,} events in {spent:.2f} s")
    system.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--appends", type=int, default=None)
    parser.add_argument("--sqlite", action="store_true", help="also the embedded default")
    arguments = parser.parse_args()
    events = arguments.events or (100_000 if arguments.quick else 1_000_000)
    appends = arguments.appends or (4_000 if arguments.quick else 24_000)
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as scratch:
        root = Path(scratch)
        figures = run_postgres(root, events, appends, baselines=True)
        if arguments.sqlite:
            run_sqlite(root, min(events, 200_000))
    load = os.getloadavg()
    console.print(
        f"[dim]load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; "
        f"before: {figures['locked']:,.0f} ev/s with 8 writers, proof "
        f"{figures.get('proof_before_ms', 0):,.0f} ms, verify "
        f"{figures.get('verify_before', 0):.1f} s[/]"
    )
    print(
        f"audit: {figures['appends']:,.0f} ev/s with 8 writers, proof "
        f"{figures['proof_ms']:.2f} ms at {size_label(int(figures['proof_size']))} events, "
        f"verify {size_label(int(figures['verified']))} in {figures['verify']:.2f} s"
    )


if __name__ == "__main__":
    main()
