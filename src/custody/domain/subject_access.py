"""Subject access requests: the statutory clock, as pure rules.

UK GDPR Art. 12(3) and the ICO's guidance: answer within one calendar month of receipt —
the same day of the next month, or the last day of that month when it has no such day
(received 31 January, due 28 or 29 February) — extendable by up to two further months
when the request is complex, with the reason told to the requester.
"""

from __future__ import annotations

import calendar
import enum
import math
from dataclasses import dataclass
from datetime import date

from custody.domain.errors import InvalidInput

MAX_EXTENSION_MONTHS = 2


class RedactionStatus(enum.StrEnum):
    """Where an attached recording stands before release. `PENDING` until the data protection
    officer marks it; the redaction work (issue 15, points 1 to 3) will add its own render step
    that ends in `REDACTED_COPY`."""

    PENDING = "pending"
    NO_THIRD_PARTIES = "reviewed_no_third_parties"
    REDACTED_COPY = "redacted_copy_attached"


READY = frozenset({RedactionStatus.NO_THIRD_PARTIES, RedactionStatus.REDACTED_COPY})


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months on, or the last day of that month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(received: date, extension_months: int = 0) -> date:
    """When the answer is due: one calendar month from receipt, plus any extension."""
    if not 0 <= extension_months <= MAX_EXTENSION_MONTHS:
        raise InvalidInput(f"a request may be extended by at most {MAX_EXTENSION_MONTHS} months")
    return add_months(received, 1 + extension_months)


@dataclass(frozen=True)
class Clock:
    """A request's deadline as today sees it."""

    due: date
    days_left: int  # negative once late
    late: bool


def clock(received: date, extension_months: int, today: date) -> Clock:
    """Days left until the deadline (the due day itself still counts as in time)."""
    due = due_date(received, extension_months)
    left = (due - today).days
    return Clock(due, left, left < 0)


def check_registration(received: date, today: date) -> None:
    """A request is registered on receipt: not from the future, and not already past its
    (unextended) deadline — one that late is a complaint to the ICO, not a registration."""
    if received > today:
        raise InvalidInput("a request cannot be received in the future")
    if due_date(received) < today:
        raise InvalidInput(
            f"a request received {received.isoformat()} was due {due_date(received).isoformat()}:"
            " it is past its deadline"
        )


def check_extension(current: int, months: int, reason: str) -> str:
    """An extension: one or two more months in all, with the reason told to the requester."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("an extension needs a reason (the requester is told it)")
    if months < 1 or current + months > MAX_EXTENSION_MONTHS:
        raise InvalidInput(
            f"a request may be extended by at most {MAX_EXTENSION_MONTHS} months in all"
        )
    return reason


def release_refusal(
    statuses: list[RedactionStatus], prepared_by: str, approved_by: str | None
) -> str | None:
    """Why the footage may not be released yet (None: it may)."""
    if not statuses:
        return "nothing is attached to release"
    if any(s not in READY for s in statuses):
        return "every attached recording needs reviewing or a redacted copy before release"
    if approved_by is None:
        return "a second person approves before release"
    if approved_by == prepared_by:
        return "the person who prepared the request cannot approve it"
    return None


EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)
MAX_RADIUS_M = 50_000.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def check_place(lat: float, lon: float, radius_m: float) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput("a place is a latitude in [-90, 90] and a longitude in [-180, 180]")
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise InvalidInput(f"a radius is more than 0 and at most {MAX_RADIUS_M:.0f} metres")


def passes_within(
    track: list[tuple[float, float]], lat: float, lon: float, radius_m: float
) -> bool:
    """Whether any fix of a GPS track lies within `radius_m` of the point."""
    return any(distance_m(la, lo, lat, lon) <= radius_m for la, lo in track)
