"""The evidence lifecycle's core: who may act on a recording, and the facts that decide its
retention and their recomputation (shared by lifecycle, evidence and retention services).

Every change that can move a recording's deletion date locks the recording row first
(so the sweep, which locks it too, sees either the whole change or none of it) and
recomputes `delete_due_at` with `custody.domain.retention` in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select

from custody.audit import Actor
from custody.db.models import Officer, Recording, User
from custody.db.models.lifecycle import (
    Case,
    CaseMember,
    CaseRecording,
    Category,
    EvidenceFlag,
    Hold,
    RecordingCategory,
)
from custody.domain.access import (
    Action,
    RecordingFacts,
    Relationship,
    SystemAction,
    Viewer,
    decide,
    listing_scope,
    may,
)
from custody.domain.categories import (
    CategoryRule,
    access_class_of,
    parse_access_class,
)
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, NotFound, NotPermitted
from custody.domain.retention import (
    CaseFact,
    HoldFact,
    HoldKind,
    RetentionDecision,
    RetentionFacts,
    brings_forward,
    decide_retention,
    notice_floor,
)
from custody.services.system import System, UnitOfWork
from custody.services.users import Principal, principal_of

DELETED = "deleted"
# Roles that see every case (and so the references in retention reasons); the rest see
# the cases they work on.
ALL_CASES_ROLES = ("professional_standards", "auditor")
# Facts are loaded for this many recordings per query when many change at once.
FACTS_BATCH = 500


# --- who may act -------------------------------------------------------------------------


def user_case_ids(uow: UnitOfWork, user_id: int) -> frozenset[int]:
    """Cases a user works on: officer in the case or member."""
    member = select(CaseMember.case_id).where(CaseMember.user_id == user_id)
    oic = select(Case.id).where(Case.officer_in_case_id == user_id)
    return frozenset(uow.session.scalars(member.union(oic)))


def viewer_for(uow: UnitOfWork, principal: Principal, *, stated_reason: bool = False) -> Viewer:
    """The access contract's view of a principal, with the cases they work on; a reason the
    change itself states (and audits) counts as a stated reason."""
    viewer = principal.viewer(user_case_ids(uow, principal.user_id))
    return replace(viewer, stated_reason=viewer.stated_reason or stated_reason)


def principal_named(system: System, username: str) -> Principal:
    """The principal of an active user, for the command line's `--as`."""
    with system.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == username))
        if user is None or user.disabled_at is not None:
            raise NotFound(f"no active user {username!r}")
        return principal_of(user)


def recording_facts(uow: UnitOfWork, recording: Recording) -> RecordingFacts:
    """The access contract's facts about a recording: whose, which team, class, cases, and
    whether a complaint hold is on it."""
    unit = None
    if recording.officer_id is not None:
        unit = uow.session.scalar(select(Officer.unit).where(Officer.id == recording.officer_id))
    case_ids = frozenset(
        uow.session.scalars(
            select(CaseRecording.case_id).where(CaseRecording.recording_id == recording.id)
        )
    )
    complaint = uow.session.scalar(
        select(Hold.id)
        .where(
            Hold.recording_id == recording.id,
            Hold.kind == HoldKind.COMPLAINT.value,
            Hold.lifted_at.is_(None),
        )
        .limit(1)
    )
    return RecordingFacts(
        recording.officer_id,
        unit,
        parse_access_class(recording.access_class),
        case_ids,
        complaint_hold=complaint is not None,
    )


def refuse(
    uow: UnitOfWork,
    actor: Actor,
    tag: str,
    reason: str,
    *,
    object_type: str,
    object_id: str,
    conceal: bool,
    missing: str,
) -> NotFound | NotPermitted:
    """Audit a refused attempt (committed on its own) and return the error to raise."""
    uow.rollback()
    uow.audit(
        tag, actor, object_type=object_type, object_id=object_id, allowed=False, reason=reason
    )
    uow.commit()
    # 404, not 403, where the footage's existence is itself not the caller's business.
    return NotFound(missing) if conceal else NotPermitted(reason)


def require(
    uow: UnitOfWork,
    principal: Principal,
    action: SystemAction,
    actor: Actor,
    tag: str,
    object_type: str = "system",
    object_id: str = "-",
) -> None:
    """Refuse, audited, a principal whose role may not do a system-wide action."""
    decision = may(viewer_for(uow, principal), action)
    if not decision:
        raise refuse(
            uow,
            actor,
            tag,
            decision.reason,
            object_type=object_type,
            object_id=object_id,
            conceal=False,
            missing="",
        )


