"""The facts that decide a recording's retention, and their recomputation.

Every change that can move a recording's deletion date locks the recording row first
(so the sweep, which locks it too, sees either the whole change or none of it) and
recomputes `delete_due_at` with `custody.domain.retention` in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from custody.db.lists import among
from custody.db.models import Recording
from custody.db.models.lifecycle import (
    Case,
    CaseRecording,
    Category,
    EvidenceFlag,
    Hold,
    RecordingCategory,
)
from custody.domain.categories import (
    CategoryRule,
    access_class_of,
    parse_access_class,
)
from custody.domain.clock import isoformat
from custody.domain.compliance import categorisation
from custody.domain.retention import (
    DELETED,
    CaseFact,
    HoldFact,
    HoldKind,
    RetentionDecision,
    RetentionFacts,
    redecide,
)
from custody.services.retention.locks import follow, mark_pending
from custody.services.system import UnitOfWork

# Facts are loaded for this many recordings per query when many change at once.
FACTS_BATCH = 500


def category_rule(row: Category) -> CategoryRule:
    return CategoryRule(
        name=row.name,
        retention_days=row.retention_days,
        review_days=row.review_days,
        access_class=parse_access_class(row.access_class),
        evidential=row.evidential,
        description=row.description,
    )


def retention_facts(uow: UnitOfWork, recordings: Sequence[Recording]) -> dict[str, RetentionFacts]:
    """The retention facts of many recordings, a few queries per batch."""
    result: dict[str, RetentionFacts] = {}
    for start in range(0, len(recordings), FACTS_BATCH):
        batch = recordings[start : start + FACTS_BATCH]
        result |= _facts_batch(uow, batch)
    return result


def _facts_batch(uow: UnitOfWork, recordings: Sequence[Recording]) -> dict[str, RetentionFacts]:
    session = uow.session
    ids = [r.id for r in recordings]
    categories: dict[str, list[CategoryRule]] = defaultdict(list)
    for rid, row in session.execute(
        select(RecordingCategory.recording_id, Category)
        .join(Category, Category.id == RecordingCategory.category_id)
        .where(among(session, RecordingCategory.recording_id, ids))
    ):
        categories[rid].append(category_rule(row))
    flags: dict[str, int] = dict(
        session.execute(
            select(EvidenceFlag.recording_id, func.count())
            .where(
                among(session, EvidenceFlag.recording_id, ids), EvidenceFlag.cleared_at.is_(None)
            )
            .group_by(EvidenceFlag.recording_id)
        ).all()
    )
    cases: dict[str, list[CaseFact]] = defaultdict(list)
    for rid, case in session.execute(
        select(CaseRecording.recording_id, Case)
        .join(Case, Case.id == CaseRecording.case_id)
        .where(among(session, CaseRecording.recording_id, ids))
    ):
        cases[rid].append(CaseFact(case.id, case.reference, case.closed_at, case.disposal_days))
    holds: dict[str, list[HoldFact]] = defaultdict(list)
    for hold in session.scalars(
        select(Hold).where(among(session, Hold.recording_id, ids), Hold.lifted_at.is_(None))
    ):
        holds[hold.recording_id].append(
            HoldFact(hold.id, HoldKind(hold.kind), hold.concerns_officer_id)
        )
    return {
        r.id: RetentionFacts(
            recorded_at=r.started_at,
            categories=tuple(categories[r.id]),
            evidence_flags=flags.get(r.id, 0),
            cases=tuple(cases[r.id]),
            holds=tuple(holds[r.id]),
            # The sweep honours every notice anyone was given.
            not_before=_later(r.deletion_not_before, r.seen_not_before),
            last_reviewed_at=r.last_reviewed_at,
            seen_not_before=r.seen_not_before,
        )
        for r in recordings
    }


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


@dataclass(frozen=True)
class Recomputed:
    recording_id: str
    before: datetime | None
    decision: RetentionDecision
    # As those who may not know of complaint holds see it (the door answers them with these).
    seen_before: datetime | None
    seen: RetentionDecision


def recompute(
    uow: UnitOfWork, recordings: Sequence[Recording], *, by_person: bool = True
) -> list[Recomputed]:
    """Decide again and store the decision on each (locked, live) recording, as it is and
    as it is seen (`custody.domain.retention.redecide`).

    A change by a person that brings a deletion forward gets the pending notice
    (domain.retention rule 4): the notice floor is stored with the recording.
    """
    now = uow.now()
    live = [r for r in recordings if r.state != DELETED]
    all_facts = retention_facts(uow, live)
    changes = []
    for recording in live:
        facts = all_facts[recording.id]
        before, seen_before = recording.delete_due_at, recording.seen_delete_due_at
        result = redecide(
            facts,
            before=before,
            seen_before=seen_before,
            decided_before=recording.retention_rule is not None,
            by_person=by_person,
            now=now,
        )
        recording.deletion_not_before = result.not_before
        recording.seen_not_before = result.seen_not_before
        store_decision(recording, result.decision, result.seen, facts)
        mark_pending(recording)
        changes.append(Recomputed(recording.id, before, result.decision, seen_before, result.seen))
    uow.session.flush()
    # Once the change has committed, the store's Object Lock follows it (services.retention.locks).
    ids = [r.id for r in live]
    system = uow.system
    uow.after_commit(lambda: follow(system, ids))
    return changes


def store_decision(
    recording: Recording,
    decision: RetentionDecision,
    seen_decision: RetentionDecision,
    facts: RetentionFacts,
) -> None:
    recording.delete_due_at = decision.delete_at
    recording.review_due_at = decision.review_at
    recording.retention_rule = decision.rule[:160]
    recording.seen_delete_due_at = seen_decision.delete_at
    recording.seen_review_due_at = seen_decision.review_at
    recording.access_class = access_class_of(facts.categories).value
    # Supervision counts these (services/retention/compliance.py); every change of a
    # recording's categories, or of a category's rule, decides its retention again here.
    kept = categorisation(facts.categories)
    recording.categorised, recording.evidential = kept.categorised, kept.evidential


def due_details(change: Recomputed) -> dict[str, str | None]:
    """What an audit event says about a change's effect on retention."""
    after = change.decision.delete_at
    return {
        "delete_due_before": isoformat(change.before) if change.before else None,
        "delete_due_after": isoformat(after) if after else None,
        "rule": change.decision.rule,
    }
