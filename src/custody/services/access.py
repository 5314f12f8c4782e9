"""The one door for access: every use case on a recording, a case or the system passes here.

It loads the facts `custody.domain.access` decides on (the viewer's cases, the
recording's officer, team and access class), asks the rule table, audits a refusal in a
transaction of its own and conceals with 404 where the rules say the footage's existence
is none of the caller's business.

What a use case answers passes the same door: `Sight` says what this person may know of
one recording — which holds show to them, which retention decision (as it is, or as it
is seen by those who may not know of complaint holds), which case references — so that
no answer, count, list or error tells anyone of a complaint hold, a case or a recording
they may not see.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, event, exists, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from custody.db.lists import among
from custody.db.models import Dock, Officer, Recording, Upload
from custody.db.models.lifecycle import (
    Case,
    CaseMember,
    CaseRecording,
    Complaint,
    ComplaintOfficer,
    Hold,
)
from custody.db.models.subject_access import SubjectAccessRequest
from custody.domain.access import (
    AccessClass,
    Action,
    RecordingFacts,
    Relationship,
    SystemAction,
    Viewer,
    decide,
    hold_visible,
    listing_scope,
    may,
    permitted,
    refusal_for_unnamed,
    sees_all_cases,
    sees_complaint_holds,
)
from custody.domain.actor import Actor
from custody.domain.categories import parse_access_class
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, NotFound, NotPermitted
from custody.domain.principal import Principal
from custody.domain.retention import (
    DELETED,
    HoldKind,
    RetentionDecision,
    RetentionFacts,
    decide_retention,
    seen,
)
from custody.services.retention.answers import RetentionEffect
from custody.services.retention.facts import Recomputed, recompute
from custody.services.system import System, UnitOfWork

# --- who the person is -------------------------------------------------------------------


# Where a transaction, and a request, keep the cases each person works on once read: a page
# asks the door several times (the recording, its cards, its lists, its clips), each asking.
CASES_KNOWN = "custody.cases_known"
_KNOWN_IN_REQUEST: ContextVar[dict[int, frozenset[int]] | None] = ContextVar(
    "custody_cases_known_in_request", default=None
)


@contextmanager
def cases_read_once() -> Iterator[None]:
    """Within this block (one request: its threads share the block's context) a person's
    cases are read once, and again only after a transaction writes a case or a member."""
    token = _KNOWN_IN_REQUEST.set({})
    try:
        yield
    finally:
        _KNOWN_IN_REQUEST.reset(token)


def _forget_cases() -> None:
    known = _KNOWN_IN_REQUEST.get()
    if known is not None:
        known.clear()


@event.listens_for(Session, "after_flush")
def _forget_written(session: Session, *_: object) -> None:
    """A case or a member written makes everyone's cases be read again."""
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(row, Case | CaseMember) for row in changed):
        session.info.pop(CASES_KNOWN, None)
        _forget_cases()


@event.listens_for(Session, "after_soft_rollback")
def _forget_undone(session: Session, *_: object) -> None:
    """What a transaction undid may have been read after it was written."""
    session.info.pop(CASES_KNOWN, None)
    _forget_cases()


def user_case_ids(uow: UnitOfWork, user_id: int) -> frozenset[int]:
    """Cases a user works on: officer in the case or member (read once a transaction and a
    request, while they write no case: a change not yet written is written, then read)."""
    session = uow.session
    known: dict[int, frozenset[int]] = session.info.setdefault(CASES_KNOWN, {})
    in_request = _KNOWN_IN_REQUEST.get()
    if not (session.new or session.dirty or session.deleted):
        if user_id in known:
            return known[user_id]
        if in_request is not None and user_id in in_request:
            return in_request[user_id]
    member = select(CaseMember.case_id).where(CaseMember.user_id == user_id)
    oic = select(Case.id).where(Case.officer_in_case_id == user_id)
    found = frozenset(session.scalars(member.union(oic)))
    session.info.setdefault(CASES_KNOWN, {})[user_id] = found
    if in_request is not None:
        in_request[user_id] = found
    return found


