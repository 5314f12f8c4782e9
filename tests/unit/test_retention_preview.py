"""How a category's new retention moves one recording's deletion date: pure, as the preview
counts it and the save decides it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custody.domain.categories import CategoryRule
from custody.domain.retention import HoldFact, HoldKind, RetentionFacts, decide_retention
from custody.domain.retention_preview import Shift, redecide_with, shift_of, tally

NOW = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
YEAR = CategoryRule(name="Arrest", retention_days=365, review_days=None)


def test_a_date_moves_earlier_later_within_the_notice_or_not_at_all() -> None:
    assert shift_of(NOW + 100 * DAY, NOW + 50 * DAY, NOW) is Shift.EARLIER
    assert shift_of(NOW + 100 * DAY, NOW + 6 * DAY, NOW) is Shift.DUE_NOW
    assert shift_of(NOW + 100 * DAY, NOW + 7 * DAY, NOW) is Shift.DUE_NOW
    assert shift_of(NOW + 100 * DAY, NOW + 8 * DAY, NOW) is Shift.EARLIER
    assert shift_of(NOW + 100 * DAY, NOW + 200 * DAY, NOW) is Shift.LATER
    assert shift_of(NOW + 100 * DAY, None, NOW) is Shift.LATER
    assert shift_of(None, NOW + 100 * DAY, NOW) is Shift.EARLIER
    assert shift_of(None, None, NOW) is Shift.UNCHANGED
    assert shift_of(NOW + DAY, NOW + DAY, NOW) is Shift.UNCHANGED


def _change(facts: RetentionFacts, days: int | None, now: datetime) -> Shift:
    before = decide_retention(facts).delete_at
    rule = CategoryRule(name="Arrest", retention_days=days, review_days=None)
    result = redecide_with(
        facts, "Arrest", rule, before=before, seen_before=before, decided_before=True, now=now
    )
    return shift_of(before, result.decision.delete_at, now)


def test_a_shorter_retention_is_announced_before_it_deletes_and_a_hold_wins() -> None:
    recorded = NOW - 200 * DAY
    facts = RetentionFacts(recorded_at=recorded, categories=(YEAR,))
    assert _change(facts, 300, NOW) is Shift.EARLIER
    # A year down to 31 days, 200 days after recording: due at once, so after the notice.
    assert _change(facts, 31, NOW) is Shift.DUE_NOW
    assert _change(facts, 730, NOW) is Shift.LATER
    assert _change(facts, None, NOW) is Shift.LATER
    held = RetentionFacts(
        recorded_at=recorded, categories=(YEAR,), holds=(HoldFact(1, HoldKind.LEGAL),)
    )
    assert _change(held, 31, NOW) is Shift.UNCHANGED


def test_the_longest_category_still_wins() -> None:
    longer = CategoryRule(name="Homicide", retention_days=3650, review_days=None)
    facts = RetentionFacts(recorded_at=NOW - 10 * DAY, categories=(YEAR, longer))
    assert _change(facts, 31, NOW) is Shift.UNCHANGED


def test_shifts_are_counted_by_kind() -> None:
    counted = tally([Shift.EARLIER, Shift.EARLIER, Shift.LATER, Shift.UNCHANGED, Shift.DUE_NOW])
    assert (counted.earlier, counted.later, counted.unchanged, counted.due_now) == (2, 1, 1, 1)
    assert counted.examined == 5 and counted.moved == 4
