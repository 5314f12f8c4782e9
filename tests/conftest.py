"""Shared fixtures: systems on SQLite and PostgreSQL, a real server process, fake cameras."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from custody.bootstrap import build_system
from custody.config import Settings
from custody.domain.clock import ManualClock
from custody.services.system import System

POSTGRES_ADMIN_URL = os.environ.get(
    "CUSTODY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CUSTODY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    # Before the identity service is imported (it reads this once), and inherited by every
    # `custody` process the tests start. test_password_hashing.py checks both sides of it.
    os.environ["CUSTODY_TEST_CHEAP_PASSWORD_HASHES"] = "1"


def services_required() -> bool:
    """In CI a missing PostgreSQL or Redis is a failure, not a skip."""
    return os.environ.get("CUSTODY_REQUIRE_SERVICES") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    if services_required():
        pytest.fail(f"{name} at {host}:{port} is required (CUSTODY_REQUIRE_SERVICES=1) but down")
    pytest.skip(f"{name} at {host}:{port} is not running")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    need_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@dataclass
class RecordedJobs:
    """A job queue that records what was asked of it, for tests that run jobs by hand."""

    probed: list[str] = field(default_factory=list)

    def probe_recording(self, recording_id: str) -> None:
        self.probed.append(recording_id)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'custody.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def system(tmp_path: Path, database_url: str, clock: ManualClock) -> Iterator[System]:
    """A fresh installation on each database, with a settable clock and recorded jobs."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    built = build_system(settings, clock=clock, jobs=RecordedJobs(), create=True)
    yield built
    built.engine.dispose()


@pytest.fixture
def sqlite_system(tmp_path: Path, clock: ManualClock) -> Iterator[System]:
    """A fresh installation on SQLite only."""
    settings = Settings(data_dir=tmp_path / "data")
    built = build_system(settings, clock=clock, jobs=RecordedJobs(), create=True)
    yield built
    built.engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def custody(
    data_dir: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `custody` command, as a force's IT would."""
    full_env = {**os.environ, "CUSTODY_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "custody", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


@dataclass
class ServerProcess:
    """`custody serve` in its own process: real HTTP, killable with SIGKILL."""

    data_dir: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.data_dir / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "custody", "serve", "--port", str(self.port)],
            env={**os.environ, "CUSTODY_DATA_DIR": str(self.data_dir), **self.env},
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: see {self.data_dir}/server-{self.port}.log")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 30 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Installation:
    """An initialised data dir with an officer, a dock and an admin token: the README's path."""

    data_dir: Path
    dock_token: str
    admin_token: str
    # Professional standards: may see any footage (administrators may not watch it).
    viewer_token: str
    server: ServerProcess

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return custody(self.data_dir, *args, stdin=stdin)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Installation]:
    data_dir = tmp_path / "server"
    _ok(custody(data_dir, "init"))
    _ok(
        custody(
            data_dir, "fleet", "add-officer", "1234AB", "--name", "A. Officer", "--unit", "Hackney"
        )
    )
    dock_token = _ok(custody(data_dir, "fleet", "add-dock", "Hackney-1"))
    admin_token = _ok(custody(data_dir, "users", "token", "admin"))
    _ok(
        custody(
            data_dir,
            "users",
            "add",
            "pat",
            "--role",
            "professional_standards",
            "--unit",
            "DPS",
            "--password-stdin",
            stdin="a long test password\n",
        )
    )
    viewer_token = _ok(custody(data_dir, "users", "token", "pat"))
    server = ServerProcess(data_dir, free_port(), {})
    server.start()
    try:
        yield Installation(data_dir, dock_token, admin_token, viewer_token, server)
    finally:
        server.stop()