def viewer_for(uow: UnitOfWork, principal: Principal, *, stated_reason: bool = False) -> Viewer:
    """The access contract's view of a principal, with the cases they work on; a reason the
    change itself states (and audits) counts as a stated reason."""
    viewer = principal.viewer(user_case_ids(uow, principal.user_id))
    return replace(viewer, stated_reason=viewer.stated_reason or stated_reason)


def recording_facts(uow: UnitOfWork, recording: Recording) -> RecordingFacts:
    """The access contract's facts about a recording: whose, which team, class and cases."""
    # The officer's team and the recording's cases in one statement (a row per case, or one
    # with none): every recording a page opens passes here.
    unit_of = select(Officer.unit).where(Officer.id == recording.officer_id).scalar_subquery()
    rows = uow.session.execute(
        select(unit_of, CaseRecording.case_id)
        .select_from(Recording)
        .outerjoin(CaseRecording, CaseRecording.recording_id == Recording.id)
        .where(Recording.id == recording.id)
    ).all()
    unit = rows[0][0] if rows and recording.officer_id is not None else None
    case_ids = frozenset(case_id for _, case_id in rows if case_id is not None)
    return RecordingFacts(
        recording.officer_id, unit, parse_access_class(recording.access_class), case_ids
    )


# --- refusals ----------------------------------------------------------------------------


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
    confidential: bool = False,
) -> NotFound | NotPermitted:
    """Audit a refused attempt (committed on its own) and return the error to raise.

    A confidential refusal (a probe at a complaint hold) reads only to those who see
    complaints, so that the person's own trail does not tell them what they touched."""
    uow.rollback()
    uow.audit(
        tag,
        actor,
        object_type=object_type,
        object_id=object_id,
        allowed=False,
        reason=reason,
        details={CONFIDENTIAL: True} if confidential else None,
    )
    uow.commit()
    # 404, not 403, where the thing's existence is itself not the caller's business.
    return NotFound(missing) if conceal else NotPermitted(reason)


# --- system actions ----------------------------------------------------------------------


def require_role(
    uow: UnitOfWork,
    principal: Principal,
    action: SystemAction,
    actor: Actor,
    tag: str | None = None,
    object_type: str = "system",
    object_id: str = "-",
) -> None:
    """Refuse (audited) unless the principal's role may do a system-wide action. Decided by
    role and stated reason alone, so no query runs: a page's guard and each use case it calls
    ask this, and reading the person's cases for each made every page query them again."""
    decision = may(principal.viewer(), action)
    if not decision:
        raise refuse(
            uow,
            actor,
            tag or f"user:system:{action.value}",
            decision.reason,
            object_type=object_type,
            object_id=object_id,
            conceal=False,
            missing="",
        )


def require(
    uow: UnitOfWork,
    principal: Principal,
    action: SystemAction,
    actor: Actor,
    tag: str | None = None,
    object_type: str = "system",
    object_id: str = "-",
) -> Viewer:
    """The viewer with the cases they work on, if the principal's role may do a system-wide
    action (`require_role`); else refused, audited."""
    require_role(uow, principal, action, actor, tag, object_type, object_id)
    return viewer_for(uow, principal)


def permit(
    system: System,
    principal: Principal,
    action: SystemAction,
    actor: Actor,
    tag: str | None = None,
    object_type: str = "system",
    object_id: str = "-",
) -> None:
    """`require` in a unit of work of its own: for a route's guard, before any work starts."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, action, actor, tag, object_type, object_id)


# --- one recording -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sight:
    """One person's sight of one recording: what they may do and what they may know."""

    recording: Recording
    viewer: Viewer
    facts: RecordingFacts
    actions: frozenset[Action]

    def may(self, action: Action) -> bool:
        return action in self.actions

    @property
    def sees_complaints(self) -> bool:
        return sees_complaint_holds(self.viewer)

    def shows_hold(self, kind: str, concerns_officer_id: int | None) -> bool:
        """Whether a hold on this recording shows to this person."""
        if not self.may(Action.VIEW_HOLDS):
            return False
        return hold_visible(self.viewer, kind == HoldKind.COMPLAINT.value, concerns_officer_id)


