"""Sign-in rules as plain Python: when a portal session ends, when sign-ins are throttled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SessionPolicy:
    """How long a portal session lasts."""

    # Signed out after this long without a request: an unattended screen in a station.
    idle: timedelta = timedelta(minutes=30)
    # Signed out after this long whatever happens: about one shift.
    absolute: timedelta = timedelta(hours=12)
    # Record activity at most this often, so that reading a page is not a write every time.
    touch_every: timedelta = timedelta(minutes=1)


def session_ends_at(
    created_at: datetime, last_seen_at: datetime, policy: SessionPolicy
) -> datetime:
    """When a session ends unless it is used again: idle timeout or absolute limit."""
    return min(created_at + policy.absolute, last_seen_at + policy.idle)


def session_expired(
    created_at: datetime, last_seen_at: datetime, now: datetime, policy: SessionPolicy
) -> bool:
    """True once the session has been idle too long or has lived too long."""
    return now >= session_ends_at(created_at, last_seen_at, policy)


def needs_touch(last_seen_at: datetime, now: datetime, policy: SessionPolicy) -> bool:
    """True when the session's last activity is stale enough to be worth a write."""
    return now - last_seen_at >= policy.touch_every


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failed sign-ins, in what window, before sign-in is refused for a while."""

    window: timedelta = timedelta(minutes=15)
    # Failures for one account (since its last success): guessing one person's password.
    per_account: int = 5
    # Failures from one address: spraying a common password over many accounts.
    per_address: int = 20


@dataclass(frozen=True)
class Throttle:
    allowed: bool
    retry_after: timedelta = timedelta(0)


def sign_in_throttle(
    account_failures: Sequence[datetime],
    address_failures: Sequence[datetime],
    now: datetime,
    policy: ThrottlePolicy,
) -> Throttle:
    """May a sign-in be tried now, given the recent failures for its account and its address?

    Only failures inside the window count; throttled attempts are not failures, so
    that an attacker who keeps trying cannot keep the real person locked out forever.
    """
    waits = [
        _wait(account_failures, policy.per_account, now, policy.window),
        _wait(address_failures, policy.per_address, now, policy.window),
    ]
    longest = max(waits)
    if longest > timedelta(0):
        return Throttle(False, longest)
    return Throttle(True)


def _wait(failures: Sequence[datetime], limit: int, now: datetime, window: timedelta) -> timedelta:
    recent = sorted((at for at in failures if now - at < window), reverse=True)
    if len(recent) < limit:
        return timedelta(0)
    # Allowed again once the limit-th most recent failure leaves the window.
    return recent[limit - 1] + window - now
