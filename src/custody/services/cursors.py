"""Keyset pagination: where one page of a list ended, as an opaque cursor for the next.

A page asked for by `OFFSET` makes the database walk and discard every row before it, so
the thousandth page of a million recordings costs a thousand pages. A cursor names the
last row shown by the keys the list is ordered by; the next page starts right after it,
along the same index, at the cost of the first. A cursor is the keys' values as JSON in
URL-safe base64: opaque to a client, and checked as strictly as any other input (what it
holds is the caller's own last row, so it tells no one anything).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, or_

from custody.domain.clock import isoformat, parse_time
from custody.domain.errors import BadPage

Key = str | int | float | datetime
# A cursor longer than this is no cursor a list gave.
LONGEST = 512


def encode(*keys: Key) -> str:
    """The cursor after a row with these keys (times as UTC ISO 8601)."""
    values = [isoformat(k) if isinstance(k, datetime) else k for k in keys]
    packed = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(
    cursor: str, *shape: type[str] | type[int] | type[float] | type[datetime]
) -> tuple[Key, ...]:
    """The keys a cursor of `encode` holds, each of the type `shape` names; anything else
    is refused as bad input."""
    refusal = BadPage("cursor: not one this list gave (use a page's next_cursor)")
    if len(cursor) > LONGEST:
        raise refusal
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
    except (ValueError, UnicodeError, binascii.Error):
        raise refusal from None
    if not isinstance(values, list) or len(values) != len(shape):
        raise refusal
    keys: list[Key] = []
    for value, kind in zip(values, shape, strict=True):
        if kind is datetime and isinstance(value, str):
            try:
                keys.append(parse_time(value))
            except ValueError:
                raise refusal from None
        elif kind is int and isinstance(value, int) and not isinstance(value, bool):
            if not -(2**63) <= value < 2**63:
                raise refusal
            keys.append(value)
        elif kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value) or abs(value) > 2**53:
                raise refusal
            keys.append(float(value))
        elif kind is str and isinstance(value, str) and "\x00" not in value:
            keys.append(value)
        else:
            raise refusal
    return tuple(keys)


def following(
    column: SQLColumnExpression[Any],
    tie: SQLColumnExpression[Any],
    keys: tuple[Key, ...],
    *,
    newest: bool,
) -> ColumnElement[bool]:
    """A condition: the row comes after the one whose (`column`, `tie`) are `keys`, in a
    list ordered by `column` (descending if `newest`) then `tie` ascending. The first term
    bounds the walk along `column`'s index; the second only skips the rows of the same
    value already shown."""
    value, tie_value = keys
    if newest:
        return and_(column <= value, or_(column < value, tie > tie_value))
    return and_(column >= value, or_(column > value, tie > tie_value))


def beyond(
    order: Sequence[tuple[SQLColumnExpression[Any], bool]], keys: Sequence[Key]
) -> ColumnElement[bool]:
    """A condition: the row comes after the one whose values of `order`'s columns are `keys`,
    in a list ordered by those columns (each descending where it says so), the last one
    unique. The first term bounds the walk along the first column's index; the rest skip the
    rows of equal leading values already shown."""
    steps = []
    for at, (column, descending) in enumerate(order):
        equal = [earlier == key for (earlier, _), key in zip(order[:at], keys[:at], strict=True)]
        steps.append(and_(*equal, column < keys[at] if descending else column > keys[at]))
    first, descending = order[0]
    return and_(first <= keys[0] if descending else first >= keys[0], or_(*steps))


def comes_after(values: Sequence[Any], keys: Sequence[Key], descending: Sequence[bool]) -> bool:
    """Whether a row with these values comes after the row with `keys` in a list ordered as
    `beyond`'s: the same comparison in Python, for a list ordered in memory."""
    for value, key, down in zip(values, keys, descending, strict=True):
        if value != key:
            return bool(value < key) if down else bool(value > key)
    return False


def no_deeper_than(offset: int, deepest: int) -> None:
    """Refuse an offset past the deepest a list is paged by offset, pointing to its cursor."""
    if offset > deepest:
        raise BadPage(
            f"offset: pages past {deepest} are asked for by cursor (each page's next_cursor)"
        )
