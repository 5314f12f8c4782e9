"""How fast is every page with a force's footage: a million recordings on each database?

Seeds a force of N recordings (default 1,000,000; --quick 200,000) with bulk inserts
(`custody.tools.force`: 22,000 officers at a million, in 32 boroughs, a camera each, ten
docks a borough, 60 days of footage, categories, cases, holds, evidence flags, 2.4 audit
events a recording, dock reports), serves it with uvicorn on 127.0.0.1 as `custody serve`
does, opens a session for a person of each role, and asks for every hot page and listing
(`custody.tools.force.HOT_PAGES`) over real HTTP: a few requests to warm up, then 30 in a
row, timed from the client. The baseline of the same run is the sign-in page (no query at
all): what a request costs before any footage is looked at.

    .venv/bin/python benchmarks/portal_scale.py [--quick] [--recordings N]
        [--backend sqlite|postgresql|both] [--requests 30]

It ends with one line:
    portal scale: N recordings, worst p95 X ms (PAGE) sqlite, Y ms (PAGE) postgresql

PostgreSQL is reached at CUSTODY_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), in a throwaway database.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import create_engine, make_url, text

from custody.bootstrap import build_system
from custody.config import Settings
from custody.db import migrate
from custody.db.engine import make_engine
from custody.domain.clock import ManualClock
from custody.services import keys
from custody.services.identity import signin, users
from custody.services.system import NoJobs, System
from custody.tools.force import HOT_PAGES, NOW, Seeded, seed
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


@contextmanager
def _database(backend: str, where: Path) -> Iterator[str]:
    """A fresh, empty database's URL, dropped afterwards (PostgreSQL)."""
    if backend == "sqlite":
        yield f"sqlite:///{where / 'custody.db'}"
        return
    name = f"custody_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def _time_pages(url: str, system: System, force: Seeded, requests: int) -> dict[str, list[float]]:
    sessions = {}
    for role, username in force.users.items():
        principal = users.principal_named(system, username)
        sessions[role] = signin.start_session(system, principal, method="password").secret
    pages = {BASELINE: ("", "/login")} | HOT_PAGES
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=url, timeout=300, follow_redirects=False) as client:
        for page, (role, address) in pages.items():
            cookies = {SESSION_COOKIE: sessions[role]} if role else {}
            client.cookies.clear()
            for name, value in cookies.items():
                client.cookies.set(name, value)
            target = force.address(address)
            samples = []
            for attempt in range(WARM_UP + requests):
                began = time.perf_counter()
                answer = client.get(target, headers={"Accept": "text/html"})
                spent = time.perf_counter() - began
                if answer.status_code != 200:
                    raise SystemExit(f"{page}: {answer.status_code} {answer.text[:300]}")
                if attempt >= WARM_UP:
                    samples.append(spent * 1000)
            timings[page] = samples
            print(
                f"  {page:<40} p50 {statistics.median(samples):8.1f} ms   "
                f"p95 {_percentile(samples, 0.95):8.1f} ms",
                flush=True,
            )
    return timings


def run(backend: str, recordings: int, requests: int) -> tuple[float, str]:
    """Seed, serve and time one backend; the worst p95 and its page."""
    with tempfile.TemporaryDirectory(prefix="portal-scale-") as tmp:
        where = Path(tmp)
        with _database(backend, where) as database_url:
            settings = Settings(data_dir=where / "data", database_url=database_url)
            engine = make_engine(database_url)
            migrate.upgrade(engine)
            began = time.perf_counter()
            force = seed(engine, recordings)
            seeded = time.perf_counter() - began
            engine.dispose()
            print(
                f"\n== {backend}: {force.recordings:,} recordings, {force.officers:,} officers, "
                f"{force.docks} docks, {force.cases:,} cases, {force.audit_events:,} audit "
                f"events; seeded in {seeded:.0f} s; load {_load()}",
                flush=True,
            )
            keys.create_server_key(settings.keys_dir)
            system = build_system(settings, clock=ManualClock(NOW), jobs=NoJobs())
            try:
                with _serving(system) as url:
                    timings = _time_pages(url, system, force, requests)
            finally:
                system.engine.dispose()
    worst = max(
        (page for page in timings if page != BASELINE),
        key=lambda p: _percentile(timings[p], 0.95),
    )
    return _percentile(timings[worst], 0.95), worst


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--recordings", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="200,000 recordings")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    recordings = 200_000 if args.quick else args.recordings
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    worst = {b: run(b, recordings, args.requests) for b in backends}
    print(f"\nload average at the end: {_load()}")
    figures = ", ".join(f"{ms:.0f} ms ({page}) {b}" for b, (ms, page) in worst.items())
    print(f"portal scale: {recordings:,} recordings, worst p95 {figures}")


if __name__ == "__main__":
    main()
