"""The one door for access: every use case on a recording or on the system passes here.

It loads the facts `custody.domain.access` decides on (the viewer's cases, the
recording's officer, team, access class and complaint holds), asks the rule table,
audits a refusal in a transaction of its own and conceals with 404 where the rules say
the footage's existence is none of the caller's business.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import ColumnElement, false, or_, select

from custody.db.models import Officer, Recording
from custody.db.models.lifecycle import (
    Case,
    CaseMember,
    CaseRecording,
    Hold,
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
from custody.domain.actor import Actor
from custody.domain.categories import (
    parse_access_class,
)
from custody.domain.errors import Conflict, NotFound, NotPermitted
from custody.domain.principal import Principal
from custody.domain.retention import (
    DELETED,
    HoldKind,
)
from custody.services.system import UnitOfWork

# Roles that see every case (and so the references in retention reasons); the rest see
# the cases they work on.
ALL_CASES_ROLES = ("professional_standards", "auditor")


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
