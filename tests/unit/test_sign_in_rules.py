"""Session expiry and sign-in throttling, as plain rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custody.domain.sessions import (
    SessionPolicy,
    ThrottlePolicy,
    needs_touch,
    session_ends_at,
    session_expired,
    sign_in_throttle,
)

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
POLICY = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
THROTTLE = ThrottlePolicy(window=timedelta(minutes=15), per_account=5, per_address=20)


def test_a_session_ends_after_half_an_hour_idle() -> None:
    assert not session_expired(T0, T0, T0 + timedelta(minutes=29), POLICY)
    assert session_expired(T0, T0, T0 + timedelta(minutes=30), POLICY)


def test_a_session_in_use_still_ends_after_a_shift() -> None:
    later = T0 + timedelta(hours=11, minutes=50)
    assert not session_expired(T0, later, later + timedelta(minutes=5), POLICY)
    assert session_expired(T0, later, T0 + timedelta(hours=12), POLICY)
    assert session_ends_at(T0, later, POLICY) == T0 + timedelta(hours=12)


def test_activity_is_written_down_at_most_once_a_minute() -> None:
    assert not needs_touch(T0, T0 + timedelta(seconds=59), POLICY)
    assert needs_touch(T0, T0 + timedelta(minutes=1), POLICY)


def test_five_failures_for_an_account_lock_it_until_the_oldest_leaves_the_window() -> None:
    failures = [T0 + timedelta(minutes=m) for m in range(5)]
    now = T0 + timedelta(minutes=5)
    assert sign_in_throttle(failures[:4], [], now, THROTTLE).allowed
    verdict = sign_in_throttle(failures, [], now, THROTTLE)
    assert not verdict.allowed and verdict.retry_after == timedelta(minutes=10)
    assert sign_in_throttle(failures, [], T0 + timedelta(minutes=15), THROTTLE).allowed


def test_failures_from_one_address_over_many_accounts_are_throttled_too() -> None:
    spray = [T0 + timedelta(seconds=s) for s in range(20)]
    assert not sign_in_throttle([], spray, T0 + timedelta(minutes=1), THROTTLE).allowed
    assert sign_in_throttle([], spray[:19], T0 + timedelta(minutes=1), THROTTLE).allowed
