"""How long does the retention sweep take to find what is due, with a million recordings?

Seeds N recordings (default 1,000,000) on SQLite and on PostgreSQL through the real
schema (migrations), shaped like a force in its steady state: most rows are tombstones
of deleted footage, evidence is kept for years, the last 30 days of everyday footage
wait for their date, a few thousand are due now. Then it times the sweep's own
selection (`custody.services.retention.sweep.selection`) and prints the query plan, which must
be an index range scan on `delete_due_at`, not a scan filtered in Python.

    .venv/bin/python benchmarks/retention.py [--rows 1000000] [--no-postgres]

PostgreSQL is reached at CUSTODY_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), in a throwaway schema.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from custody.db import migrate
from custody.db.engine import make_engine
from custody.services.retention.sweep import SWEEP_BATCH, selection

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
POSTGRES_URL = os.environ.get(
    "CUSTODY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
COLUMNS = (
    "id",
    "camera_id",
    "officer_id",
    "started_at",
    "ended_at",
    "pre_event_seconds",
    "sha256",
    "size",
    "stored_at",
    "manifest_document",
    "receipt_document",
    "gps_track",
    "state",
    "access_class",
    "delete_due_at",
    "retention_rule",
)


def rows(count: int, seed: int = 2027) -> Iterator[tuple[Any, ...]]:
    """Recordings over two years, in the proportions a steady state has."""
    rnd = random.Random(seed)
    for _ in range(count):
        started = NOW - timedelta(seconds=rnd.randint(0, 730 * 86400))
        age = NOW - started
        kind = rnd.random()
        state, due, rule = "playable", None, "uncategorised"
        if kind < 0.12:  # evidence: kept for years, or until manually deleted
            rule = "category:Arrest"
            due = started + timedelta(days=7 * 365) if kind < 0.09 else None
        elif kind < 0.13:
            rule = "hold:legal"
        elif age >= timedelta(days=30):  # everyday footage past its date
            if rnd.random() < 0.003:
                due = started + timedelta(days=30)  # due now: the sweep's work
            else:
                state = "deleted"  # a tombstone
        else:
            due = started + timedelta(days=30)
        yield (
            str(uuid.UUID(int=rnd.getrandbits(128))),
            1,
            1,
            started,
            started + timedelta(minutes=5),
            30,
            f"{rnd.getrandbits(256):064x}",
            50_000_000,
            started + timedelta(hours=8),
            "{}",
            "{}",
            "[]",
            state,
            "normal",
            due,
            rule,
        )


def _fixtures(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO officers (id, warrant_number, name, rank, unit, created_at) "
                "VALUES (1, 'B1', 'PC Bench', 'PC', 'Bench', :now)"
            ),
            {"now": _db_time(engine, NOW)},
        )
        connection.execute(
            text(
                "INSERT INTO cameras (id, serial, model, firmware, public_key, status, officer_id, "
                "registered_at) VALUES (1, 'BENCH-1', 'x', 'x', 'x', 'issued', 1, :now)"
            ),
            {"now": _db_time(engine, NOW)},
        )


def _db_time(engine: Engine, when: datetime | None) -> Any:
    if when is None:
        return None
    # SQLite keeps naive UTC text (custody.db.types.UTCDateTime); PostgreSQL timestamptz.
    return when.replace(tzinfo=None).isoformat(" ") if engine.dialect.name == "sqlite" else when


def seed_sqlite(engine: Engine, count: int) -> float:
    _fixtures(engine)
    began = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        # Keep the indexes in memory while seeding: random ids and hashes touch every page.
        cursor.execute("PRAGMA cache_size=-1000000")
        cursor.execute("BEGIN")
        placeholders = ", ".join("?" for _ in COLUMNS)
        sql = f"INSERT INTO recordings ({', '.join(COLUMNS)}) VALUES ({placeholders})"
        batch: list[tuple[Any, ...]] = []
        for row in rows(count):
            batch.append(
                tuple(
                    v.replace(tzinfo=None).isoformat(" ", "microseconds")
                    if isinstance(v, datetime)
                    else v
                    for v in row
                )
            )
            if len(batch) == 50_000:
                cursor.executemany(sql, batch)
                batch.clear()
        cursor.executemany(sql, batch)
        cursor.execute("COMMIT")
        cursor.execute("ANALYZE")
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        raw.close()
    return time.perf_counter() - began


def seed_postgres(engine: Engine, count: int) -> float:
    _fixtures(engine)
    began = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(  # type: ignore[attr-defined]
            f"COPY recordings ({', '.join(COLUMNS)}) FROM STDIN"
        ) as copy:
            buffer = io.StringIO()
            for index, row in enumerate(rows(count), 1):
                buffer.write(
                    "\t".join(
                        "\\N" if v is None else v.isoformat() if isinstance(v, datetime) else str(v)
                        for v in row
                    )
                    + "\n"
                )
                if index % 50_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        raw.commit()
        cursor.execute("ANALYZE recordings")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - began


def measure(engine: Engine, label: str, seconds: float, count: int) -> None:
    query = selection(NOW, SWEEP_BATCH)
    compiled = query.compile(engine, compile_kwargs={"literal_binds": False})
    params = compiled.params
    sql = str(compiled)
    with engine.connect() as connection:
        due = connection.execute(
            text(
                "SELECT count(*) FROM recordings WHERE delete_due_at <= :now AND state != 'deleted'"
            ),
            {"now": _db_time(engine, NOW)},
        ).scalar_one()
        timings = []
        for _ in range(50):
            began = time.perf_counter()
            found = connection.execute(query).all()
            timings.append(time.perf_counter() - began)
        bound = {
            k: _db_time(engine, v) if isinstance(v, datetime) else v for k, v in params.items()
        }
        if engine.dialect.name == "sqlite":
            plan = [
                " ".join(str(c) for c in r)
                for r in connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + sql, tuple(bound.values())
                ).all()
            ]
        else:
            plan = [
                r[0]
                for r in connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + sql, bound
                ).all()
            ]
    print(f"\n== {label}: {count:,} recordings seeded in {seconds:.1f} s; {due:,} due now")
    print(
        f"selection of a batch of {SWEEP_BATCH} ({len(found)} returned): "
        f"median {statistics.median(timings) * 1000:.3f} ms, "
        f"p95 {sorted(timings)[int(len(timings) * 0.95)] * 1000:.3f} ms over {len(timings)} runs"
    )
    print(sql.replace("\n", " "))
    print("plan:")
    for line in plan:
        print("   ", line)
    uses_index = any("ix_recordings_delete_due_at" in line for line in plan)
    print(f"index range scan on delete_due_at: {'yes' if uses_index else 'NO'}")
    if not uses_index:
        raise SystemExit(f"{label}: the sweep's selection does not use its index")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate.upgrade(engine)
        measure(engine, "SQLite", seed_sqlite(engine, args.rows), args.rows)
        engine.dispose()

    if args.no_postgres:
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
        migrate.upgrade(engine)
        measure(engine, "PostgreSQL", seed_postgres(engine, args.rows), args.rows)
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
