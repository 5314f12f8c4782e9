"""Bounded exponential backoff with jitter, and a counter of failures in a row.

The cap is short on purpose: a dock waiting out a restart must be back within a few
seconds of the server's return, so no single wait is long. Patience comes from the
number of attempts instead, and a server that answers again (even a HEAD) starts the
delays over from the shortest.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from custody.dock.errors import GaveUp, Stopped, Transient

# The agent's and `custody dock`'s defaults: waits of 0.5, 1, 2, then 4 s (less jitter),
# about a minute in all before a recording waits for a later pass.
RETRY_BASE = 0.5
RETRY_CAP = 4.0
RETRY_ATTEMPTS = 20


@dataclass(frozen=True)
class Backoff:
    """How long to wait after the n-th failure in a row, and how many to tolerate."""

    base: float = RETRY_BASE
    cap: float = RETRY_CAP
    attempts: int = RETRY_ATTEMPTS
    # The share of each delay that is random: docks that lost the server together must not
    # all come back in the same instant.
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < self.base:
            raise ValueError("backoff needs 0 <= base <= cap")
        if self.attempts < 1:
            raise ValueError("backoff needs at least one attempt")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter is a fraction from 0 to 1")

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after `failures` failures in a row: never more than `cap`."""
        # min() before the power would overflow for absurd counts; the exponent is capped too.
        ceiling = min(self.cap, self.base * 2.0 ** min(max(failures - 1, 0), 62))
        return ceiling * (1.0 - self.jitter * (rng or random).random())


@dataclass
class Attempts:
    """Failures in a row of one piece of work; progress resets the count."""

    backoff: Backoff
    stop: threading.Event
    # Told of every failure that will be retried, so that a flaky link shows in the log.
    notify: Callable[[str], None] | None = None
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0
    last_error: str = ""
    # What the next delay grows with: failures since the server last answered after being
    # unreachable or busy, or since progress.
    streak: int = 0
    unreachable: bool = False

    def failed(self, error: BaseException, *, pause: bool = True) -> None:
        """Count a failure; wait before the next try, or raise GaveUp when the budget is spent."""
        self.failures += 1
        self.streak += 1
        self.unreachable = isinstance(error, Transient)
        self.last_error = str(error) or type(error).__name__
        if self.failures >= self.backoff.attempts:
            what = "server unreachable or unavailable" if self.unreachable else "no progress"
            raise GaveUp(
                f"{what}: {self.failures} attempts in a row failed (last: {self.last_error})"
            ) from error
        delay = self.backoff.delay(self.streak, self.rng) if pause else 0.0
        if self.notify is not None:
            when = f"in {delay:.1f} s" if pause else "now"
            self.notify(
                f"{self.last_error}; try {self.failures + 1} of {self.backoff.attempts} {when}"
            )
        if pause and self.stop.wait(delay):
            raise Stopped("stopped while waiting to retry")
        self.check_stop()

    def answered(self) -> None:
        """The server answered a request: if it was unreachable, it is back.

        The next failure then waits the shortest delay again, but still counts toward the
        budget (only progress resets that): a server that answers a HEAD and drops every
        PATCH is not retried for ever.
        """
        if self.unreachable:
            self.streak = 0
            self.unreachable = False

    def succeeded(self) -> None:
        """Progress was made: the next failure starts a fresh count."""
        self.failures = 0
        self.streak = 0
        self.unreachable = False

    def check_stop(self) -> None:
        """Raise Stopped if the agent is stopping."""
        if self.stop.is_set():
            raise Stopped("stopped")
