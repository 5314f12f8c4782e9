"""How fast is every page with a force's footage: a million recordings on each database?

Seeds a force of N recordings (default 1,000,000; --quick 200,000) with bulk inserts
(`custody.tools.force`: 22,000 officers at a million, in 32 boroughs, a camera each, ten
docks a borough, 60 days of footage, categories, cases, holds, evidence flags, 2.4 audit
events a recording, dock reports), serves it with uvicorn on 127.0.0.1 as `custody serve`
does (audit events sequenced in the background), opens a session for a person of each
role, and asks for every hot page and listing (`custody.tools.force.HOT_PAGES`) over real
HTTP: a few requests to warm up, then 30 in a row, timed from the client (with the CPU
time the process spent on each, which a busy machine does not inflate as it does the wall
clock). The baseline of the same run is the sign-in page (no query at all): what a request
costs before any footage is looked at.

    .venv/bin/python benchmarks/portal_scale.py [--quick] [--recordings N]
        [--backend sqlite|postgresql|both] [--postgres URL] [--requests 30]
        [--cache DIR [--in-place]] [--only PAGE ...] [--statistics FILE]

It ends with one line:
    portal scale: N recordings, worst p95 X ms (PAGE) sqlite, Y ms (PAGE) postgresql

PostgreSQL is reached at --postgres (default CUSTODY_TEST_POSTGRES_URL, else
postgresql+psycopg://postgres@127.0.0.1:5432/test), in a throwaway database.

Seeding a million recordings takes minutes: with --cache DIR the seeded force is kept (a
SQLite file in DIR; on PostgreSQL a database `custody_scale_cache_N` that each run copies as
a template) and later runs start from a copy of it, migrated to the code's schema first.
With --in-place (PostgreSQL) the cached database is seeded and measured where it lies,
never copied: the 10,000,000 force fills more than half of this machine's free disk.

With --statistics FILE it writes the SQLite force's planner statistics (sqlite_stat1) and
stops: tests/integration/force_statistics.json, with which the query-plan tests plan their
small force as this one (regenerate it when an index changes; a test says when).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import resource
import shutil
import socket
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import Connection, Engine, create_engine, make_url, text

from custody.bootstrap import build_system
from custody.config import Settings
from custody.db import migrate
from custody.db.engine import make_engine
from custody.domain.clock import ManualClock
from custody.services import keys
from custody.services.identity import signin, users
from custody.services.system import NoJobs, System
from custody.tools.force import HOT_PAGES, NOW, Seeded, planner_statistics, seed
from custody.web.app import create_app
from custody.web.deps import SESSION_COOKIE

POSTGRES_URL = os.environ.get(
    "CUSTODY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BASELINE = "baseline: sign-in page"
WARM_UP = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _serving(system: System) -> Iterator[str]:
    """The app on 127.0.0.1, as `custody serve` runs it (jobs aside: nothing is uploaded)."""
    port = _free_port()
    config = uvicorn.Config(create_app(system), host="127.0.0.1", port=port, log_level="warning")
    # As `custody serve` does: what is loaded by now is left out of full collections.
    gc.collect()
    gc.freeze()
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="portal-scale", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _cached(cache: Path, backend: str, recordings: int) -> Path:
    return cache / f"{backend}-{recordings}.json"


def _save(force: Seeded, where: Path) -> None:
    fields = dataclasses.asdict(force) | {"now": force.now.isoformat()}
    where.write_text(json.dumps(fields, indent=1))


def _load_force(where: Path) -> Seeded:
    fields = json.loads(where.read_text())
    return Seeded(**(fields | {"now": datetime.fromisoformat(fields["now"])}))


def _seed_fresh(database_url: str, recordings: int) -> Seeded:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        force = seed(engine, recordings)
    finally:
        engine.dispose()
    if make_url(database_url).get_backend_name() == "sqlite":
        # Everything into the database file itself, which is what the cache copies: on a
        # connection of its own, as one of the pool's may still hold a statement open.
        database = make_url(database_url).database or ""
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return force


def _database_exists(connection: Connection, name: str) -> bool:
    found = connection.execute(
        text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
    ).first()
    return found is not None


def _in_place(
    admin: Engine, postgres: str, name: str, kept: Path, recordings: int
) -> tuple[str, Seeded]:
    """The cached PostgreSQL force itself (seeded into it first if there is none), migrated
    to the code's schema: for a force too big for the disk to hold twice."""
    url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        if not (_database_exists(connection, name) and kept.exists()):
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            kept.parent.mkdir(parents=True, exist_ok=True)
            _save(_seed_fresh(url, recordings), kept)
    _upgrade(url)
    return url, _load_force(kept)


