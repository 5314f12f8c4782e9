"""What changing a category's retention would do, before anyone saves it.

An administrator who shortens "Arrest" from seven years to one must see first how many
recordings would go sooner, and how many would fall within the pending notice at once.
These are pure functions: the facts of each recording in, the shift of its deletion
date out. The save itself (`services.evidence.categories.update_category`) decides again
with the same `redecide`, so the preview and the save cannot disagree on a recording.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from custody.domain.categories import CategoryRule
from custody.domain.clock import as_utc
from custody.domain.retention import (
    PENDING_NOTICE,
    Redecision,
    RetentionFacts,
    redecide,
)


class Shift(enum.StrEnum):
    """How one recording's deletion date moves."""

    UNCHANGED = "unchanged"
    EARLIER = "earlier"  # deleted sooner, but not within the pending notice
    DUE_NOW = "due_now"  # brought within the pending notice: deleted within 7 days
    LATER = "later"  # kept longer (or until manually deleted)


def shift_of(before: datetime | None, after: datetime | None, now: datetime) -> Shift:
    """How a deletion date moves from `before` to `after` (None: never deleted)."""
    if before is None and after is None:
        return Shift.UNCHANGED
    if after is None:
        return Shift.LATER
    if before is not None and as_utc(after) == as_utc(before):
        return Shift.UNCHANGED
    if before is not None and as_utc(after) > as_utc(before):
        return Shift.LATER
    if as_utc(after) - PENDING_NOTICE <= as_utc(now):
        return Shift.DUE_NOW
    return Shift.EARLIER


def with_rule(facts: RetentionFacts, old_name: str, rule: CategoryRule) -> RetentionFacts:
    """The facts as they would be once the category named `old_name` follows `rule`."""
    return replace(
        facts,
        categories=tuple(rule if c.name == old_name else c for c in facts.categories),
    )


def redecide_with(
    facts: RetentionFacts,
    old_name: str,
    rule: CategoryRule,
    *,
    before: datetime | None,
    seen_before: datetime | None,
    decided_before: bool,
    now: datetime,
) -> Redecision:
    """The decision a change of category would make, as the save would make it."""
    return redecide(
        with_rule(facts, old_name, rule),
        before=before,
        seen_before=seen_before,
        decided_before=decided_before,
        by_person=True,
        now=now,
    )


@dataclass(frozen=True)
class ShiftTally:
    """How many recordings' dates move which way."""

    unchanged: int = 0
    earlier: int = 0
    due_now: int = 0
    later: int = 0

    @property
    def examined(self) -> int:
        return self.unchanged + self.earlier + self.due_now + self.later

    @property
    def moved(self) -> int:
        return self.earlier + self.due_now + self.later


def tally(shifts: Iterable[Shift]) -> ShiftTally:
    """Count shifts by kind."""
    counts = Counter(shifts)
    return ShiftTally(
        unchanged=counts[Shift.UNCHANGED],
        earlier=counts[Shift.EARLIER],
        due_now=counts[Shift.DUE_NOW],
        later=counts[Shift.LATER],
    )
