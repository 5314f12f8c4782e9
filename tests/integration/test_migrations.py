"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from custody.bootstrap import build_system
from custody.config import Settings
from custody.db import migrate
from custody.db.base import Base
from custody.domain.clock import ManualClock
from custody.services.system import System
from tests.conftest import Installer, RecordedJobs


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
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrading_twice_changes_nothing(system: System) -> None:
    migrate.upgrade(system.engine)
    assert migrate.is_current(system.engine)


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
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        copy.engine.dispose()
