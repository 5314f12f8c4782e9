"""When must a recording be deleted? One pure function answers, from the facts about it.

Rules, strongest first (docs/retention.md explains each):

1. A hold (legal or complaint), an open case or an evidence flag keeps a recording:
   it is never due.
2. Otherwise each category gives a date (recorded at + its retention) or keeps it
   until manually deleted; a closed case gives its disposal date or keeps it. The
   longest wins, so adding a category can never shorten retention.
3. Non-evidential categories, and footage with no category, are due at recorded at
   + 31 days - SWEEP_MARGIN: the hourly sweep then has a day of attempts before the
   31-day limit, so a late or failed sweep still deletes in time. That date is also
   the baseline: no rule makes anything due earlier.
4. A change by a person that brings a deletion forward cannot bring it closer than
   the pending notice (7 days) after the change, so an officer, a supervisor and an
   administrator see it pending first; in a recording's first 31 days that notice
   is cut short at the 31-day limit, which always wins.

The sweep selects by the date this function returns (kept, denormalised, on the
recording) and asks it again, on fresh facts, before deleting anything.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from custody.domain.categories import NON_EVIDENTIAL_LIMIT_DAYS, CategoryRule
from custody.domain.clock import as_utc, isoformat

# The state of a recording whose footage the sweep has deleted (a tombstone remains).
DELETED = "deleted"

STATUTORY_LIMIT = timedelta(days=NON_EVIDENTIAL_LIMIT_DAYS)
# Plan non-evidential deletions this long before the limit: 24 hourly sweeps of slack.
SWEEP_MARGIN = timedelta(days=1)
# How long before its deletion a recording shows as pending (and may be restored).
PENDING_NOTICE = timedelta(days=7)
# Retained footage with no review period of its own is reviewed yearly (MoPI style).
DEFAULT_REVIEW = timedelta(days=365)

CERTIFICATE_FORMAT = "custody-deletion-certificate/1"


class HoldKind(enum.StrEnum):
    LEGAL = "legal"
    COMPLAINT = "complaint"


@dataclass(frozen=True)
class CaseFact:
    """A case the recording is in: open cases keep it; closed ones apply their disposal."""

    case_id: int
    reference: str
    closed_at: datetime | None = None
    # After closure: kept this many days more, or None to keep until manually deleted.
    disposal_days: int | None = None


@dataclass(frozen=True)
class HoldFact:
    """An active (not lifted) hold on the recording."""

    hold_id: int
    kind: HoldKind
    concerns_officer_id: int | None = None


@dataclass(frozen=True)
class RetentionFacts:
    """Everything that decides a recording's retention."""

    recorded_at: datetime
    categories: tuple[CategoryRule, ...] = ()
    evidence_flags: int = 0  # active flags
    cases: tuple[CaseFact, ...] = ()
    holds: tuple[HoldFact, ...] = ()  # active holds only
    # No deletion before this: the pending notice after a change that brought it forward.
    not_before: datetime | None = None
    last_reviewed_at: datetime | None = None
    # The notice as those who may not know of complaint holds were given it (see `seen`).
    seen_not_before: datetime | None = None


@dataclass(frozen=True)
class RetentionDecision:
    """When the recording must go (None: the sweep never deletes it), and why."""

    delete_at: datetime | None
    rule: str  # short and stable: "hold:legal", "category:Arrest", "uncategorised", ...
    reason: str  # a sentence for people
    review_at: datetime | None = None

    @property
    def kept(self) -> bool:
        return self.delete_at is None

    def is_due(self, now: datetime) -> bool:
        return self.delete_at is not None and self.delete_at <= now

    def is_pending(self, now: datetime) -> bool:
        """Due within the pending notice, but not yet deleted."""
        return self.delete_at is not None and self.delete_at - PENDING_NOTICE <= now


def planned_limit(recorded_at: datetime) -> datetime:
    """When footage that is not evidence is due: the 31-day limit less the sweep margin."""
    return as_utc(recorded_at) + STATUTORY_LIMIT - SWEEP_MARGIN


def notice_floor(changed_at: datetime, recorded_at: datetime) -> datetime:
    """The earliest deletion after a change that brought it forward (rule 4)."""
    floor = as_utc(changed_at) + PENDING_NOTICE
    limit = planned_limit(recorded_at)
    if as_utc(changed_at) <= limit:
        # In its first 31 days a recording gets the notice only up to the limit.
        return min(floor, limit)
    return floor