def sight_of(uow: UnitOfWork, viewer: Viewer, recording: Recording) -> Sight:
    """What the viewer may do to and know of a recording (no audit: for building answers)."""
    facts = recording_facts(uow, recording)
    return Sight(recording, viewer, facts, permitted(viewer, facts))


def open_recording(
    uow: UnitOfWork,
    principal: Principal,
    recording_id: str,
    action: Action,
    actor: Actor,
    tag: str,
    *,
    lock: bool = False,
    stated_reason: bool = False,
    allow_deleted: bool = False,
) -> Sight:
    """The recording, if the principal may do `action` to it; refusals are audited, and
    concealed as "no recording" where its existence is none of their business.

    `lock` takes the row lock a change needs (the sweep takes it too). A reason the
    change states (an evidence flag's) counts as a stated reason.
    """
    recording = uow.session.get(
        Recording, recording_id, with_for_update=lock or None, populate_existing=lock
    )
    if recording is None:
        raise NotFound(f"no recording {recording_id}")
    viewer = viewer_for(uow, principal, stated_reason=stated_reason)
    sight = sight_of(uow, viewer, recording)
    return _allowed(uow, sight, action, actor, tag, allow_deleted=allow_deleted)


def check_sight(
    uow: UnitOfWork,
    sight: Sight,
    action: Action,
    actor: Actor,
    tag: str,
    *,
    allow_deleted: bool = False,
) -> Sight:
    """The door for another action on a recording already opened in this unit of work
    (`open_recording`): the same decision and the same audited refusal, the recording and
    its facts not read again."""
    return _allowed(uow, sight, action, actor, tag, allow_deleted=allow_deleted)


def _allowed(
    uow: UnitOfWork, sight: Sight, action: Action, actor: Actor, tag: str, *, allow_deleted: bool
) -> Sight:
    """The sight, if it lets its person do `action`; else the refusal, audited and concealed
    where the rules say."""
    recording = sight.recording
    decision = decide(sight.viewer, action, sight.facts)
    if not decision:
        raise refuse(
            uow,
            actor,
            tag,
            decision.reason,
            object_type="recording",
            object_id=recording.id,
            conceal=decision.conceal,
            missing=f"no recording {recording.id}",
        )
    if recording.state == DELETED and not allow_deleted:
        raise Conflict(f"recording {recording.id} was deleted under the retention rules")
    return sight


def require_any_footage(
    uow: UnitOfWork, principal: Principal, action: Action, actor: Actor, tag: str
) -> Viewer:
    """Before acting on footage the person has not named (an officer's, over a time window):
    only a role that may act on any footage may, and the check comes before anything is
    looked up, so that the answer never depends on what footage exists."""
    viewer = viewer_for(uow, principal)
    decision = refusal_for_unnamed(viewer, action)
    if not decision:
        raise refuse(
            uow,
            actor,
            tag,
            decision.reason,
            object_type="system",
            object_id="recordings",
            conceal=False,
            missing="",
        )
    return viewer


def require_classification(
    uow: UnitOfWork, sight: Sight, access_classes: Iterable[str], actor: Actor, tag: str
) -> None:
    """Before categories of these access classes are given to or taken from a recording:
    a confidential one narrows (or widens) who sees the footage, which only the roles whose
    job it is may do (`SystemAction.CLASSIFY_CONFIDENTIAL`); refused, audited, before any
    change."""
    if AccessClass.CONFIDENTIAL.value not in set(access_classes):
        return
    decision = may(sight.viewer, SystemAction.CLASSIFY_CONFIDENTIAL)
    if not decision:
        raise refuse(
            uow,
            actor,
            tag,
            decision.reason,
            object_type="recording",
            object_id=sight.recording.id,
            conceal=False,
            missing="",
        )