def checked_recording(
    uow: UnitOfWork,
    principal: Principal,
    recording_id: str,
    action: Action,
    actor: Actor,
    tag: str,
    *,
    stated_reason: bool = False,
    allow_deleted: bool = False,
) -> Recording:
    """Lock a recording for a change the principal may make; refusals are audited."""
    recording = uow.session.get(
        Recording, recording_id, with_for_update=True, populate_existing=True
    )
    if recording is None:
        raise NotFound(f"no recording {recording_id}")
    decision = decide(
        viewer_for(uow, principal, stated_reason=stated_reason),
        action,
        recording_facts(uow, recording),
    )
    if not decision:
        raise refuse(
            uow,
            actor,
            tag,
            decision.reason,
            object_type="recording",
            object_id=recording_id,
            conceal=decision.conceal,
            missing=f"no recording {recording_id}",
        )
    if recording.state == DELETED and not allow_deleted:
        raise Conflict(f"recording {recording_id} was deleted under the retention rules")
    return recording


def visible_recordings(uow: UnitOfWork, principal: Principal) -> ColumnElement[bool]:
    """A SQL condition: the recordings this principal may list, from the access contract's
    listing grants (so that lists filter in SQL by the same rules `decide` applies)."""
    viewer = viewer_for(uow, principal)
    conditions: list[ColumnElement[bool]] = []
    for grant in listing_scope(viewer):
        classes = Recording.access_class.in_(sorted(c.value for c in grant.classes))
        relationship = grant.relationship
        if relationship in (Relationship.ANY, Relationship.STATED_REASON):
            conditions.append(classes)
        elif relationship is Relationship.OWN and viewer.officer_id is not None:
            conditions.append(classes & (Recording.officer_id == viewer.officer_id))
        elif relationship is Relationship.TEAM and viewer.unit is not None:
            team = select(Officer.id).where(Officer.unit == viewer.unit)
            conditions.append(classes & Recording.officer_id.in_(team))
        elif relationship is Relationship.CASE and viewer.case_ids:
            in_case = select(CaseRecording.recording_id).where(
                CaseRecording.case_id.in_(sorted(viewer.case_ids))
            )
            conditions.append(classes & Recording.id.in_(in_case))
    return or_(*conditions) if conditions else false()


# --- retention facts and their recomputation -------------------------------------------


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
        .where(RecordingCategory.recording_id.in_(ids))
    ):
        categories[rid].append(category_rule(row))
    flags: dict[str, int] = dict(
        session.execute(
            select(EvidenceFlag.recording_id, func.count())
            .where(EvidenceFlag.recording_id.in_(ids), EvidenceFlag.cleared_at.is_(None))
            .group_by(EvidenceFlag.recording_id)
        ).all()
    )
    cases: dict[str, list[CaseFact]] = defaultdict(list)
    for rid, case in session.execute(
        select(CaseRecording.recording_id, Case)
        .join(Case, Case.id == CaseRecording.case_id)
        .where(CaseRecording.recording_id.in_(ids))
    ):
        cases[rid].append(CaseFact(case.id, case.reference, case.closed_at, case.disposal_days))
    holds: dict[str, list[HoldFact]] = defaultdict(list)
    for hold in session.scalars(
        select(Hold).where(Hold.recording_id.in_(ids), Hold.lifted_at.is_(None))
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
            not_before=r.deletion_not_before,
            last_reviewed_at=r.last_reviewed_at,
        )
        for r in recordings
    }


@dataclass(frozen=True)
class Recomputed:
    recording_id: str
    before: datetime | None
    decision: RetentionDecision


def recompute(
    uow: UnitOfWork, recordings: Sequence[Recording], *, by_person: bool = True
) -> list[Recomputed]:
    """Decide again and store the decision on each (locked, live) recording.

    A change by a person that brings a deletion forward gets the pending notice
    (domain.retention rule 4): the notice floor is stored with the recording.
    """
    now = uow.now()
    live = [r for r in recordings if r.state != DELETED]
    all_facts = retention_facts(uow, live)
    changes = []
    for recording in live:
        facts = all_facts[recording.id]
        decision = decide_retention(facts)
        before = recording.delete_due_at
        decided_before = recording.retention_rule is not None
        if by_person and decided_before and brings_forward(before, decision.delete_at):
            floor = notice_floor(now, recording.started_at)
            if recording.deletion_not_before is None or floor > recording.deletion_not_before:
                recording.deletion_not_before = floor
            decision = decide_retention(replace(facts, not_before=recording.deletion_not_before))
        store_decision(recording, decision, facts)
        changes.append(Recomputed(recording.id, before, decision))
    uow.session.flush()
    return changes


def store_decision(
    recording: Recording, decision: RetentionDecision, facts: RetentionFacts
) -> None:
    recording.delete_due_at = decision.delete_at
    recording.review_due_at = decision.review_at
    recording.retention_rule = decision.rule[:160]
    recording.access_class = access_class_of(facts.categories).value


def due_details(change: Recomputed) -> dict[str, Any]:
    """What an audit event says about a change's effect on retention."""
    after = change.decision.delete_at
    return {
        "delete_due_before": isoformat(change.before) if change.before else None,
        "delete_due_after": isoformat(after) if after else None,
        "rule": change.decision.rule,
    }
