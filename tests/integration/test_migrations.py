"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from custody.db import migrate
from custody.db.base import Base
from custody.services.system import System


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
