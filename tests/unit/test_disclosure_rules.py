"""The disclosure rules: exhibit references and what may leave the force."""

from __future__ import annotations

import pytest

from custody.domain.disclosure import (
    Use,
    initials_of,
    may_leave_the_force,
    next_reference,
    normalise_reference,
    reference_sort_key,
)
from custody.domain.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "expected"), [("LJ/1", "LJ/1"), (" lj / 12 ", "LJ/12"), ("abcd/99999", "ABCD/99999")]
)
def test_references_are_normalised(text: str, expected: str) -> None:
    assert normalise_reference(text) == expected


@pytest.mark.parametrize("text", ["", "LJ", "LJ/0", "LJ/01", "L1/2", "ABCDE/1", "LJ/1/2", "LJ-1"])
def test_malformed_references_are_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(InvalidInput, match="INITIALS/NUMBER"):
        normalise_reference(text)


def test_the_next_reference_follows_the_producers_highest_number() -> None:
    assert next_reference("LJ", []) == "LJ/1"
    assert next_reference("lj", ["LJ/1", "LJ/3", "AB/9"]) == "LJ/4"
    assert next_reference("AB", ["LJ/1", "AB/9"]) == "AB/10"


def test_initials_come_from_the_producers_name() -> None:
    assert initials_of("Lee Jones") == "LJ"
    assert initials_of("Mary-Anne O'Neil Smith") == "MAONS"[:4]
    assert initials_of("") == "X"


def test_schedules_sort_by_producer_then_number_with_unused_last() -> None:
    refs = ["LJ/10", None, "AB/2", "LJ/2"]
    assert sorted(refs, key=reference_sort_key) == ["AB/2", "LJ/2", "LJ/10", None]


def test_only_sensitive_material_stays_inside_the_force() -> None:
    assert may_leave_the_force(Use.EXHIBIT)
    assert may_leave_the_force(Use.UNUSED_NOT_SENSITIVE)
    assert not may_leave_the_force(Use.UNUSED_SENSITIVE)
