"""Supervision's rules, as pure functions: which non-evidential footage is doubtful.

Waukesha (US): use-of-force footage tagged as a routine crash was deleted before trial.
A recording its officer called non-evidential is doubtful when something says otherwise:
a note or bookmark on it, or the same officer's footage of the same incident (recorded
within `INCIDENT` of it) carrying an evidential category such as stop and search or arrest.
Doubtful footage is not signed off in bulk: a person looks at each.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from custody.domain.categories import CategoryRule

INCIDENT = timedelta(hours=2)
# A supervisor signs off what falls due within this long; the page warns of it.
DUE_SOON = timedelta(days=7)
# Why a recording is doubtful (the first that holds).
NEARBY_EVIDENTIAL = "the officer's footage of the same incident is evidential"
ANNOTATED = "it has a note or bookmark"


@dataclass(frozen=True)
class Candidate:
    """A recording its officer categorised as non-evidential (or left uncategorised)."""

    recording_id: str
    officer_id: int
    started_at: datetime
    annotated: bool
    categorised: bool


@dataclass(frozen=True)
class Doubt:
    recording_id: str
    why: str


def doubts(
    candidates: Iterable[Candidate], evidential: Iterable[tuple[int, datetime]]
) -> dict[str, Doubt]:
    """The doubtful ones among `candidates`, given when each officer recorded evidential
    footage (`(officer_id, started_at)`), with why each is doubtful."""
    times: dict[int, list[datetime]] = defaultdict(list)
    for officer_id, started_at in evidential:
        times[officer_id].append(started_at)
    for found in times.values():
        found.sort()
    result: dict[str, Doubt] = {}
    for candidate in candidates:
        if not candidate.categorised:
            continue  # uncategorised is its own count, not a doubtful categorisation
        nearby = times.get(candidate.officer_id, [])
        at = bisect_left(nearby, candidate.started_at - INCIDENT)
        if at < len(nearby) and nearby[at] <= candidate.started_at + INCIDENT:
            result[candidate.recording_id] = Doubt(candidate.recording_id, NEARBY_EVIDENTIAL)
        elif candidate.annotated:
            result[candidate.recording_id] = Doubt(candidate.recording_id, ANNOTATED)
    return result


@dataclass(frozen=True)
class Categorisation:
    """What supervision counts of a recording's categories, kept on its row."""

    categorised: bool  # it has a category, whichever
    evidential: bool  # one of them is evidential: it is not doubtful, and needs no sign-off


def categorisation(categories: Iterable[CategoryRule]) -> Categorisation:
    """Whether a recording with these categories is categorised, and evidential."""
    given = list(categories)
    return Categorisation(bool(given), any(c.evidential for c in given))


def rate(part: int, whole: int) -> float | None:
    """A share as a fraction, or None when there is nothing to share."""
    return None if whole == 0 else part / whole
