"""The fast canonical JSON of audit events is byte for byte RFC 8785 (the reference library)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from custody.audit.hashing import utc_rows_digests
from custody.audit.log import HASHED_FIELDS, canonical, event_hash, row_fields, row_hash

# Text as the database hands it back: any Unicode scalar value (no lone surrogates).
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
value = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | text


@given(st.fixed_dictionaries({name: value for name in HASHED_FIELDS}))
def test_event_fields_canonicalise_exactly_as_rfc8785(fields: dict[str, object]) -> None:
    assert canonical(fields) == rfc8785.dumps(fields)


def test_control_characters_and_non_ascii_are_escaped_as_rfc8785_says() -> None:
    fields = {"actor": 'Zoë \u2028 \x00\x1f\x7f "q" \\ é😀', "seq": 1, "allowed": True}
    assert canonical(fields) == rfc8785.dumps(fields)


@given(st.fixed_dictionaries({name: value for name in HASHED_FIELDS}), st.datetimes())
def test_the_fast_row_hash_is_the_event_hash(fields: dict[str, object], at: datetime) -> None:
    row = {
        **fields,
        "seq": abs(hash(str(fields))) % 10**9,
        "allowed": bool(fields["allowed"]),
        "at": at.replace(tzinfo=UTC),
    }
    for name in ("tag", "actor", "details", "prev_hash"):
        row[name] = str(row[name])
    as_row = [row[name] for name in HASHED_FIELDS] + ["hash"]
    assert row_hash(as_row) == event_hash(row_fields(as_row))
    assert row_hash(as_row) == hashlib.sha256(rfc8785.dumps(row_fields(as_row))).hexdigest()


def test_a_row_with_a_value_no_event_holds_takes_the_general_path() -> None:
    row = [
        1,
        datetime(2026, 1, 1, tzinfo=UTC),
        "t",
        "a",
        None,
        None,
        1,
        None,
        None,
        None,
        "{}",
        "0" * 64,
        "hash",
    ]
    assert row_hash(row) == event_hash(row_fields(row))


# Whole numbers on both sides of RFC 8785's exact range (IEEE 754 doubles: +-(2^53 - 1)).
edges = st.sampled_from([2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 2**63 - 1, 0, -1])
any_text = st.text(max_size=40)  # lone surrogates too: no database hands them back, but
# an event's fields may come from anywhere


@given(
    st.fixed_dictionaries(
        {
            name: st.none() | st.booleans() | st.integers() | edges | any_text | text
            for name in HASHED_FIELDS
        }
    )
)
def test_whatever_the_values_the_fast_encoder_agrees_with_rfc8785_or_defers_to_it(
    fields: dict[str, object],
) -> None:
    try:
        expected = rfc8785.dumps(fields)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as refused:
        with pytest.raises(type(refused)):
            canonical(fields)
        return
    assert canonical(fields) == expected


@given(
    st.fixed_dictionaries({name: value for name in HASHED_FIELDS}),
    st.datetimes(timezones=st.timezones()),
    st.integers(min_value=1, max_value=2**64) | edges,
)
def test_the_fast_row_hash_is_the_event_hash_at_any_time_zone_and_sequence_number(
    fields: dict[str, object], at: datetime, seq: int
) -> None:
    row = {**fields, "seq": seq, "allowed": bool(fields["allowed"]), "at": at}
    for name in ("tag", "actor", "details", "prev_hash"):
        row[name] = str(row[name])
    as_row = [row[name] for name in HASHED_FIELDS] + ["hash"]
    try:
        expected = hashlib.sha256(rfc8785.dumps(row_fields(as_row))).hexdigest()
    except rfc8785.CanonicalizationError:
        expected = ""  # no event can hold it: it matches no stored hash
    assert row_hash(as_row) == expected


def test_a_sequence_number_no_event_can_have_matches_no_hash() -> None:
    row = [2**53, datetime(2026, 1, 1, tzinfo=UTC), "t", "a", None, None, True]
    row += [None, None, None, "{}", "0" * 64, "hash"]
    assert row_hash(row) == ""


# A row as `verify`'s block checkers read it: each value of its column's type or null,
# "at" as UTC wall time (naive).
nullable_text = st.none() | text
typed_row = st.tuples(
    st.integers(1, 2**53 - 1),
    st.datetimes(),
    text,
    text,
    nullable_text,
    nullable_text,
    st.booleans(),
    nullable_text,
    nullable_text,
    nullable_text,
    text,
    text,
)


@given(st.lists(typed_row, min_size=1, max_size=5))
def test_a_blocks_digests_are_the_row_hashes_of_its_events(rows: list[tuple[Any, ...]]) -> None:
    as_read = [(*row, "hash") for row in rows]
    # The same events as the log holds them, "at" in UTC.
    as_stored = [(seq, at.replace(tzinfo=UTC), *rest, "hash") for seq, at, *rest in rows]
    digests = utc_rows_digests(as_read)
    assert digests is not None
    assert [digest.hex() for digest in digests] == [row_hash(row) for row in as_stored]


@pytest.mark.parametrize("field", ["seq", "at", "tag", "actor", "allowed", "details", "prev_hash"])
def test_a_null_where_an_event_has_none_is_left_to_row_hash(field: str) -> None:
    # row_hash writes such a row another way (its general path): the block is not taken
    # as whole on the fast path's say-so, whatever its stored hash.
    row = [1, datetime(2026, 1, 1), "t", "a", None, None, True, None, None, None, "{}", "0" * 64]
    row[HASHED_FIELDS.index(field)] = None
    assert utc_rows_digests([(*row, "hash")]) is None
