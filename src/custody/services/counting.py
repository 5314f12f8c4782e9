"""Counting a list's rows without counting a million of them.

An exact `COUNT(*)` over a force's footage reads every matching row, for every page: the
page itself reads fifty. A list counts instead no further than a bound past the page it
shows (`count_up_to`): exact while the set is small, and otherwise "at least this many",
which is all a pager needs to offer the next page. The rows counted are those the query
selects, so a count never tells anyone of footage their filter leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import Row, Select, func, literal_column, select

from custody.services.answers import Page
from custody.services.system import UnitOfWork

# Counted exactly up to here (past the page shown); beyond it a list says "1,000+".
COUNT_BOUND = 1000
LARGEST = 2**63 - 1
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True)
class Count:
    """How many rows a list has: `total` exactly, or at least `total` when not `exact`."""

    total: int
    exact: bool


def count_up_to(uow: UnitOfWork, query: Select[Any], page: Page | None = None) -> Count:
    """The rows of `query` (a plain select, not DISTINCT) counted up to `COUNT_BOUND` past
    the page's start (so that a pager deep in a list still knows whether a next page exists)."""
    # Past the largest row count a database holds no count can go: a page asked for at an
    # offset near 2^63 (refused no earlier, as any number that fits) counts to there.
    bound = min(COUNT_BOUND + (page.offset + page.limit if page else 0), LARGEST - 1)
    # A constant for each row, not its columns: an index that holds what the query filters
    # on then answers the count alone, never reading the rows themselves.
    counted: Select[Any] = query.with_only_columns(literal_column("1"), maintain_column_froms=True)
    found = uow.session.scalar(
        select(func.count()).select_from(counted.limit(bound + 1).subquery())
    )
    found = found or 0
    return Count(min(found, bound), found <= bound)


def rows_up_to(uow: UnitOfWork, query: Select[*Ts], page: Page) -> tuple[list[Row[*Ts]], Count]:
    """The rows of `query` (in no particular order) up to the bound `count_up_to` counts
    to, and their count: where they all fit, a list can be ordered and paged from them
    without reading its candidates a second time."""
    bound = min(COUNT_BOUND + page.offset + page.limit, LARGEST - 1)
    found = list(uow.session.execute(query.limit(bound + 1)).all())
    return found[:bound], Count(min(len(found), bound), len(found) <= bound)