@contextmanager
def _seeded(
    backend: str,
    where: Path,
    recordings: int,
    postgres: str,
    cache: Path | None,
    in_place: bool = False,
) -> Iterator[tuple[str, Seeded]]:
    """A database holding a seeded force, its URL and what it holds: a fresh seeding, or a
    copy of the cached one (kept in `cache` after the first seeding), migrated to the code's
    schema; dropped afterwards (PostgreSQL). `in_place`: the cached PostgreSQL force itself,
    never copied or dropped (what the pages write, sessions and audit events, stays in it)."""
    kept = _cached(cache, backend, recordings) if cache else None
    if backend == "sqlite":
        url = f"sqlite:///{where / 'custody.db'}"
        if kept and kept.exists():
            shutil.copyfile(kept.with_suffix(".db"), where / "custody.db")
            force = _load_force(kept)
        else:
            force = _seed_fresh(url, recordings)
            if kept:
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(where / "custody.db", kept.with_suffix(".db"))
                _save(force, kept)
        _upgrade(url)
        yield url, force
        return
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    template = f"custody_scale_cache_{recordings}"
    if in_place and kept:
        yield _in_place(admin, postgres, template, kept, recordings)
        return
    name = f"custody_scale_{uuid.uuid4().hex[:10]}"
    url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
    try:
        with admin.connect() as connection:
            if kept and kept.exists() and _database_exists(connection, template):
                connection.execute(
                    text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
                )
                force = _load_force(kept)
            else:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
                force = _seed_fresh(url, recordings)
                if kept:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
                    connection.execute(
                        text(f'CREATE DATABASE "{template}" TEMPLATE "{name}" STRATEGY FILE_COPY')
                    )
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    _save(force, kept)
        _upgrade(url)
        yield url, force
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _upgrade(database_url: str) -> None:
    """A cached force seeded under older migrations gets this code's schema (and indexes),
    and the planner its statistics for them."""
    engine = make_engine(database_url)
    try:
        if not migrate.is_current(engine):
            migrate.upgrade(engine)
            with engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
    finally:
        engine.dispose()


