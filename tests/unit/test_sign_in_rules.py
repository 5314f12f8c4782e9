"""Session expiry and sign-in throttling (progressive waits), as plain rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custody.domain.sessions import (
    ACCOUNT_THROTTLE,
    ADDRESS_THROTTLE,
    Claim,
    SessionPolicy,
    ThrottlePolicy,
    ThrottleState,
    claim_try,
    forgive,
    needs_touch,
    session_ends_at,
    session_expired,
    wait_after,
)

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
POLICY = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


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


def tries(count: int, policy: ThrottlePolicy, state: ThrottleState = ThrottleState()) -> Claim:
    """`count` tries one after another, each as soon as the last one allows."""
    now = T0
    made = Claim(True, state)
    for _ in range(count):
        made = claim_try(made.state, now, policy)
        assert made.allowed
        now = made.state.blocked_until or now
    return made


def test_five_failures_cost_nothing_then_each_doubles_the_wait_up_to_a_quarter_hour() -> None:
    assert [wait_after(n, ACCOUNT_THROTTLE) for n in range(4, 12)] == [
        timedelta(0),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=15),
        timedelta(minutes=15),
        timedelta(minutes=15),
    ]
    assert wait_after(10_000, ACCOUNT_THROTTLE) == timedelta(minutes=15)


def test_a_try_is_counted_before_its_password_is_checked() -> None:
    fifth = tries(5, ACCOUNT_THROTTLE).state
    assert fifth.failures == 5 and fifth.blocked_until == T0 + timedelta(minutes=1)
    refused = claim_try(fifth, T0 + timedelta(seconds=20), ACCOUNT_THROTTLE)
    assert not refused.allowed and refused.retry_after == timedelta(seconds=40)
    # Knocking while refused changes nothing: the wait does not grow with it.
    assert refused.state == fifth


def test_failures_are_forgotten_after_a_quiet_day_or_a_success() -> None:
    state = tries(7, ACCOUNT_THROTTLE).state
    later = (state.blocked_until or T0) + timedelta(hours=24)
    assert claim_try(state, later, ACCOUNT_THROTTLE).state.failures == 1
    assert forgive(state, ACCOUNT_THROTTLE, reset=True) == ThrottleState()


def test_an_address_only_takes_back_the_successful_try() -> None:
    state = tries(3, ADDRESS_THROTTLE).state
    assert forgive(state, ADDRESS_THROTTLE, reset=False).failures == 2
    sprayed = tries(ADDRESS_THROTTLE.free, ADDRESS_THROTTLE).state
    assert sprayed.blocked_until is not None
    assert sprayed.blocked_until - (sprayed.last_failure_at or T0) <= timedelta(minutes=1)
