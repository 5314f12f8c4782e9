"""Alembic environment: runs on the connection Custody hands it, one transaction per migration."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from custody.db import models  # noqa: F401  (registers every table)
from custody.db.base import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `custody db upgrade` (custody.db.migrate)")
run_migrations(connection)
