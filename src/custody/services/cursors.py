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
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, or_

from custody.domain.clock import isoformat, parse_time
from custody.domain.errors import InvalidInput

Key = str | int | datetime
# A cursor longer than this is no cursor a list gave.
LONGEST = 512


def encode(*keys: Key) -> str:
    """The cursor after a row with these keys (times as UTC ISO 8601)."""
    values = [isoformat(k) if isinstance(k, datetime) else k for k in keys]
    packed = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(cursor: str, *shape: type[str] | type[int] | type[datetime]) -> tuple[Key, ...]:
    """The keys a cursor of `encode` holds, each of the type `shape` names; anything else
    is refused as bad input."""
    refusal = InvalidInput("cursor: not one this list gave (use a page's next_cursor)")
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
