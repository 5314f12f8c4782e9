"""Shared fixtures: systems on SQLite and PostgreSQL, a real server process, fake cameras.

A new installation is a copy of a database migrated once (per xdist worker on SQLite, per
set of migrations on PostgreSQL) with a server key of its own: what `custody init` makes,
without running every migration again for every test. tests/integration/test_migrations.py
migrates for real. `custody` commands run in the test's process unless a test is about the
command as a process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from subprocess import CompletedProcess
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from custody.bootstrap import build_system
from custody.config import Settings
from custody.db import migrate
from custody.db.engine import make_engine
from custody.domain import signing
from custody.domain.clock import Clock, ManualClock
from custody.services import keys
from custody.services.system import JobQueue, System

if TYPE_CHECKING:
    from tests.zygote import Forked

# Rules are pure and fast: an example over the deadline means a busy machine (xdist workers,
# other jobs), not a slow rule. The example counts stay as each test sets them.
hypothesis_settings.register_profile("custody", deadline=None)
hypothesis_settings.load_profile("custody")

POSTGRES_ADMIN_URL = os.environ.get(
    "CUSTODY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CUSTODY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
SERVER_START_SECONDS = 180
# pg_advisory_lock key of the template's builder ("custody" in ASCII).
TEMPLATE_LOCK = 0x637573746F6479


def pytest_configure(config: pytest.Config) -> None:
    # Before the identity service hashes (it reads this at its first hash), and inherited by every
    # `custody` process the tests start. test_password_hashing.py checks both sides of it.
    os.environ["CUSTODY_TEST_CHEAP_PASSWORD_HASHES"] = "1"
    # Rich fixes a console's width from COLUMNS when the console is made, once per process
    # for the module-level ones of `custody` commands (xdist workers start with COLUMNS=80).
    # Without it they read COLUMNS at each print, from what each in-process command is given.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    # Test files (and the servers' data) in memory where the machine has /dev/shm: SQLite
    # and the object store fsync at every commit, which on a busy disk took a large share
    # of the run, and no test cuts the machine's power. An explicit TMPDIR is kept.
    if "TMPDIR" not in os.environ and os.access("/dev/shm", os.W_OK):
        os.environ["TMPDIR"] = "/dev/shm"
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again


# The browser tests are one unit of work for xdist (below): they share a package-scoped
# portal and Chromium, which each worker running any of them would build for itself.
ONE_WORKER = ("tests/browser/",)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadscope`, with each of ONE_WORKER's directories one scope: a second
    worker's portal (its footage rendered, docked and probed, and a browser) cost the two
    cores a dozen seconds that nothing else was waiting on."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class Scheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            for directory in ONE_WORKER:
                if nodeid.startswith(directory):
                    return directory
            return str(super()._split_scope(nodeid))

    return Scheduling(config, log)


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


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """The S3 server (Ceph RGW from tools/s3-server) that AWS_ENDPOINT_URL names."""
    url = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("CUSTODY_S3_ENDPOINT_URL")
    if not url:
        if services_required():
            pytest.fail(
                "an S3 server is required (CUSTODY_REQUIRE_SERVICES=1): no AWS_ENDPOINT_URL"
            )
        pytest.skip('no S3 server: eval "$(tools/s3-server start DIR PORT)" to test the S3 store')
    parsed = urlparse(url)
    need_service("S3 server", parsed.hostname or "127.0.0.1", parsed.port or 80)
    return url


@pytest.fixture
def s3_url(s3_endpoint: str) -> str:
    """A fresh bucket with Object Lock (so versioned) on the S3 server: `s3://bucket/prefix`.

    Buckets are not removed: what Object Lock protects cannot be, by design; the server is
    thrown away whole (`tools/s3-server stop`)."""
    import boto3

    bucket = f"custody-test-{uuid.uuid4().hex[:16]}"
    boto3.client("s3").create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return f"s3://{bucket}/custody"


def _schema_digest() -> str:
    """Names the migrations a template was built from: other migrations, another template."""
    digest = hashlib.sha256()
    for path in sorted(migrate.MIGRATIONS.rglob("*.py")):
        digest.update(path.relative_to(migrate.MIGRATIONS).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def postgres_database_url(name: str) -> str:
    # Commits wait for no WAL flush: no test crashes PostgreSQL, and every test commits a lot.
    url = make_url(POSTGRES_ADMIN_URL).set(database=name)
    url = url.update_query_dict({"options": "-c synchronous_commit=off"})
    return url.render_as_string(hide_password=False)


class _Dropper:
    """Drops the tests' databases on threads of their own.

    DROP DATABASE waits for a checkpoint, which on a busy server takes a while: tests
    need not wait for it, and drops that run together share one checkpoint. Whatever is
    queued is dropped before the session ends.
    """

    def __init__(self, admin: Engine) -> None:
        self.admin = admin
        self.failures: list[str] = []
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="drop-database")

    def drop(self, name: str) -> None:
        self._pool.submit(self._drop, name)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _drop(self, name: str) -> None:
        try:
            with self.admin.connect() as connection:
                # FORCE: a server process or a leaked pool may still hold a connection.
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception as exc:
            self.failures.append(f"{name}: {exc}")


@dataclass
class PostgresAdmin:
    """Makes each test a database of its own, copied from a template.

    CREATE DATABASE waits for its files to reach the disk; a test need not wait for that.
    The copy the next test will take is made while this one runs (one spare per template
    per worker), and drops happen on threads of their own (`_Dropper`).
    """

    engine: Engine
    dropper: _Dropper
    _maker: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="spare-database")
    )
    _spares: dict[str, Future[str]] = field(default_factory=dict)
    _kept: list[str] = field(default_factory=list)

    def _create(self, template: str) -> str:
        name = f"custody_t_{uuid.uuid4().hex[:16]}"
        with self.engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return name

    @contextmanager
    def copy_of(self, template: str) -> Iterator[str]:
        """A new database copied from the database `template`; yields its name, then drops it."""
        spare = self._spares.pop(template, None)
        name = spare.result() if spare is not None else self._create(template)
        self._spares[template] = self._maker.submit(self._create, template)
        try:
            yield name
        finally:
            self.dropper.drop(name)

    def keep(self, name: str) -> str:
        """A template copied from the database `name` (to which no one may be connected),
        dropped when the session ends."""
        kept = f"custody_k_{uuid.uuid4().hex[:16]}"
        self._alone(name, f'CREATE DATABASE "{kept}" TEMPLATE "{name}"')
        self._kept.append(kept)
        return kept

    def replace(self, name: str, template: str) -> None:
        """Make the database `name` a copy of `template`: a spare copy is renamed into its
        place, and the database it replaces dropped in the background."""
        spare = self._spares.pop(template, None)
        fresh = spare.result() if spare is not None else self._create(template)
        self._spares[template] = self._maker.submit(self._create, template)
        replaced = f"custody_r_{uuid.uuid4().hex[:16]}"
        self._alone(name, f'ALTER DATABASE "{name}" RENAME TO "{replaced}"')
        with self.engine.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{fresh}" RENAME TO "{name}"'))
        self.dropper.drop(replaced)

    def _alone(self, name: str, statement: str) -> None:
        """Run a statement that needs `name` to have no sessions: a pool just disposed may
        leave server processes that have not exited yet, which are ended first."""
        for attempt in range(50):
            with self.engine.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                try:
                    connection.execute(text(statement))
                    return
                except OperationalError:
                    if attempt == 49:
                        raise
            time.sleep(0.1)

    def close(self) -> None:
        """Drops the spares nobody took, and the kept templates."""
        for kept in self._kept:
            self.dropper.drop(kept)
        for spare in self._spares.values():
            with suppress(Exception):
                self.dropper.drop(spare.result())
        self._maker.shutdown(wait=True)


# The session's PostgresAdmin while it lives, for helpers that are not fixtures.
POSTGRES_ADMINS: list[PostgresAdmin] = []


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[PostgresAdmin]:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    dropper = _Dropper(engine)
    admin = PostgresAdmin(engine, dropper)
    POSTGRES_ADMINS.append(admin)
    try:
        yield admin
    finally:
        POSTGRES_ADMINS.remove(admin)
        admin.close()
        dropper.close()
        engine.dispose()
    assert dropper.failures == [], "test databases left behind"


@pytest.fixture(scope="session")
def postgres_template(postgres_admin: PostgresAdmin) -> str:
    """A database migrated once and kept between runs, for per-test copies.

    Its name carries a digest of the migrations. It is built under an advisory lock, so
    that xdist workers (and runs from other checkouts) wait for one builder instead of
    racing, and renamed into place only when complete.
    """
    name = f"custody_template_{_schema_digest()}"
    with postgres_admin.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": TEMPLATE_LOCK})
        try:
            found = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if found is None:
                building = f"{name}_building"
                connection.execute(text(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{building}"'))
                engine = make_engine(postgres_database_url(building))
                try:
                    migrate.upgrade(engine)
                finally:
                    engine.dispose()
                connection.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{name}"'))
                # Nobody connects to it again: CREATE DATABASE … TEMPLATE refuses a template
                # that has sessions, and a stray one would turn every copy into a failure.
                connection.execute(
                    text(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
                )
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": TEMPLATE_LOCK})
    return name


@pytest.fixture
def postgres_url(postgres_admin: PostgresAdmin, postgres_template: str) -> Iterator[str]:
    """A database of this test's own, migrated (a copy of the template), dropped afterwards."""
    with postgres_admin.copy_of(postgres_template) as name:
        yield postgres_database_url(name)


