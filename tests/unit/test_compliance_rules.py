"""Supervision's rules (`custody.domain.compliance`): what is kept on a recording's row of its
categories, and which non-evidential footage is doubtful."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custody.domain.access import AccessClass
from custody.domain.categories import CategoryRule
from custody.domain.compliance import (
    ANNOTATED,
    NEARBY_EVIDENTIAL,
    Candidate,
    Categorisation,
    categorisation,
    doubts,
)

ARREST = CategoryRule("Arrest", 2555, None, AccessClass.NORMAL, True)
ROUTINE = CategoryRule("Non-evidential", 31, None, AccessClass.NORMAL, False)
AT = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def test_footage_with_no_category_is_neither_categorised_nor_evidential() -> None:
    assert categorisation([]) == Categorisation(categorised=False, evidential=False)


def test_one_evidential_category_among_others_makes_it_evidential() -> None:
    assert categorisation([ROUTINE]) == Categorisation(categorised=True, evidential=False)
    assert categorisation([ROUTINE, ARREST]) == Categorisation(categorised=True, evidential=True)


def candidate(rid: str, minutes: int, *, annotated: bool = False) -> Candidate:
    return Candidate(rid, 7, AT + timedelta(minutes=minutes), annotated, categorised=True)


def test_routine_footage_within_two_hours_of_the_officers_arrest_is_doubtful() -> None:
    found = doubts(
        [candidate("near", 119), candidate("far", 121), candidate("noted", 300, annotated=True)],
        [(7, AT)],
    )
    assert {rid: doubt.why for rid, doubt in found.items()} == {
        "near": NEARBY_EVIDENTIAL,
        "noted": ANNOTATED,
    }


def test_another_officers_arrest_casts_no_doubt() -> None:
    assert doubts([candidate("mine", 10)], [(8, AT)]) == {}