def _cpu_seconds() -> float:
    """CPU time of this process (server and client alike), user and system: on a machine
    shared with others it says what a request costs where wall-clock time says how long
    it waited for a core too (the sign-in page's is what the client and HTTP cost)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def _time_pages(
    url: str, system: System, force: Seeded, requests: int, only: Sequence[str]
) -> dict[str, list[float]]:
    sessions = {}
    for role, username in force.users.items():
        principal = users.principal_named(system, username)
        sessions[role] = signin.start_session(system, principal, method="password").secret
    chosen = {p: a for p, a in HOT_PAGES.items() if not only or any(o in p for o in only)}
    pages = {BASELINE: ("", "/login")} | chosen
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=url, timeout=300, follow_redirects=False) as client:
        for page, (role, address) in pages.items():
            cookies = {SESSION_COOKIE: sessions[role]} if role else {}
            client.cookies.clear()
            for name, value in cookies.items():
                client.cookies.set(name, value)
            target = force.address(address)
            samples = []
            cpu = 0.0
            for attempt in range(WARM_UP + requests):
                if attempt == WARM_UP:
                    cpu = _cpu_seconds()
                began = time.perf_counter()
                answer = client.get(target, headers={"Accept": "text/html"})
                spent = time.perf_counter() - began
                if answer.status_code != 200:
                    raise SystemExit(f"{page}: {answer.status_code} {answer.text[:300]}")
                if attempt >= WARM_UP:
                    samples.append(spent * 1000)
            cpu = (_cpu_seconds() - cpu) / max(1, requests)
            timings[page] = samples
            print(
                f"  {page:<40} p50 {statistics.median(samples):8.1f} ms   "
                f"p95 {_percentile(samples, 0.95):8.1f} ms   cpu {cpu * 1000:8.1f} ms",
                flush=True,
            )
    return timings


def run(
    backend: str,
    recordings: int,
    requests: int,
    *,
    postgres: str = POSTGRES_URL,
    cache: Path | None = None,
    only: Sequence[str] = (),
    in_place: bool = False,
) -> tuple[float, str]:
    """Seed (or copy the cached force), serve and time one backend; the worst p95 and its
    page."""
    with tempfile.TemporaryDirectory(prefix="portal-scale-") as tmp:
        where = Path(tmp)
        began = time.perf_counter()
        with _seeded(backend, where, recordings, postgres, cache, in_place) as (
            database_url,
            force,
        ):
            # The copy's gigabytes written back now, not during the timing: a commit's fsync
            # would otherwise wait behind them (ext4 orders them first), one request in a
            # few dozen taking most of a second that no served force would.
            os.sync()
            seeded = time.perf_counter() - began
            print(
                f"\n== {backend}: {force.recordings:,} recordings, {force.officers:,} officers, "
                f"{force.docks} docks, {force.cases:,} cases, {force.audit_events:,} audit "
                f"events; ready in {seeded:.0f} s; load {_load()}",
                flush=True,
            )
            settings = Settings(data_dir=where / "data", database_url=database_url)
            keys.create_server_key(settings.keys_dir)
            system = build_system(settings, clock=ManualClock(NOW), jobs=NoJobs())
            # Audit events sequenced in the background, as `custody serve` has them: a page
            # that audits its reading commits and goes on (on SQLite it sequences in line,
            # as served too).
            system.start_sequencer()
            try:
                with _serving(system) as url:
                    timings = _time_pages(url, system, force, requests, only)
            finally:
                system.stop_sequencer()
                system.engine.dispose()
    worst = max(
        (page for page in timings if page != BASELINE),
        key=lambda p: _percentile(timings[p], 0.95),
    )
    return _percentile(timings[worst], 0.95), worst


def keep_statistics(where: Path, recordings: int, cache: Path | None) -> None:
    """The planner's statistics of a seeded SQLite force, for the query-plan tests to plan
    a small force as this one (`custody.tools.force.assume_statistics`)."""
    with (
        tempfile.TemporaryDirectory(prefix="portal-scale-") as tmp,
        _seeded("sqlite", Path(tmp), recordings, POSTGRES_URL, cache) as (url, force),
    ):
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
            kept = planner_statistics(engine)
        finally:
            engine.dispose()
    # A statistic a line, so that a change of index reads as a change of a few lines.
    lines = ",\n".join(f"  {json.dumps(list(row))}" for row in kept)
    where.write_text(f'{{"recordings": {force.recordings},\n "sqlite_stat1": [\n{lines}\n]}}\n')
    print(f"{len(kept)} statistics of {force.recordings:,} recordings written to {where}")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--recordings", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="200,000 recordings")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="PostgreSQL server's URL")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--cache", type=Path, help="keep the seeded force here and reuse it")
    parser.add_argument("--only", nargs="*", default=(), help="pages whose name has this")
    parser.add_argument(
        "--statistics",
        type=Path,
        help="write the seeded SQLite force's planner statistics here (JSON) and stop",
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="PostgreSQL: seed into the cache and time its pages there, with no copy (a "
        "force the disk cannot hold twice, such as 10,000,000); needs --cache",
    )
    args = parser.parse_args()
    if args.in_place and not args.cache:
        parser.error("--in-place keeps the force in the cache: give --cache DIR")
    recordings = 200_000 if args.quick else args.recordings
    if args.statistics:
        keep_statistics(args.statistics, recordings, args.cache)
        return
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    worst = {
        b: run(
            b,
            recordings,
            args.requests,
            postgres=args.postgres,
            cache=args.cache,
            only=args.only,
            in_place=args.in_place,
        )
        for b in backends
    }
    print(f"\nload average at the end: {_load()}")
    figures = ", ".join(f"{ms:.0f} ms ({page}) {b}" for b, (ms, page) in worst.items())
    print(f"portal scale: {recordings:,} recordings, worst p95 {figures}")


if __name__ == "__main__":
    main()