@pytest.fixture
def empty_postgres_url(postgres_admin: PostgresAdmin) -> Iterator[str]:
    """A database of this test's own with nothing in it yet, for tests of the migrations."""
    with postgres_admin.copy_of("template0") as name:
        yield postgres_database_url(name)


@pytest.fixture
def redis_url() -> str:
    need_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@dataclass
class RecordedJobs:
    """A job queue that records what was asked of it, for tests that run jobs by hand."""

    probed: list[str] = field(default_factory=list)
    verifications: list[int] = field(default_factory=list)
    bundles: list[str] = field(default_factory=list)
    face_scans: list[str] = field(default_factory=list)
    redactions: list[str] = field(default_factory=list)
    transcripts: list[str] = field(default_factory=list)

    def probe_recording(self, recording_id: str) -> None:
        self.probed.append(recording_id)

    def verify_audit(self, verification_id: int) -> None:
        self.verifications.append(verification_id)

    def build_bundle(self, export_id: str) -> None:
        self.bundles.append(export_id)

    def detect_faces(self, scan_id: str) -> None:
        self.face_scans.append(scan_id)

    def render_redaction(self, redaction_id: str) -> None:
        self.redactions.append(redaction_id)

    def transcribe(self, transcript_id: str) -> None:
        self.transcripts.append(transcript_id)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'custody.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once for this test process, whole in one file."""
    path = tmp_path_factory.mktemp("template") / "custody.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    fold_wal(path)
    return path


