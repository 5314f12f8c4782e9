"""The canonical JSON of audit events and their hashes: pure functions, no database.

Kept apart from `custody.audit.log` so that the processes that check blocks of the log for
`verify` (`custody.audit.blocks`) start by importing this, the driver and nothing else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

import rfc8785

from custody.domain.clock import isoformat

# RFC 8785 writes numbers as IEEE 754 doubles: whole numbers beyond this are not exact, and
# the reference implementation refuses them (so do the fast paths here, by deferring to it).
SAFE_INTEGER = 2**53 - 1

# The fields an event's hash covers, in the order they are listed to people.
HASHED_FIELDS = (
    "seq",
    "at",
    "tag",
    "actor",
    "object_type",
    "object_id",
    "allowed",
    "reason",
    "address",
    "user_agent",
    "details",
    "prev_hash",
)


def canonical(fields: dict[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of an event's fields.

    For the values an event holds (strings, whole numbers, booleans, null) sorted-key
    compact JSON without ASCII escaping is byte for byte the RFC 8785 form, and several
    times faster than the general implementation, which matters to `verify` over
    millions of events. Anything else goes through the general implementation.
    """
    if all(
        value is None
        or isinstance(value, str | bool)
        or (isinstance(value, int) and -SAFE_INTEGER <= value <= SAFE_INTEGER)
        for value in fields.values()
    ):
        try:
            text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            return text.encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the reference implementation decide
    return rfc8785.dumps(fields)


def event_hash(fields: dict[str, Any]) -> str:
    """The chain hash of an event: SHA-256 of its fields' canonical JSON, as hex."""
    return hashlib.sha256(canonical(fields)).hexdigest()


# A row of HASHED_FIELDS and then the event's hash, as `iter_rows` reads them.
EventRow = Sequence[Any]


def row_fields(row: EventRow) -> dict[str, Any]:
    """`hashed_fields` for a row read by `iter_rows`."""
    fields: dict[str, Any] = dict(zip(HASHED_FIELDS, row[:-1], strict=True))
    fields["at"] = isoformat(fields["at"])
    return fields


def _utc_text(at: datetime) -> str:
    # The common case first: a UTC time needs no conversion (PostgreSQL's rows, here).
    if at.tzinfo is UTC:
        return at.isoformat()[:-6] + "Z"
    return isoformat(at)


def _text(value: str) -> str:
    return encode_basestring(value)


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def row_hash(row: EventRow) -> str:
    """`event_hash` of a row read by `iter_rows`, the fast way (verify does it a million times).

    The canonical JSON of an event's twelve fields is written out directly, in their
    sorted order, with the standard library's C string encoder; any value of a type an
    event cannot hold falls back to the general path, which then decides.
    """
    seq, at, tag, actor, object_type, object_id, allowed, reason, address, agent, details, prev = (
        row[:12]
    )
    try:
        if type(seq) is not int or type(allowed) is not bool or not 0 < seq <= SAFE_INTEGER:
            raise TypeError("not an event's types")
        text = (
            f'{{"actor":{_text(actor)},"address":{_text_or_null(address)},'
            f'"allowed":{"true" if allowed else "false"},"at":{_text(_utc_text(at))},'
            f'"details":{_text(details)},"object_id":{_text_or_null(object_id)},'
            f'"object_type":{_text_or_null(object_type)},"prev_hash":{_text(prev)},'
            f'"reason":{_text_or_null(reason)},"seq":{seq},"tag":{_text(tag)},'
            f'"user_agent":{_text_or_null(agent)}}}'
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    except (TypeError, AttributeError, UnicodeEncodeError):
        try:
            return event_hash(row_fields(row))
        except rfc8785.CanonicalizationError:
            return ""  # no event can hold it (a sequence number past 2^53): matches no hash


# The fields of a pending event that its entry hash covers: all but what sequencing adds.
ENTRY_FIELDS = tuple(name for name in HASHED_FIELDS if name not in ("seq", "prev_hash"))


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 of a pending event's ENTRY_FIELDS in canonical JSON ("at" as ISO 8601 text)."""
    return hashlib.sha256(canonical({name: fields[name] for name in ENTRY_FIELDS})).hexdigest()


def _entry_row_hash(row: Sequence[Any]) -> str:
    """`entry_hash` of a row read by `pending_query`, the fast way (as `row_hash`)."""
    _, at, tag, actor, object_type, object_id, allowed, reason, address, agent, details = row[:11]
    try:
        if type(allowed) is not bool:
            raise TypeError("not an event's types")
        text = (
            f'{{"actor":{_text(actor)},"address":{_text_or_null(address)},'
            f'"allowed":{"true" if allowed else "false"},"at":{_text(_utc_text(at))},'
            f'"details":{_text(details)},"object_id":{_text_or_null(object_id)},'
            f'"object_type":{_text_or_null(object_type)},'
            f'"reason":{_text_or_null(reason)},"tag":{_text(tag)},'
            f'"user_agent":{_text_or_null(agent)}}}'
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    except (TypeError, AttributeError, UnicodeEncodeError):
        fields = dict(zip(ENTRY_FIELDS, row[1:11], strict=True))
        fields["at"] = isoformat(fields["at"])
        return entry_hash(fields)


_TRUTH = {True: "true", False: "false"}


def utc_rows_digests(rows: Sequence[EventRow]) -> list[bytes] | None:
    """The SHA-256 digests of many events' canonical JSON, for `verify`'s whole blocks.

    The rows are as `iter_rows` reads them but for "at", which is the UTC wall time as a
    naive datetime (PostgreSQL's `at AT TIME ZONE 'UTC'`), and each value is of its
    column's type or null. The text is `row_hash`'s, written in one comprehension (no
    call per field but the C string encoder's); None if any row holds a value that
    `row_hash` would not write so (a null where an event has none, say): it then decides.
    """
    enc = encode_basestring
    truth = _TRUTH.__getitem__
    sha256 = hashlib.sha256
    try:
        return [
            sha256(
                (
                    f'{{"actor":{enc(actor)},'
                    f'"address":{"null" if address is None else enc(address)},'
                    f'"allowed":{truth(allowed)},"at":"{at.isoformat()}Z",'
                    f'"details":{enc(details)},'
                    f'"object_id":{"null" if object_id is None else enc(object_id)},'
                    f'"object_type":{"null" if object_type is None else enc(object_type)},'
                    f'"prev_hash":{enc(prev)},"reason":{"null" if reason is None else enc(reason)},'
                    f'"seq":{seq:d},"tag":{enc(tag)},'
                    f'"user_agent":{"null" if agent is None else enc(agent)}}}'
                ).encode()
            ).digest()
            for (
                seq,
                at,
                tag,
                actor,
                object_type,
                object_id,
                allowed,
                reason,
                address,
                agent,
                details,
                prev,
                _,
            ) in rows
        ]
    except (TypeError, ValueError, AttributeError, KeyError, UnicodeEncodeError):
        return None
