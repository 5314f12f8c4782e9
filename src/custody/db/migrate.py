"""Apply and check Alembic migrations on the engine Custody uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema up to `revision`.

    `head`, not `heads`: migrations form one line, and a second branch must stop the
    upgrade with Alembic's "multiple heads" error rather than be applied in some order.
    """
    config = alembic_config()
    with engine.connect() as connection, foreign_keys_deferred(connection):
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


@contextmanager
def foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """On SQLite, foreign keys unenforced while migrations run, then checked whole.

    SQLite changes most of a table's definition only by rebuilding it (Alembic's batch
    mode: a new table, the rows copied, the old one dropped, the new renamed). With foreign
    keys enforced, dropping a table that other rows reference fails, so an installation
    with footage could not upgrade. SQLite's own procedure for such changes is this one:
    enforcement off outside any transaction, the change, then `PRAGMA foreign_key_check`.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    assert raw is not None
    # Outside any transaction (the engine's connections run in autocommit until BEGIN
    # IMMEDIATE), or SQLite ignores the pragma.
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left rows whose references are broken: {broken[:5]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def is_current(engine: Engine) -> bool:
    """True when the database is at the latest migration."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the models (a developer's tool)."""
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
