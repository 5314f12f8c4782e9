"""Retention decided twice: as it is (the sweep's truth) and as it is seen by those who may
not know of complaint holds. Hypothesis searches for a complaint hold that shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from custody.domain.retention import (
    HoldFact,
    HoldKind,
    Redecision,
    RetentionFacts,
    redecide,
    seen,
)
from tests.unit.test_retention_rules import facts, offsets

complaint = HoldFact(77, HoldKind.COMPLAINT, concerns_officer_id=1)


def _without_complaints(f: RetentionFacts) -> RetentionFacts:
    return replace(f, holds=tuple(h for h in f.holds if h.kind is not HoldKind.COMPLAINT))


def _run(
    f: RetentionFacts, before: datetime | None, changed: timedelta, by_person: bool
) -> Redecision:
    return redecide(
        f,
        before=before,
        seen_before=before,
        decided_before=True,
        by_person=by_person,
        now=f.recorded_at + changed,
    )


@settings(max_examples=300)
@given(facts(), offsets, st.booleans(), st.booleans())
def test_what_is_seen_never_depends_on_a_complaint_hold(
    f: RetentionFacts, changed: timedelta, by_person: bool, held: bool
) -> None:
    plain = _without_complaints(f)
    with_hold = replace(plain, holds=(*plain.holds, complaint)) if held else plain
    first = _run(plain, None, changed, by_person)
    second = _run(with_hold, None, changed, by_person)
    assert first.seen == second.seen
    assert first.seen_not_before == second.seen_not_before


@settings(max_examples=300)
@given(facts(), offsets, st.booleans())
def test_without_a_complaint_hold_the_truth_is_what_is_seen(
    f: RetentionFacts, changed: timedelta, by_person: bool
) -> None:
    # A recording that never had a complaint hold was given the same notice in both worlds.
    plain = replace(_without_complaints(f), seen_not_before=f.not_before)
    result = _run(plain, plain.recorded_at + timedelta(days=40), changed, by_person)
    assert result.decision.delete_at == result.seen.delete_at
    assert result.decision.rule == result.seen.rule


@settings(max_examples=300)
@given(facts(), offsets, st.booleans())
def test_footage_never_goes_before_anyone_was_told_or_while_held(
    f: RetentionFacts, changed: timedelta, by_person: bool
) -> None:
    result = _run(f, None, changed, by_person)
    due = result.decision.delete_at
    if any(h.kind is HoldKind.COMPLAINT for h in f.holds):
        assert due is None
    if due is not None:
        for floor in (result.not_before, result.seen_not_before):
            assert floor is None or due >= floor


def test_the_seen_facts_leave_out_complaint_holds_and_their_notice() -> None:
    recorded = datetime.fromisoformat("2026-10-01T09:00:00+00:00")
    f = RetentionFacts(
        recorded_at=recorded,
        holds=(complaint, HoldFact(5, HoldKind.LEGAL)),
        not_before=recorded + timedelta(days=40),
        seen_not_before=recorded + timedelta(days=35),
    )
    shown = seen(f)
    assert shown.holds == (HoldFact(5, HoldKind.LEGAL),)
    assert shown.not_before == recorded + timedelta(days=35)
