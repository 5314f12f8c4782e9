"""The one clock every time-based decision reads, so tests can set it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """Wall-clock time, optionally shifted (for demos and time-travel runs of a whole server)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class ManualClock:
    """A clock that moves only when told to: for tests."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = as_utc(when)

    def advance(self, by: timedelta) -> None:
        with self._lock:
            self._now += by


# Every time Custody takes in lies within these: no camera recorded before 1900, and after
# 2999 there is still room to add centuries of retention without passing datetime.max.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
TIME_RANGE = f"must be a time from {EARLIEST.year} to {LATEST.year} (UTC)"


def as_utc(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC (SQLite hands them back naive)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def isoformat(when: datetime) -> str:
    """ISO 8601 in UTC with a Z, the form used on the wire and in signed documents."""
    return as_utc(when).isoformat().replace("+00:00", "Z")


def within_range(when: datetime) -> bool:
    """Whether a time lies from EARLIEST to LATEST: one that does not cannot be said in UTC
    (year 1 at +14:00), or leaves no room for the arithmetic of retention."""
    try:
        return EARLIEST <= as_utc(when) <= LATEST
    except OverflowError:
        return False


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time; a time without a zone is UTC. ValueError for one that is not
    a time or lies outside EARLIEST..LATEST."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if not within_range(parsed):
        raise ValueError(f"{text} is not a time from {EARLIEST.year} to {LATEST.year}")
    return as_utc(parsed)
