"""A column among a list of values, as each database reads a long list best.

`column IN (:v1, :v2, …)` puts one parameter in the statement for each value: a team's
hundreds of officers, a case list's hundreds of recordings. On PostgreSQL that cost more
CPU than the query took to answer: SQLAlchemy renders each parameter with its cast, and
psycopg converts the statement's placeholders anew for each execution (it keeps only
statements of at most 50 parameters converted). There the list goes as one array
parameter, `column = ANY(:values)`, which PostgreSQL plans exactly as the IN list (it reads
an IN list as that array). SQLite has no arrays, and its IN list is cheap: unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, any_, bindparam
from sqlalchemy.orm import QueryableAttribute, Session


def among(
    session: Session, column: QueryableAttribute[Any] | ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """A condition: `column` is one of `values` (none: nothing is)."""
    listed = list(values)
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(listed)
    array = bindparam(None, listed, type_=ARRAY(column.type))
    return column == any_(array)