def _category_date(category: CategoryRule, recorded_at: datetime) -> datetime | None:
    if category.retention_days is None:
        return None
    due = recorded_at + timedelta(days=category.retention_days)
    if not category.evidential:
        # Defence in depth: a non-evidential category never keeps footage past the limit,
        # whatever its row says.
        due = min(due, planned_limit(recorded_at))
    return due


def _review_at(facts: RetentionFacts, delete_at: datetime | None) -> datetime | None:
    periods = [c.review_days for c in facts.categories if c.review_days is not None]
    period = timedelta(days=min(periods)) if periods else DEFAULT_REVIEW
    review = as_utc(facts.last_reviewed_at or facts.recorded_at) + period
    if delete_at is not None and delete_at <= review:
        return None  # it goes before anyone need review it
    return review


def decide_retention(facts: RetentionFacts) -> RetentionDecision:
    """The retention decision for one recording: when it is due, or that it is kept."""
    recorded_at = as_utc(facts.recorded_at)
    decision = _decide(facts, recorded_at)
    return replace(decision, review_at=_review_at(facts, decision.delete_at))


def _decide(facts: RetentionFacts, recorded_at: datetime) -> RetentionDecision:
    for kind in (HoldKind.LEGAL, HoldKind.COMPLAINT):
        if any(h.kind is kind for h in facts.holds):
            return RetentionDecision(None, f"hold:{kind.value}", f"a {kind.value} hold keeps it")
    open_cases = sorted(c.reference for c in facts.cases if c.closed_at is None)
    if open_cases:
        return RetentionDecision(None, "case:open", f"it is in open case {', '.join(open_cases)}")
    if facts.evidence_flags > 0:
        return RetentionDecision(None, "evidence", "it is flagged as evidence")

    # Each category and closed case proposes a date (None: keep); the longest wins.
    proposals: list[tuple[datetime | None, str, str]] = []
    for category in sorted(facts.categories, key=lambda c: c.name):
        due = _category_date(category, recorded_at)
        if due is None:
            reason = f"category {category.name} keeps it until manually deleted"
        else:
            reason = f"category {category.name} keeps it until {isoformat(due)}"
        proposals.append((due, f"category:{category.name}", reason))
    for case in sorted(facts.cases, key=lambda c: c.reference):
        if case.closed_at is None:
            continue  # open cases kept it above
        if case.disposal_days is None:
            due, reason = None, f"closed case {case.reference} keeps it until manually deleted"
        else:
            due = as_utc(case.closed_at) + timedelta(days=case.disposal_days)
            reason = f"closed case {case.reference} keeps it until {isoformat(due)}"
        proposals.append((due, f"case:closed:{case.reference}", reason))
    kept = [p for p in proposals if p[0] is None]
    if kept:
        _, rule, reason = kept[0]
        return RetentionDecision(None, rule, reason)
    # The 31-day rule is the baseline under every other rule: nothing is due before it, so
    # that adding a category (or closing a case early) never shortens retention.
    baseline = planned_limit(recorded_at)
    due, rule, reason = (
        baseline,
        "uncategorised",
        f"uncategorised footage goes by {isoformat(baseline)}",
    )
    if proposals:
        longest = max(proposals, key=lambda p: (p[0] or baseline, p[1]))
        if longest[0] is not None and longest[0] >= baseline:
            due, rule, reason = longest[0], longest[1], longest[2]
        else:
            rule, reason = "31-day rule", f"the 31-day rule keeps it until {isoformat(baseline)}"
    if facts.not_before is not None and as_utc(facts.not_before) > due:
        floor = as_utc(facts.not_before)
        return RetentionDecision(
            floor,
            f"notice:{rule}",
            f"{reason}; after a recent change, not before {isoformat(floor)}",
        )
    return RetentionDecision(due, rule, reason)


def days_left(delete_due_at: datetime | None, now: datetime) -> int | None:
    """Whole days before the sweep would delete it (None: it is kept)."""
    if delete_due_at is None:
        return None
    return max(0, (delete_due_at - now).days)


def brings_forward(before: datetime | None, after: datetime | None) -> bool:
    """Does a change move the deletion earlier (None means never)?"""
    if after is None:
        return False
    return before is None or after < before


def seen(facts: RetentionFacts) -> RetentionFacts:
    """The facts as everyone who may not know of complaints knows them: no complaint holds,
    and only the notice that their world gave. The officer under complaint, their team and
    their cases' investigators see the decision they would see if there were no complaint."""
    return replace(
        facts,
        holds=tuple(h for h in facts.holds if h.kind is not HoldKind.COMPLAINT),
        not_before=facts.seen_not_before,
    )