# The recordings of a person's cases go into a listing's condition as a list of ids (an
# index lookup each, which PostgreSQL and SQLite combine with an officer's or a team's index
# by OR) while they are this few; beyond it, as a subquery.
CASE_RECORDINGS_LISTED = 2000


def visible_recordings(
    uow: UnitOfWork, principal: Principal, *, team_listed: bool = False
) -> ColumnElement[bool]:
    """A SQL condition: the recordings this principal may list, from the access contract's
    listing grants (so that lists filter in SQL by the same rules `decide` applies).

    Grants of one relationship are merged into one term (an officer's own footage of every
    class is `officer_id = ?`, which the (officer, started) index answers in order), and
    the recordings of the person's cases are named as a list where few: an OR of a range
    and a subquery made PostgreSQL walk the whole time index discarding rows.

    With `team_listed`, the team's officers are named as a list too (read here): for a count
    of a team's footage, which each officer's index answers, where the planner given a
    subquery walks the force's date index instead, reading thirty rows for each one counted."""
    conditions = [
        term if classes == set(AccessClass) else _of_classes(classes) & term
        for term, classes in _grant_terms(uow, viewer_for(uow, principal), team_listed)
    ]
    if not conditions:
        return false()
    return or_(*conditions) if len(conditions) > 1 else conditions[0]


def summarised_classes(viewer: Viewer, team: str | None) -> frozenset[AccessClass]:
    """The access classes in which this person may list every recording of `team` (None:
    the force): those a summary of the team's footage by class may answer for them."""
    classes: set[AccessClass] = set()
    for grant in listing_scope(viewer):
        everywhere = grant.relationship in (Relationship.ANY, Relationship.STATED_REASON)
        their_team = grant.relationship is Relationship.TEAM and team is not None
        if everywhere or (their_team and viewer.unit == team):
            classes |= grant.classes
    return frozenset(classes)


def listed_beyond(
    uow: UnitOfWork, viewer: Viewer, classes: frozenset[AccessClass]
) -> ColumnElement[bool] | None:
    """A SQL condition: the recordings this principal may list whose access class is not in
    `classes` (their cases' confidential footage, for a supervisor), or None for none. With
    `summarised_classes`, what a summary by class cannot answer, named by the grants' own
    terms so that it is read from their indexes (the listing condition with a class beyond
    would be read through the grants that cannot hold)."""
    conditions = [
        _of_classes(set(granted) - classes) & term
        for term, granted in _grant_terms(uow, viewer)
        if set(granted) - classes
    ]
    if not conditions:
        return None
    return or_(*conditions) if len(conditions) > 1 else conditions[0]


def _of_classes(classes: Iterable[AccessClass]) -> ColumnElement[bool]:
    return Recording.access_class.in_(sorted(c.value for c in classes))


def _grant_terms(
    uow: UnitOfWork, viewer: Viewer, team_listed: bool = False
) -> Iterator[tuple[ColumnElement[bool], set[AccessClass]]]:
    """Each relationship's listing grants merged, as a condition on `Recording` and the
    classes it lists in."""
    classes_of: dict[Relationship, set[AccessClass]] = {}
    for grant in listing_scope(viewer):
        classes_of.setdefault(grant.relationship, set()).update(grant.classes)
    for relationship, classes in classes_of.items():
        if relationship in (Relationship.ANY, Relationship.STATED_REASON):
            term: ColumnElement[bool] | None = true()
        elif relationship is Relationship.OWN and viewer.officer_id is not None:
            term = Recording.officer_id == viewer.officer_id
        elif relationship is Relationship.TEAM and viewer.unit is not None:
            team = select(Officer.id).where(Officer.unit == viewer.unit)
            if team_listed:
                term = among(uow.session, Recording.officer_id, sorted(uow.session.scalars(team)))
            else:
                term = Recording.officer_id.in_(team)
        elif relationship is Relationship.CASE and viewer.case_ids:
            term = _in_cases(uow, viewer.case_ids)
        else:
            term = None
        if term is not None:
            yield term, classes