def fold_wal(path: Path) -> None:
    """Make a SQLite file the whole database, for copies of the file alone.

    Leaving WAL mode folds the log into the file and removes it; each copy's engine turns
    WAL on again. No connection may be open.
    """
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=DELETE")


class Installer(Protocol):
    def __call__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        jobs: JobQueue | None = None,
        template: Path | None = None,
    ) -> System: ...


@pytest.fixture(scope="session")
def install(sqlite_template: Path) -> Installer:
    """What `build_system(create=True)` makes (schema, a new server key), from a template.

    A SQLite database is copied from the session's migrated template, or from `template`
    (a SQLite file made by copying that, then filled); a PostgreSQL one must be a copy of
    the migrated template already (`postgres_url`, `PostgresAdmin.copy_of`).
    """

    def installed(
        settings: Settings,
        *,
        clock: Clock | None = None,
        jobs: JobQueue | None = None,
        template: Path | None = None,
    ) -> System:
        url = make_url(settings.resolved_database_url)
        if url.get_backend_name() == "sqlite":
            assert url.database, "an in-memory database has no file to copy"
            target = Path(url.database)
            assert not target.exists(), f"{target} exists already"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template or sqlite_template, target)
        keys.create_server_key(settings.keys_dir)
        return build_system(settings, clock=clock, jobs=jobs)

    return installed