@dataclass(frozen=True)
class Redecision:
    """A recording's retention decided again, as it is and as it is seen."""

    decision: RetentionDecision
    seen: RetentionDecision
    not_before: datetime | None
    seen_not_before: datetime | None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(as_utc(a), as_utc(b))


def redecide(
    facts: RetentionFacts,
    *,
    before: datetime | None,
    seen_before: datetime | None,
    decided_before: bool,
    by_person: bool,
    now: datetime,
) -> Redecision:
    """Decide again after a change, twice: as it is (the sweep's truth) and as it is seen.

    A change by a person that brings a deletion forward gets the pending notice (rule 4),
    in each world separately: the seen world's notice is what its people were told, so that
    nothing they see changes when a complaint hold comes or goes. The real decision honours
    both notices, so footage never goes earlier than anyone was told.
    """
    seen_floor = facts.seen_not_before
    shown = decide_retention(seen(facts))
    if by_person and decided_before and brings_forward(seen_before, shown.delete_at):
        seen_floor = _later(seen_floor, notice_floor(now, facts.recorded_at))
        shown = decide_retention(replace(seen(facts), not_before=seen_floor))
    floor = facts.not_before
    real = replace(facts, not_before=_later(floor, seen_floor))
    decision = decide_retention(real)
    if by_person and decided_before and brings_forward(before, decision.delete_at):
        floor = _later(floor, notice_floor(now, facts.recorded_at))
        decision = decide_retention(replace(real, not_before=_later(floor, seen_floor)))
    return Redecision(decision, shown, floor, seen_floor)


def deletion_certificate(
    *,
    recording_id: str,
    sha256: str,
    size: int,
    recorded_at: datetime,
    deleted_at: datetime,
    decision: RetentionDecision,
    categories: tuple[str, ...],
    objects: tuple[str, ...],
    camera: str | None,
    officer: str | None,
    keys_destroyed: tuple[str, ...] = (),
    clips: tuple[str, ...] = (),
    redactions: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The unsigned deletion certificate: what went, when, and under which rule.

    `keys_destroyed` names the objects whose data key was destroyed with the deletion: every
    copy of their bytes (a backup included) is unreadable from then on. `clips` and
    `redactions` name the copies made from the recording that went with it (their objects
    are among `objects`)."""
    return {
        "format": CERTIFICATE_FORMAT,
        "recording_id": recording_id,
        "sha256": sha256,
        "size": size,
        "recorded_at": isoformat(recorded_at),
        "deleted_at": isoformat(deleted_at),
        "due_at": isoformat(decision.delete_at) if decision.delete_at else None,
        "rule": decision.rule,
        "reason": decision.reason,
        "categories": sorted(categories),
        "objects": sorted(set(objects)),
        "camera": camera,
        "officer": officer,
        "data_keys_destroyed": sorted(set(keys_destroyed)),
        "clips": sorted(set(clips)),
        "redactions": sorted(set(redactions)),
    }


# Object Lock (docs/storage.md): the store's own clock may run a little apart from ours.
LOCK_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class StoreProtection:
    """What the object store itself is asked to enforce for a recording's footage."""

    keep_for: timedelta  # COMPLIANCE retention from now: nobody can delete before it ends
    hold: bool  # legal hold: kept beyond that, until Custody lifts it


def store_protection(
    delete_at: datetime | None, recorded_at: datetime, now: datetime
) -> StoreProtection:
    """COMPLIANCE retention up to the earliest date any rule could still make it due,
    legal hold for whatever Custody keeps beyond that (docs/storage.md).

    No rule makes footage due before the 31-day baseline (`planned_limit`), and a change
    by a person cannot bring a deletion closer than `notice_floor` after now; so until
    then, less a day for the store's clock, deletion can never fall due: COMPLIANCE
    retention (which nobody can shorten) costs nothing there. Beyond it a category can be
    shortened or a hold lifted, so a legal hold keeps the rest, and Custody lifts it.
    """
    baseline = planned_limit(recorded_at)
    earliest = notice_floor(now, recorded_at) - LOCK_MARGIN
    until = earliest if delete_at is None else min(as_utc(delete_at), earliest)
    until = max(until, baseline)
    hold = delete_at is None or as_utc(delete_at) > until
    return StoreProtection(max(until - as_utc(now), timedelta(0)), hold)