def _in_cases(uow: UnitOfWork, case_ids: frozenset[int]) -> ColumnElement[bool]:
    """A condition on `Recording`: it is in one of these cases."""
    in_case = select(CaseRecording.recording_id).where(CaseRecording.case_id.in_(sorted(case_ids)))
    listed = list(uow.session.scalars(in_case.distinct().limit(CASE_RECORDINGS_LISTED + 1)))
    if len(listed) > CASE_RECORDINGS_LISTED:
        return Recording.id.in_(in_case)
    if not listed:
        return false()
    return among(uow.session, Recording.id, sorted(listed))


# --- docks ------------------------------------------------------------------------------
# A dock touches only its own uploads and what its station's docks stored. Whatever else it
# asks for answers exactly as what does not exist: 404, with the refusal audited.


def open_upload(uow: UnitOfWork, dock_id: int, upload_id: str, actor: Actor, tag: str) -> Upload:
    """The upload, if this dock created it; NotFound alike for another dock's and for none."""
    upload = uow.session.get(Upload, upload_id) if len(upload_id) == 32 else None
    if upload is None:
        raise NotFound("no such upload")
    if upload.dock_id != dock_id:
        raise refuse(
            uow,
            actor,
            tag,
            "another dock's upload",
            object_type="recording",
            object_id=upload.recording_id,
            conceal=True,
            missing="no such upload",
        )
    return upload


def same_station(uow: UnitOfWork, station: str, dock_id: int | None) -> bool:
    """Whether the dock `dock_id` stands in `station` (an unknown dock stands nowhere)."""
    if dock_id is None:
        return False
    return uow.session.scalar(select(Dock.station).where(Dock.id == dock_id)) == station


def camera_at_station(borough: str | None, station: str) -> bool:
    """Whether a dock of `station` may report, see docked or check out a camera serving
    `borough` (its holder's unit, or its pool's). A camera that serves no borough (in
    stock, back on the shelf) holds no one's footage and charges at any dock."""
    return borough is None or borough == station


def open_receipt(
    uow: UnitOfWork, station: str, recording_id: str, actor: Actor, tag: str
) -> Recording:
    """The stored recording, if a dock of this station uploaded it; NotFound alike else."""
    missing = f"recording {recording_id} is not stored"
    recording = uow.session.get(Recording, recording_id)
    if recording is None:
        raise NotFound(missing)
    if not same_station(uow, station, recording.dock_id):
        raise refuse(
            uow,
            actor,
            tag,
            "a receipt of another station's dock",
            object_type="recording",
            object_id=recording_id,
            conceal=True,
            missing=missing,
        )
    return recording


# --- cases -------------------------------------------------------------------------------


def visible_cases(viewer: Viewer) -> ColumnElement[bool]:
    """A SQL condition on `Case`: the cases this person may know of."""
    if sees_all_cases(viewer):
        return Case.id.is_not(None)
    return Case.id.in_(sorted(viewer.case_ids))


def open_case(uow: UnitOfWork, principal: Principal, case_id: int, *, lock: bool = False) -> Case:
    """A case the principal works on (or may see all of); for anyone else it does not exist."""
    case = uow.session.get(Case, case_id, with_for_update=lock or None)
    if case is None or not (
        sees_all_cases(viewer_for(uow, principal))
        or case_id in user_case_ids(uow, principal.user_id)
    ):
        raise NotFound(f"no case {case_id}")
    return case


# --- holds -------------------------------------------------------------------------------


