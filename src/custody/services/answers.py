"""What use cases answer: typed values, never `dict[str, Any]`, shared by every area.

Every answer a route returns is a subclass of `Answer`, so the route declares it as its
`response_model` and the OpenAPI document describes it. Times on the wire are UTC ISO 8601
strings made by `custody.domain.clock.isoformat` (`When`), exactly as before the types came.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, computed_field

from custody.domain.errors import InvalidInput

# One bound for every list a person can page through: large enough for a screen of work,
# small enough that one request cannot make the server build a huge answer.
MAX_PAGE = 500
# Deeper than this a long list is paged by cursor (`custody.services.cursors`): an offset
# makes the database walk every row before the page.
MAX_OFFSET = 1000

# A UTC time, ISO 8601 with a Z (custody.domain.clock.isoformat).
When = str


class Answer(BaseModel):
    """The base of every typed answer: immutable, and nothing undeclared slips out."""

    model_config = ConfigDict(frozen=True, extra="forbid")


T = TypeVar("T")


class Paged(Answer, Generic[T]):
    """One page of a list: the items, how many there are in all, and where this page is.

    Over a large set `total` is a lower bound (`total_exact` false: "at least this many"),
    counted no further than a bound past this page (`custody.services.counting`), so that a
    page of a million recordings costs what a page of fifty does."""

    items: list[T]
    total: int
    limit: int
    offset: int
    total_exact: bool = True
    # A list paged by keyset (`custody.services.cursors`): the cursor this page was asked
    # at, if any, and the one that asks for the page after it (none on the last page).
    cursor: str | None = None
    next_cursor: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_next(self) -> bool:
        """Whether there are items beyond this page."""
        if self.next_cursor is not None or self.cursor is not None:
            return self.next_cursor is not None
        return self.offset + len(self.items) < self.total or (
            not self.total_exact and len(self.items) == self.limit
        )


@dataclass(frozen=True)
class Page:
    """Which page of a list a person asks for; a bad bound is refused before any query."""

    offset: int = 0
    limit: int = 100
    most: int = MAX_PAGE
    # The page after the row this cursor names (`custody.services.cursors`), for a list
    # paged by keyset; never with an offset.
    after: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= self.most:
            raise InvalidInput(f"limit must be 1 to {self.most}")
        if self.offset < 0:
            raise InvalidInput("offset cannot be negative")
        if self.after is not None and self.offset:
            raise InvalidInput("a page is asked for by cursor or by offset, not both")
