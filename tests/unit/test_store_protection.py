"""Object Lock from retention decisions (domain.retention.store_protection): COMPLIANCE never
outlasts the earliest date any rule could make footage due; a legal hold keeps the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from custody.domain.retention import (
    LOCK_MARGIN,
    PENDING_NOTICE,
    notice_floor,
    planned_limit,
    store_protection,
)

DAY = timedelta(days=1)
RECORDED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BASELINE = planned_limit(RECORDED)


def test_new_footage_is_locked_until_its_baseline_and_not_held() -> None:
    now = RECORDED + timedelta(hours=2)
    protection = store_protection(BASELINE, RECORDED, now)
    assert protection.keep_for == BASELINE - now
    assert protection.hold is False


def test_kept_footage_is_held_and_locked_only_as_far_as_a_change_could_reach() -> None:
    early = store_protection(None, RECORDED, RECORDED + 3 * DAY)
    assert early.hold is True and early.keep_for == BASELINE - (RECORDED + 3 * DAY)
    later = RECORDED + 200 * DAY
    kept = store_protection(None, RECORDED, later)
    assert kept.hold is True and kept.keep_for == PENDING_NOTICE - LOCK_MARGIN


def test_footage_due_within_reach_is_locked_until_then_and_not_held() -> None:
    now = RECORDED + 200 * DAY
    due = now + 3 * DAY
    protection = store_protection(due, RECORDED, now)
    assert protection.keep_for == 3 * DAY and protection.hold is False
    far = store_protection(now + 400 * DAY, RECORDED, now)
    assert far.hold is True and far.keep_for == PENDING_NOTICE - LOCK_MARGIN
    assert store_protection(now - DAY, RECORDED, now).keep_for == timedelta(0)


@given(
    age=st.integers(min_value=0, max_value=3000 * 24),
    due_after=st.none() | st.integers(min_value=0, max_value=4000 * 24),
    change_after=st.integers(min_value=0, max_value=400 * 24),
)
def test_compliance_never_outlasts_a_deletion_any_later_change_could_make_due(
    age: int, due_after: int | None, change_after: int
) -> None:
    now = RECORDED + timedelta(hours=age)
    # A decision is never earlier than the baseline (rule 3).
    due = None if due_after is None else BASELINE + timedelta(hours=due_after)
    protection = store_protection(due, RECORDED, now)
    locked_until = now + protection.keep_for
    # The earliest a person's change at any later moment could make it due (rule 4) ...
    changed_at = now + timedelta(hours=change_after)
    earliest = max(BASELINE, notice_floor(changed_at, RECORDED))
    # ... and the date already decided: COMPLIANCE ends by both (or has nothing to do).
    assert protection.keep_for == timedelta(0) or locked_until <= earliest
    if due is not None:
        assert protection.keep_for == timedelta(0) or locked_until <= max(due, now)
    # Whatever COMPLIANCE does not cover, the legal hold does.
    if due is None or due > locked_until:
        assert protection.hold is True
