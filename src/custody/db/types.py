"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

from custody.domain.clock import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite stores text; keep it naive UTC so that comparisons sort correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class ShiftedTime(ColumnElement[datetime]):
    """A time column moved by a fixed interval, compared with other times of the same column
    type (a range on an index whose bounds come from another row: the same officer's
    footage within two hours of this one)."""

    inherit_cache = True
    type = UTCDateTime()
    # What tells one apart from another: SQLAlchemy's statement cache keys on these (without
    # them a statement holding one was compiled afresh every time it ran).
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's own type: a list, read off the class)
        ("column", InternalTraversal.dp_clauseelement),
        ("seconds", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, column: ColumnElement[datetime], by: timedelta) -> None:
        self.column = column
        self.seconds = int(by.total_seconds())
        if self.seconds != by.total_seconds():
            raise ValueError("shifted by whole seconds only")


@compiles(ShiftedTime, "sqlite")
def _shifted_sqlite(element: ShiftedTime, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff": whole seconds moved by strftime, the
    # fraction kept as it was, so that the text compares exactly as the time would.
    column = compiler.process(element.column, **kw)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {column}, '{element.seconds:+d} seconds')"
        f" || substr({column}, 20))"
    )


@compiles(ShiftedTime)
def _shifted_default(element: ShiftedTime, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"({column} + interval '{element.seconds} seconds')"


def shifted(
    column: ColumnElement[datetime] | InstrumentedAttribute[datetime], by: timedelta
) -> ColumnElement[datetime]:
    """`column + by`, in SQL, on SQLite and PostgreSQL alike."""
    return ShiftedTime(column if isinstance(column, ColumnElement) else column.expression, by)


class NotIndexed(ColumnElement[Any]):
    """A column SQLite's planner may not drive a join from (`+column`): for a join that must
    start from a range of another index, where SQLite would rather walk one index range per
    row of the other table (per officer, the force's footage of half a day). The column as
    it is on PostgreSQL, whose planner weighs both."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(NotIndexed, "sqlite")
def _not_indexed_sqlite(element: NotIndexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.column, **kw)}"


@compiles(NotIndexed)
def _not_indexed_default(element: NotIndexed, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


def not_indexed(column: InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    """`column`, which SQLite may not look up by index (`NotIndexed`)."""
    return NotIndexed(column.expression)
