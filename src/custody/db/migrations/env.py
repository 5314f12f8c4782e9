"""Alembic environment: runs on the connection Custody hands it, one transaction per migration.

On PostgreSQL, as in Warehouse's `migrations/env.py`, migrating is safe to start from every
node at once: an advisory lock lets one node migrate while the others wait and then find the
schema current, and lock and statement timeouts make a migration that is stuck behind a busy
table give up, rather than queue every query of the force behind the lock it waits for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection, text

from custody.db import models  # noqa: F401  (registers every table)
from custody.db.base import Base

target_metadata = Base.metadata

# Warehouse's figures. A migration that must run longer (a backfill of a large table) says so
# itself, with SET LOCAL statement_timeout in its own transaction.
LOCK_TIMEOUT = "4s"
STATEMENT_TIMEOUT = "5s"
# Advisory locks are per database; the schema is part of the key so that installations side
# by side in one database (as the tests make them) do not wait for each other.
LOCK_KEY = "hashtext('custody:migrate:' || current_schema())"


def run_migrations(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        with _one_node_at_a_time(connection):
            _run(connection)
    else:
        _run(connection)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


@contextmanager
def _one_node_at_a_time(connection: Connection) -> Iterator[None]:
    # Taken before the timeouts are set: a node waits as long as another node's migration
    # takes, and then reads the version only once that migration has committed.
    connection.execute(text(f"SELECT pg_advisory_lock({LOCK_KEY})"))
    connection.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
    connection.execute(text(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'"))
    # The lock and the settings belong to the session and outlive this commit. Alembic must
    # be handed a connection outside any transaction, or it runs every migration inside that
    # one transaction instead of one transaction each.
    connection.commit()
    try:
        yield
    finally:
        # The connection goes back to the engine's pool: nothing of this may stay on it.
        connection.rollback()
        connection.execute(text("RESET statement_timeout"))
        connection.execute(text("RESET lock_timeout"))
        connection.execute(text(f"SELECT pg_advisory_unlock({LOCK_KEY})"))
        connection.commit()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `custody init` (custody.db.migrate.upgrade)")
run_migrations(connection)
