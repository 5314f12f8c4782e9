"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import func, select, text

from custody.bootstrap import build_system
from custody.config import Settings
from custody.db import migrate, search_index
from custody.db.base import Base
from custody.db.engine import make_engine
from custody.db.models import AuditHead
from custody.db.models.lifecycle import Category, RecordingCategory
from custody.domain.categories import DEFAULT_CATEGORIES
from custody.domain.clock import ManualClock
from custody.services.system import System
from tests.conftest import Installer, RecordedJobs
from tests.people import make_force, store_recording


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'custody.db'}"
    url: str = request.getfixturevalue("empty_postgres_url")
    return url


@pytest.fixture
def system(tmp_path: Path, empty_database_url: str, clock: ManualClock) -> Iterator[System]:
    """A new installation made as `custody init` makes it: every migration, run for real."""
    settings = Settings(data_dir=tmp_path / "data", database_url=empty_database_url)
    built = build_system(settings, clock=clock, jobs=RecordedJobs(), create=True)
    yield built
    built.engine.dispose()


def test_there_is_one_head() -> None:
    assert len(ScriptDirectory.from_config(migrate.alembic_config()).get_heads()) == 1


def test_the_migrated_schema_matches_the_models(system: System) -> None:
    assert migrate.is_current(system.engine)
    with system.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": search_index.is_search_index,
            },
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_a_new_database_has_the_chain_head_and_the_default_categories(system: System) -> None:
    with system.engine.connect() as connection:
        head = connection.execute(select(AuditHead.id, AuditHead.seq, AuditHead.hash)).one()
        names = connection.scalars(select(Category.name).order_by(Category.id)).all()
    assert tuple(head) == (1, 0, "0" * 64)
    assert names == [rule.name for rule in DEFAULT_CATEGORIES]


def test_upgrading_twice_changes_nothing(system: System) -> None:
    migrate.upgrade(system.engine)
    assert migrate.is_current(system.engine)


BRANCH = """
revision = "{name}"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
"""


def test_a_second_branch_stops_the_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two migrations written apart, both on 0001: the upgrade refuses to guess an order."""
    migrations = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("0002_a", "0002_b"):
        (migrations / "versions" / f"{name}.py").write_text(BRANCH.format(name=name))
    monkeypatch.setattr(migrate, "MIGRATIONS", migrations)
    engine = make_engine(f"sqlite:///{tmp_path / 'custody.db'}")
    try:
        with pytest.raises(CommandError, match=r"[Mm]ultiple head"):
            migrate.upgrade(engine)
    finally:
        engine.dispose()


# A node of its own: Alembic's `context` is one per process, as it is on a real server.
NODE = """
import sys
from custody.db import migrate, search_index
from custody.db.engine import make_engine

engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
migrate.upgrade(engine)
"""


# Tables that grow with a force's footage: rewriting or indexing one reads all of it.
GROWING = ("recordings", "recording_categories", "annotations", "audit_events")
# The migrations before 0024 were written before a force's size was measured; 0024's
# backfill was the first to run past the 5 s bound, at a million recordings.
SIZED_SINCE = 24


def test_a_migration_that_rewrites_or_indexes_a_growing_table_sets_its_own_timeout() -> None:
    """The migrations run under a 5 s statement timeout (env.py): one that updates or
    indexes a table that grows with the force would fail a large force's upgrade halfway,
    so it must say how long it may take (SET LOCAL statement_timeout)."""
    found = []
    for path in sorted((migrate.MIGRATIONS / "versions").glob("[0-9]*.py")):
        if int(path.name[:4]) < SIZED_SINCE:
            continue
        source = path.read_text()
        writes = any(
            f"UPDATE {table}" in source or (f'"{table}"' in source and "create_index" in source)
            for table in GROWING
        )
        if writes and "statement_timeout" not in source:
            found.append(path.name)
    assert found == []


@pytest.mark.postgres
def test_two_nodes_migrating_at_once_migrate_once(empty_postgres_url: str) -> None:
    """Every node runs the upgrade as it starts; the advisory lock lets one do the work."""
    nodes = [
        subprocess.Popen(
            [sys.executable, "-c", NODE, empty_postgres_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for node in nodes:
            assert node.stdout is not None and node.stdout.readline() == "ready\n"
        # Both have imported everything and hold an engine: let them go together.
        for node in nodes:
            assert node.stdin is not None
            node.stdin.write("go\n")
            node.stdin.flush()
        errors = [node.communicate(timeout=120)[1] for node in nodes]
    finally:
        for node in nodes:
            node.kill()
            node.wait()
    assert [node.returncode for node in nodes] == [0, 0], errors
    engine = make_engine(empty_postgres_url)
    try:
        assert migrate.is_current(engine)
        with engine.connect() as connection:
            versions = connection.scalar(text("SELECT count(*) FROM alembic_version"))
            categories = connection.scalar(select(func.count()).select_from(Category))
        assert versions == 1
        assert categories == len(DEFAULT_CATEGORIES)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_timeouts_do_not_outlive_the_migration(empty_postgres_url: str) -> None:
    """The connection goes back to the pool: the app's queries must not inherit 5 s limits."""
    engine = make_engine(empty_postgres_url)
    try:
        migrate.upgrade(engine)
        # One connection was used and returned; the pool hands the same one back.
        with engine.connect() as connection:
            assert connection.scalar(text("SHOW lock_timeout")) == "0"
            assert connection.scalar(text("SHOW statement_timeout")) == "0"
            locks = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                )
            )
        assert locks == 0
    finally:
        engine.dispose()


def test_every_other_test_starts_from_the_migrated_schema(
    tmp_path: Path, database_url: str, install: Installer
) -> None:
    """The copies of the template that the rest of the suite starts from."""
    copy = install(
        Settings(data_dir=tmp_path / "data", database_url=database_url), jobs=RecordedJobs()
    )
    try:
        assert migrate.is_current(copy.engine)
        with copy.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "include_object": search_index.is_search_index},
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        copy.engine.dispose()


def test_an_installation_with_footage_upgrades(sqlite_system: System) -> None:
    """Migrations that rebuild a table on SQLite (a new table, the rows copied, the old one
    dropped) must run on a database whose rows reference that table: a force upgrades the
    database its footage is in, not an empty one."""
    force = make_force(sqlite_system)
    recording = store_recording(force)
    with sqlite_system.unit_of_work() as uow:  # a row that references the recording
        category = uow.session.scalar(select(Category.id).limit(1))
        uow.session.add(
            RecordingCategory(
                recording_id=recording, category_id=category, assigned_by="user:alice",
                assigned_at=uow.now(),
            )
        )  # fmt: skip
        uow.commit()
    config = migrate.alembic_config()
    with sqlite_system.engine.connect() as connection:
        with migrate.foreign_keys_deferred(connection):
            config.attributes["connection"] = connection
            command.downgrade(config, "0019")  # before the recordings table is rebuilt
            connection.commit()
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1

    migrate.upgrade(sqlite_system.engine)  # foreign keys enforced, as every node runs

    assert migrate.is_current(sqlite_system.engine)
    with sqlite_system.unit_of_work() as uow:
        stored = uow.session.scalar(
            text("SELECT sha256 FROM recordings WHERE id = :id"), {"id": recording}
        )
        pending = uow.session.scalar(
            text("SELECT locks_pending FROM recordings WHERE id = :id"), {"id": recording}
        )
    assert stored and pending  # kept, and told to the store at the next renewal
