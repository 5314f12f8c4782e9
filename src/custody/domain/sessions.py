"""Sign-in rules as plain Python: when a portal session ends, when sign-ins are throttled."""

from __future__ import annotations

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
    """How failed sign-ins slow down the next try (OWASP: progressive delays, not a lock).

    The first `free` failures cost nothing; each failure after them makes the next try wait
    twice as long as the last, from `first_wait` up to `longest_wait`. The count is
    forgotten after `forget_after` without a failure, and (for an account) by a success.
    """

    free: int
    first_wait: timedelta
    longest_wait: timedelta
    forget_after: timedelta


# One person's password being guessed: few free tries, then waits that grow to 15 minutes.
ACCOUNT_THROTTLE = ThrottlePolicy(
    free=5,
    first_wait=timedelta(minutes=1),
    longest_wait=timedelta(minutes=15),
    forget_after=timedelta(hours=24),
)
# A common password sprayed from one address over many accounts. A station's officers
# share one address: its limit is far higher and its waits short, so no typist locks out
# the station (an account's own throttle still guards each password).
ADDRESS_THROTTLE = ThrottlePolicy(
    free=100,
    first_wait=timedelta(seconds=10),
    longest_wait=timedelta(minutes=1),
    forget_after=timedelta(minutes=15),
)


@dataclass(frozen=True)
class ThrottleState:
    """What the throttle remembers of one account or address."""

    failures: int = 0
    last_failure_at: datetime | None = None
    blocked_until: datetime | None = None


@dataclass(frozen=True)
class Claim:
    """May a try go ahead; if so, the state to store before checking the password (the try
    counts as a failure until it succeeds); if not, how long to wait."""

    allowed: bool
    state: ThrottleState
    retry_after: timedelta = timedelta(0)


def wait_after(failures: int, policy: ThrottlePolicy) -> timedelta:
    """How long the next try must wait after this many failures in a row."""
    if failures < policy.free:
        return timedelta(0)
    doublings = min(failures - policy.free, 20)
    return min(policy.first_wait * (1 << doublings), policy.longest_wait)


def claim_try(state: ThrottleState, now: datetime, policy: ThrottlePolicy) -> Claim:
    """Decide a sign-in try before its password is hashed.

    A refused try changes nothing (an attacker who keeps knocking does not make the wait
    longer); an allowed one is counted as a failure at once, so that parallel tries see it.
    """
    if state.blocked_until is not None and now < state.blocked_until:
        return Claim(False, state, state.blocked_until - now)
    failures = state.failures
    if state.last_failure_at is None or now - state.last_failure_at >= policy.forget_after:
        failures = 0
    failures += 1
    wait = wait_after(failures, policy)
    blocked = now + wait if wait > timedelta(0) else None
    return Claim(True, ThrottleState(failures, now, blocked))


def forgive(state: ThrottleState, policy: ThrottlePolicy, *, reset: bool) -> ThrottleState:
    """The state once a claimed try has succeeded: all forgiven (`reset`, an account), or only
    the claim itself taken back (an address, where others may be failing)."""
    if reset:
        return ThrottleState()
    failures = max(0, state.failures - 1)
    blocked = state.blocked_until if wait_after(failures, policy) > timedelta(0) else None
    return ThrottleState(failures, state.last_failure_at, blocked)