@pytest.fixture(autouse=True)
def _lent_applications() -> Iterator[None]:
    """Applications `tests.apps.app_for` lends during a test come back when it ends.

    Autouse and function-scoped, it is set up after every wider fixture (whose applications
    are their own) and torn down after every fixture of the test. Nothing is lent where no
    test module imported `tests.apps`, so unit tests do not import the application.
    """
    apps = sys.modules.get("tests.apps")
    if apps is None:
        yield
        return
    apps.lend()
    try:
        yield
    finally:
        apps.give_back()


@pytest.fixture
def system(
    tmp_path: Path, database_url: str, clock: ManualClock, install: Installer
) -> Iterator[System]:
    """A fresh installation on each database, with a settable clock and recorded jobs."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    built = install(settings, clock=clock, jobs=RecordedJobs())
    yield built
    built.engine.dispose()


@pytest.fixture
def sqlite_system(tmp_path: Path, clock: ManualClock, install: Installer) -> Iterator[System]:
    """A fresh installation on SQLite only."""
    settings = Settings(data_dir=tmp_path / "data")
    built = install(settings, clock=clock, jobs=RecordedJobs())
    yield built
    built.engine.dispose()


def reserve_port(port: int = 0) -> int:
    """A port (any free one for 0) that the kernel will give no one else for a minute.

    A port merely found free may be handed to another process's connection before the
    server binds it, more so with xdist workers busy beside us. A connection closed from
    the port's side leaves it in TIME_WAIT: the kernel then assigns it to no socket that
    asks for any port, while a server binding it by number with SO_REUSEADDR (uvicorn
    does) still may. (The trick of Yelp's ephemeral-port-reserve.)
    """
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        found: int = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", found)):
            accepted, _ = listener.accept()
            accepted.close()
    return found


def free_port() -> int:
    return reserve_port(0)


def custody(
    data_dir: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a `custody` command in this process: the command's own app, arguments, environment
    and standard streams, without paying for a new interpreter each time.

    An exception the command does not turn into an exit status fails the test, where a
    process would have printed a traceback and exited 1.
    """
    from custody.cli import app

    result = CliRunner().invoke(
        app,
        list(args),
        input=stdin,
        env={"CUSTODY_DATA_DIR": str(data_dir), **(env or {})},
        prog_name="custody",
        catch_exceptions=False,
    )
    return subprocess.CompletedProcess(
        ["custody", *args], result.exit_code, result.stdout, result.stderr
    )


run_custody = custody


def custody_process(
    data_dir: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `custody` command in a process of its own, as a force's IT would
    (forked with Custody imported already: `tests.zygote`)."""
    from tests import zygote

    full_env = {**os.environ, "CUSTODY_DATA_DIR": str(data_dir), **(env or {})}
    return zygote.run(list(args), full_env, stdin, timeout=300)


@dataclass
class ServerProcess:
    """`custody serve` in its own process: real HTTP, killable with SIGKILL (forked with
    Custody imported already: `tests.zygote`)."""

    data_dir: Path
    port: int
    env: dict[str, str]
    process: Forked | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir / f"server-{self.port}.log"

    def start(self) -> None:
        from tests import zygote

        self.process = zygote.start(
            ["serve", "--port", str(self.port)],
            {**os.environ, "CUSTODY_DATA_DIR": str(self.data_dir), **self.env},
            self.log,
        )
        # The key this installation signs with: whoever answers must be this server.
        key = signing.public_key_text(
            keys.load_server_key(Settings(data_dir=self.data_dir).keys_dir).public_key()
        )
        # Generous: on a loaded machine importing Custody alone has taken half a minute.
        deadline = time.monotonic() + SERVER_START_SECONDS
        # One client for every try: each new one loads the CA bundle (tens of ms of CPU),
        # which polling every 50 ms turned into a core taken from the starting server.
        with httpx.Client(timeout=1) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited: see {self.log}")
                try:
                    answer = client.get(f"{self.url}/api/v1/server-key")
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                if answer.status_code == 200 and answer.json()["public_key"] == key:
                    return
                raise RuntimeError(f"another server answers on port {self.port}: {answer.text}")
        raise RuntimeError(f"server did not start in {SERVER_START_SECONDS} s: see {self.log}")

    def kill(self) -> None:
        """SIGKILL, and hold on to the port until the server is started again."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
            # Not bindable while the dead server's connections close: then unreserved.
            with suppress(OSError):
                reserve_port(self.port)

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
    # What every command and the server run with (CUSTODY_STORAGE_URL for an S3 store).
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A `custody` command on this installation, run in the test's process."""
        return custody(self.data_dir, *args, stdin=stdin, env=self.env)

    def run_process(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `custody` command on this installation, in a process of its own."""
        return custody_process(self.data_dir, *args, env=self.env)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def add_with_password(
    data_dir: Path,
    username: str,
    role: str,
    password: str,
    *extra: str,
    env: dict[str, str] | None = None,
) -> None:
    """`custody users add`, then the person completes the one-time code it printed with
    their own password (`custody users complete-reset`), as a new user does."""
    code = _ok(custody(data_dir, "users", "add", username, "--role", role, *extra, env=env))
    _ok(custody(data_dir, "users", "complete-reset", stdin=f"{code}\n{password}\n", env=env))


@dataclass(frozen=True)
class _Prepared:
    data_dir: Path
    dock_token: str
    admin_token: str
    viewer_token: str


# Installations made once per test process, by their environment less the store's bucket:
# `custody init` writes nothing to the store, so a copy of the data dir is the same
# installation, and each of the many tests that kill and restart a server skips seconds of
# key generation and password hashing.
_PREPARED: dict[tuple[tuple[str, str], ...], _Prepared] = {}


def _prepared_installation(env: dict[str, str]) -> _Prepared:
    """`custody init`, an officer, a dock, an administrator and a viewer, as the README does."""
    shape = tuple(sorted((k, v) for k, v in env.items() if k != "CUSTODY_STORAGE_URL"))
    if shape in _PREPARED:
        return _PREPARED[shape]
    data_dir = Path(tempfile.mkdtemp(prefix="custody-installation-")) / "server"

    def custody(data_dir: Path, *args: str, stdin: str | None = None) -> CompletedProcess[str]:
        return run_custody(data_dir, *args, stdin=stdin, env=env)

    _ok(custody(data_dir, "init"))
    _ok(
        custody(
            data_dir, "fleet", "add-officer", "1234AB", "--name", "A. Officer", "--unit", "Hackney"
        )
    )
    dock_token = _ok(custody(data_dir, "fleet", "add-dock", "Hackney-1"))
    admin_token = _ok(custody(data_dir, "users", "token", "--as", "admin"))
    add_with_password(data_dir, "pat", "officer", "a long test password", "--unit", "DPS", env=env)
    # Professional standards sees footage force-wide: admin asks, a second administrator
    # (made by the installation, not by admin) approves.
    _ok(custody(data_dir, "init", "--second-administrator", "approver"))
    asked = _ok(custody(data_dir, "users", "request-role", "pat", "professional_standards"))
    _ok(custody(data_dir, "users", "approve-role", asked, "--as", "approver"))
    viewer_token = _ok(custody(data_dir, "users", "token", "--as", "pat"))
    # The commands' engines may still hold the database open: the template is a consistent
    # copy made through SQLite's backup, beside the rest of the data dir.
    template = data_dir.parent / "template"
    shutil.copytree(data_dir, template, ignore=shutil.ignore_patterns("custody.db*"))
    with (
        closing(sqlite3.connect(data_dir / "custody.db")) as source,
        closing(sqlite3.connect(template / "custody.db")) as copy,
    ):
        source.backup(copy)
    fold_wal(template / "custody.db")
    made = _Prepared(template, dock_token, admin_token, viewer_token)
    _PREPARED[shape] = made
    return made


@contextmanager
def running_installation(root: Path, env: dict[str, str] | None = None) -> Iterator[Installation]:
    """`custody init`, an officer, a dock, an administrator and a viewer, and the server.

    `env` is given to every command and the server (e.g. CUSTODY_STORAGE_URL)."""
    env = env or {}
    prepared = _prepared_installation(env)
    data_dir = root / "server"
    shutil.copytree(prepared.data_dir, data_dir)
    server = ServerProcess(data_dir, free_port(), env)
    server.start()
    try:
        yield Installation(
            data_dir,
            prepared.dock_token,
            prepared.admin_token,
            prepared.viewer_token,
            server,
            env,
        )
    finally:
        server.stop()


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Installation]:
    """An installation and its server for this test alone (it may kill the server)."""
    with running_installation(tmp_path) as made:
        yield made
