"""The full-text index of transcripts, which each database builds its own way.

SQLite: an FTS5 table `transcript_search` (Porter stemming, as PostgreSQL's English
configuration stems), one row per recording holding its current transcript's text, kept by
the service in the same transaction as the version it indexes. PostgreSQL: a generated
`search` tsvector column on `transcripts` and a GIN index over current versions.

Neither is part of the ORM's metadata (a virtual table and a generated column of one
dialect), so a schema comparison leaves them out by `is_search_index`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

FTS_TABLE = "transcript_search"
PG_COLUMN = "search"
PG_INDEX = "ix_transcripts_search"
CONFIG = "english"


def create(connection: Connection) -> None:
    """Build the index for this connection's database (the migration's step)."""
    if connection.dialect.name == "sqlite":
        connection.execute(
            text(
                f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
                "recording_id UNINDEXED, body, tokenize = 'porter unicode61')"
            )
        )
        return
    connection.execute(
        text(
            f"ALTER TABLE transcripts ADD COLUMN {PG_COLUMN} tsvector GENERATED ALWAYS AS "
            f"(to_tsvector('{CONFIG}', coalesce(text, ''))) STORED"
        )
    )
    connection.execute(
        text(f"CREATE INDEX {PG_INDEX} ON transcripts USING gin ({PG_COLUMN}) WHERE current")
    )


def drop(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))
        return
    connection.execute(text(f"DROP INDEX IF EXISTS {PG_INDEX}"))
    connection.execute(text(f"ALTER TABLE transcripts DROP COLUMN IF EXISTS {PG_COLUMN}"))


def is_search_index(
    item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's include_object: False for the index's own tables, column and index, which
    the database has and the models do not describe."""
    if not reflected or compare_to is not None or name is None:
        return True
    if type_ == "table" and name.startswith(FTS_TABLE):
        return False
    if type_ == "index" and name == PG_INDEX:
        return False
    return not (type_ == "column" and name == PG_COLUMN and item.table.name == "transcripts")


def keep_sqlite(connection: Connection, recording_id: str, body: str | None) -> None:
    """Make the SQLite index hold `body` as the recording's current words (None: none)."""
    if connection.dialect.name != "sqlite":
        return
    connection.execute(
        text(f"DELETE FROM {FTS_TABLE} WHERE recording_id = :rid"), {"rid": recording_id}
    )
    if body:
        connection.execute(
            text(f"INSERT INTO {FTS_TABLE} (recording_id, body) VALUES (:rid, :body)"),
            {"rid": recording_id, "body": body},
        )
