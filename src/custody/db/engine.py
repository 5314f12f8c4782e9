"""Engines and sessions: SQLite (WAL, foreign keys) by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from custody.private import private_sqlite


def make_engine(url: str) -> Engine:
    """An engine for a database URL, with the settings Custody relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # Made 0600 before SQLite opens it: its -wal and -shm files take its mode.
            private_sqlite(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        # psycopg prepares a statement run five times on a connection, and PostgreSQL then
        # plans it once for any parameters (a generic plan) if that looks no dearer: blind
        # to which unit, which dates or how long a list of ids, it walked a unit's week of
        # footage three times slower (37 ms to 97 ms at a million) from the tenth search
        # on. Planned for each call's own values, a plan costs a millisecond.
        connect_args={"options": "-c plan_cache_mode=force_custom_plan"},
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN; take control so that
        # a write transaction takes the lock at its start (BEGIN IMMEDIATE below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Every transaction may write (audit events are written even on reads), so
        # take the write lock up front: no deadlock upgrading a read lock later.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_reader_engine(url: str, engine: Engine) -> Engine:
    """An engine for short lookups that must not wait for a writer: on SQLite, reads in
    autocommit (WAL lets them run beside a write transaction, which takes its lock at BEGIN
    IMMEDIATE); on PostgreSQL the engine itself, whose writers lock rows, not the database."""
    if make_url(url).get_backend_name() != "sqlite":
        return engine
    reader = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return reader


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
