"""The fast canonical JSON of audit events is byte for byte RFC 8785 (the reference library)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

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