def open_hold(
    uow: UnitOfWork,
    principal: Principal,
    hold_id: int,
    action: Action,
    actor: Actor,
    tag: str,
) -> tuple[Hold, Sight]:
    """A hold the principal may see and act on. A hold they may not see (a complaint hold,
    to anyone outside professional standards or to the officer it concerns) is "no hold",
    word for word the answer for an id that was never used."""
    missing = NotFound(f"no hold {hold_id}")
    hold = uow.session.get(Hold, hold_id, with_for_update=True)
    if hold is None:
        raise missing
    recording = uow.session.get(
        Recording, hold.recording_id, with_for_update=True, populate_existing=True
    )
    if recording is None:
        raise missing
    sight = sight_of(uow, viewer_for(uow, principal), recording)
    if not sight.shows_hold(hold.kind, hold.concerns_officer_id):
        # Audited like any refusal, and answered as if the hold did not exist.
        raise refuse(
            uow,
            actor,
            tag,
            f"no hold {hold_id} that this person may see",
            object_type="recording" if sight.may(Action.LIST) else "hold",
            object_id=recording.id if sight.may(Action.LIST) else str(hold_id),
            conceal=True,
            missing=f"no hold {hold_id}",
            confidential=True,
        )
    return hold, _allowed(uow, sight, action, actor, tag, allow_deleted=False)


# --- complaints --------------------------------------------------------------------------


def visible_complaints(uow: UnitOfWork, principal: Principal) -> ColumnElement[bool]:
    """A SQL condition on `Complaint`: the complaints this person may know of. Only those
    who see complaint holds, and never a complaint that names them."""
    viewer = viewer_for(uow, principal)
    if not sees_complaint_holds(viewer):
        return false()
    if viewer.officer_id is None:
        return Complaint.id.is_not(None)
    return ~exists().where(
        ComplaintOfficer.complaint_id == Complaint.id,
        ComplaintOfficer.officer_id == viewer.officer_id,
    )


def open_complaint(
    uow: UnitOfWork,
    principal: Principal,
    reference: str,
    actor: Actor,
    tag: str,
    *,
    lock: bool = False,
) -> Complaint:
    """A complaint the principal may know of; to anyone else, word for word the answer for a
    reference never registered (and the attempt audited, confidentially)."""
    query = select(Complaint).where(
        Complaint.reference == reference, visible_complaints(uow, principal)
    )
    found = uow.session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise refuse(
            uow,
            actor,
            tag,
            f"no complaint {reference!r} that this person may see",
            object_type="complaint",
            object_id=reference[:64],
            conceal=True,
            missing=f"no complaint {reference!r}",
            confidential=True,
        )
    return found


# --- retention, as each person may know it -----------------------------------------------


def shown_facts(viewer: Viewer, facts: RetentionFacts) -> RetentionFacts:
    """The retention facts as this person may know them: those who may not see complaint
    holds see the world without any (`domain.retention.seen`); those who may see them still
    never see one that concerns themselves."""
    if not sees_complaint_holds(viewer):
        return seen(facts)
    holds = tuple(
        h
        for h in facts.holds
        if hold_visible(viewer, h.kind is HoldKind.COMPLAINT, h.concerns_officer_id)
    )
    return replace(facts, holds=holds)


def shown_decision(viewer: Viewer, facts: RetentionFacts) -> RetentionDecision:
    """The retention decision this person is told, rule and reason worded for them."""
    decision = decide_retention(shown_facts(viewer, facts))
    rule, reason = shown_rule(viewer, decision)
    return replace(decision, rule=rule, reason=reason)


def shown_rule(viewer: Viewer, decision: RetentionDecision) -> tuple[str, str]:
    """The rule and reason as this viewer may read them: case references are for those who
    see every case (a case's own team sees it on the case's page)."""
    if "case:" in decision.rule and not sees_all_cases(viewer):
        prefix = "notice:" if decision.rule.startswith("notice:") else ""
        kind = "open" if ":open" in decision.rule else "closed"
        return f"{prefix}case:{kind}", "a case keeps it"
    return decision.rule, decision.reason


def due_columns(
    viewer: Viewer,
) -> tuple[InstrumentedAttribute[Any], InstrumentedAttribute[Any]]:
    """The deletion and review date columns this person's lists filter and sort on."""
    if sees_complaint_holds(viewer):
        return Recording.delete_due_at, Recording.review_due_at
    return Recording.seen_delete_due_at, Recording.seen_review_due_at


def told(viewer: Viewer, change: Recomputed) -> tuple[datetime | None, RetentionDecision]:
    """A change's deletion date before it and decision after it, as this person may know
    them: the truth for those who see complaint holds, the seen world for everyone else."""
    if sees_complaint_holds(viewer):
        return change.before, change.decision
    return change.seen_before, change.seen


def effect_on_retention(viewer: Viewer, change: Recomputed) -> RetentionEffect:
    """What a change's answer tells this person of its effect on retention."""
    before, decision = told(viewer, change)
    rule, _ = shown_rule(viewer, decision)
    after = decision.delete_at
    return RetentionEffect(
        delete_due_before=isoformat(before) if before else None,
        delete_due_after=isoformat(after) if after else None,
        rule=rule,
    )


def audited_effect(uow: UnitOfWork, viewer: Viewer, change: Recomputed) -> RetentionEffect:
    """A change's effect on retention as this person is told it (for their answer and their
    own audit event).

    For a person who may not see complaint holds, the true effect goes into a confidential
    event of its own, every time (not only when it differs: an extra event only when a
    complaint hold is there would show as a gap in the log), so the record is whole for
    those who may read it and the person's own trail tells them nothing they were not told.
    """
    shown = effect_on_retention(viewer, change)
    if not sees_complaint_holds(viewer):
        true_after = change.decision.delete_at
        truth = RetentionEffect(
            delete_due_before=isoformat(change.before) if change.before else None,
            delete_due_after=isoformat(true_after) if true_after else None,
            rule=change.decision.rule,
        )
        uow.audit(
            "system:retention:decide",
            Actor.system(),
            object_type="recording",
            object_id=change.recording_id,
            details={CONFIDENTIAL: True} | truth.model_dump(),
        )
    return shown


def record_change(
    uow: UnitOfWork,
    sight: Sight,
    actor: Actor,
    tag: str,
    *,
    reason: str | None,
    details: dict[str, object],
) -> RetentionEffect:
    """After a change to a recording's facts: decide its retention again, and audit the
    change with its effect as this person may know it (`audited_effect`)."""
    (change,) = recompute(uow, [sight.recording])
    effect = audited_effect(uow, sight.viewer, change)
    uow.audit(
        tag,
        actor,
        object_type="recording",
        object_id=sight.recording.id,
        reason=reason,
        details=details | effect.model_dump(),
    )
    return effect


# --- the audit trail, as each person may read it -----------------------------------------

# Events marked so (by `UnitOfWork.audit`, for people who see complaints) read only to others
# who see complaints: who looked into an officer's footage would tell of a complaint.
CONFIDENTIAL = "confidential"


def shows_event(viewer: Viewer, details: str | None) -> bool:
    """Whether an audit event shows in a recording's trail to this person."""
    if sees_complaint_holds(viewer) or not details:
        return True
    try:
        parsed = json.loads(details)
    except ValueError:
        return True
    return not (isinstance(parsed, dict) and parsed.get(CONFIDENTIAL))


# --- subject access requests ---------------------------------------------------------------


def open_subject_access(
    uow: UnitOfWork,
    principal: Principal,
    reference: str,
    actor: Actor,
    tag: str,
    *,
    lock: bool = False,
) -> SubjectAccessRequest:
    """A subject access request, for those who answer them; anyone else is refused before
    any lookup, so the answer never says whether such a request exists."""
    require_role(uow, principal, SystemAction.ANSWER_SUBJECT_ACCESS, actor, tag)
    query = select(SubjectAccessRequest).where(SubjectAccessRequest.reference == reference)
    found = uow.session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(f"no subject access request {reference[:40]!r}")
    return found
