"""Cases: a crime reference, a title, an officer in the case and a team; a recording in an
open case is never deleted, and closing a case applies its disposal rule."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import delete, or_, select

from custody.db.models import Recording, User
from custody.db.models.disclosure import ScheduleItem
from custody.db.models.lifecycle import Case, CaseMember, CaseRecording
from custody.db.models.shares import ShareItem
from custody.domain.access import Action, SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.lifecycle import (
    check_disposal_days,
    check_reason,
    check_reference,
    check_title,
    optional_reason,
)
from custody.domain.principal import Principal
from custody.domain.retention import DELETED
from custody.services import cursors
from custody.services.access import (
    open_case,
    open_recording,
    record_change,
    require,
    require_role,
    visible_cases,
)
from custody.services.answers import Page, Paged
from custody.services.counting import count_up_to
from custody.services.evidence.answers import CaseDetail, CaseEntry, CaseRecordingChanged, CaseView
from custody.services.retention.facts import due_details, recompute
from custody.services.system import System, UnitOfWork


class Keep(Enum):
    """Closing a case without a disposal rule of its own keeps the case's (`KEEP`)."""

    KEEP = "keep"


KEEP = Keep.KEEP
# A list of cases a page at a time, newest first; every open case to pick from at most.
CASES_PAGE = Page(limit=50)
# The open cases a recording's page offers to add it to: the newest hundred (a case further
# back is added from its own page).
OPEN_CASES_PAGE = Page(limit=100)


# --- cases -------------------------------------------------------------------------------


def create_case(
    system: System,
    principal: Principal,
    *,
    reference: str,
    title: str,
    actor: Actor,
    officer_in_case: str | None = None,
    disposal_days: int | None = None,
    members: list[str] | None = None,
) -> CaseView:
    """Open a case under its crime reference; its officer in the case defaults to its creator."""
    reference = check_reference(reference)
    title = check_title(title)
    if not reference or not title:
        raise InvalidInput("a case needs a crime reference and a title")
    disposal_days = check_disposal_days(disposal_days)
    with system.unit_of_work() as uow:
        require_role(
            uow, principal, SystemAction.MANAGE_CASES, actor, "user:case:create", "case", reference
        )
        if uow.session.scalar(select(Case.id).where(Case.reference == reference)) is not None:
            raise Conflict(f"a case with reference {reference} exists already")
        oic = _user(uow, officer_in_case) if officer_in_case else principal.user_id
        case = Case(
            reference=reference,
            title=title,
            officer_in_case_id=oic,
            status="open",
            disposal_days=disposal_days,
            created_by=actor.name,
            created_at=uow.now(),
        )
        uow.session.add(case)
        uow.session.flush()
        for username in sorted(set(members or [])):
            uow.session.add(
                CaseMember(
                    case_id=case.id,
                    user_id=_user(uow, username),
                    added_by=actor.name,
                    added_at=uow.now(),
                )
            )
        uow.session.flush()
        uow.audit(
            "user:case:create",
            actor,
            object_type="case",
            object_id=str(case.id),
            details={
                "reference": reference,
                "title": title,
                "officer_in_case": oic,
                "disposal_days": disposal_days,
                "members": sorted(set(members or [])),
            },
        )
        uow.commit()
        return _case_view(uow, case)


def _user(uow: UnitOfWork, username: str) -> int:
    user_id = uow.session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise InvalidInput(f"no user {username!r}")
    return user_id


def _case_view(uow: UnitOfWork, case: Case) -> CaseView:
    return _case_views(uow, [case])[0]


def _case_views(uow: UnitOfWork, found: list[Case]) -> list[CaseView]:
    """The cases as answers, in two queries whatever their number (no query per case)."""
    ids = [case.id for case in found]
    names: dict[int, str] = {
        user_id: username
        for user_id, username in uow.session.execute(
            select(User.id, User.username).where(
                User.id.in_({case.officer_in_case_id for case in found})
            )
        )
    }
    members: dict[int, list[str]] = {case_id: [] for case_id in ids}
    for case_id, username in uow.session.execute(
        select(CaseMember.case_id, User.username)
        .join(User, CaseMember.user_id == User.id)
        .where(CaseMember.case_id.in_(ids))
    ):
        members[case_id].append(username)
    return [
        CaseView(
            id=case.id,
            reference=case.reference,
            title=case.title,
            officer_in_case=names.get(case.officer_in_case_id),
            members=sorted(members[case.id]),
            status=case.status,
            disposal_days=case.disposal_days,
            created_by=case.created_by,
            created_at=isoformat(case.created_at),
            closed_at=isoformat(case.closed_at) if case.closed_at else None,
            closed_by=case.closed_by,
            close_reason=case.close_reason,
        )
        for case in found
    ]


def _case_detail(uow: UnitOfWork, case: Case) -> CaseDetail:
    """The case with its recordings, as those who work on it see it."""
    entries = [
        CaseEntry(
            recording_id=cr.recording_id,
            added_by=cr.added_by,
            added_at=isoformat(cr.added_at),
            reason=cr.reason,
        )
        for cr in uow.session.scalars(
            select(CaseRecording)
            .where(CaseRecording.case_id == case.id)
            .order_by(CaseRecording.added_at, CaseRecording.recording_id)
        )
    ]
    return CaseDetail(**_case_view(uow, case).model_dump(), recordings=entries)


def list_cases(
    system: System,
    principal: Principal,
    actor: Actor,
    *,
    status: str | None = None,
    page: Page = CASES_PAGE,
) -> Paged[CaseView]:
    """A page of the cases the principal may see, newest first (professional standards and
    auditors all, others theirs), paged by keyset: `page.after` is a page's `next_cursor`."""
    with system.unit_of_work() as uow:
        return list_cases_in(uow, principal, actor, status=status, page=page)


def list_cases_in(
    uow: UnitOfWork,
    principal: Principal,
    actor: Actor,
    *,
    status: str | None = None,
    page: Page = CASES_PAGE,
    counted: bool = True,
) -> Paged[CaseView]:
    """`list_cases` in the caller's unit of work; without `counted`, the total is only that
    of the page (for a picker that shows no count)."""
    if status not in (None, "open", "closed"):
        raise InvalidInput("status must be open or closed")
    if page.offset:
        raise InvalidInput("offset: cases are paged by cursor (each page's next_cursor)")
    viewer = require(uow, principal, SystemAction.VIEW_CASES, actor, "user:case:list")
    query = select(Case).where(visible_cases(viewer))
    if status:
        query = query.where(Case.status == status)
    total = count_up_to(uow, query.with_only_columns(Case.id)) if counted else None
    if page.after is not None:
        opened, case_id = cursors.decode(page.after, datetime, int)
        # The first condition bounds the walk along the creation index; the second
        # skips the cases of the same instant already shown.
        query = query.where(
            Case.created_at <= opened, or_(Case.created_at < opened, Case.id < case_id)
        )
    found = list(
        uow.session.scalars(
            query.order_by(Case.created_at.desc(), Case.id.desc()).limit(page.limit + 1)
        )
    )
    shown = found[: page.limit]
    more = len(found) > page.limit
    return Paged[CaseView](
        items=_case_views(uow, shown),
        total=total.total if total else len(shown),
        total_exact=total.exact if total else not more,
        limit=page.limit,
        offset=0,
        cursor=page.after,
        next_cursor=cursors.encode(shown[-1].created_at, shown[-1].id) if more else None,
    )


def get_case(system: System, principal: Principal, case_id: int, actor: Actor) -> CaseDetail:
    """One case the principal may see, with its recordings."""
    with system.unit_of_work() as uow:
        require_role(
            uow, principal, SystemAction.VIEW_CASES, actor, "user:case:view", "case", str(case_id)
        )
        return _case_detail(uow, open_case(uow, principal, case_id))


def add_to_case(
    system: System,
    principal: Principal,
    case_id: int,
    recording_id: str,
    reason: str | None,
    actor: Actor,
) -> CaseRecordingChanged:
    """Add a recording to an open case you work on: it is kept while the case is open."""
    reason = optional_reason(reason)
    tag = "user:case:add_recording"
    with system.unit_of_work() as uow:
        case = open_case(uow, principal, case_id, lock=True)
        if case.status != "open":
            raise Conflict(f"case {case.reference} is closed: reopen it first")
        # The case is the stated reason for reaching this footage, and it is audited.
        sight = open_recording(
            uow,
            principal,
            recording_id,
            Action.ADD_TO_CASE,
            actor,
            tag,
            stated_reason=True,
            lock=True,
        )
        if uow.session.get(CaseRecording, (case_id, recording_id)) is not None:
            raise Conflict(f"this recording is in case {case.reference} already")
        uow.session.add(
            CaseRecording(
                case_id=case_id,
                recording_id=recording_id,
                added_by=actor.name,
                added_at=uow.now(),
                reason=reason,
            )
        )
        uow.session.flush()
        effect = record_change(
            uow,
            sight,
            actor,
            tag,
            reason=reason,
            details={"case": case_id, "reference": case.reference},
        )
        uow.commit()
        return CaseRecordingChanged(
            case_id=case_id, recording_id=recording_id, **effect.model_dump()
        )


def remove_from_case(
    system: System,
    principal: Principal,
    case_id: int,
    recording_id: str,
    reason: str,
    actor: Actor,
) -> CaseRecordingChanged:
    """Take a recording out of a case, with a reason; its other rules then decide."""
    reason = check_reason(reason, "removing a recording from a case")
    tag = "user:case:remove_recording"
    with system.unit_of_work() as uow:
        case = open_case(uow, principal, case_id, lock=True)
        sight = open_recording(
            uow,
            principal,
            recording_id,
            Action.ADD_TO_CASE,
            actor,
            tag,
            stated_reason=True,
            lock=True,
        )
        removed = uow.session.execute(
            delete(CaseRecording).where(
                CaseRecording.case_id == case_id, CaseRecording.recording_id == recording_id
            )
        )
        if removed.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound(f"this recording is not in case {case.reference}")
        # Material disclosed to someone outside the force stays on the schedule it was
        # disclosed from: the share and its delivery receipt name that line.
        disclosed = uow.session.scalar(
            select(ShareItem.share_id)
            .join(ScheduleItem, ScheduleItem.id == ShareItem.schedule_item_id)
            .where(ScheduleItem.case_id == case_id, ScheduleItem.recording_id == recording_id)
            .limit(1)
        )
        if disclosed is not None:
            raise Conflict(
                f"this recording was disclosed from case {case.reference} (share {disclosed}): "
                "it stays in the case"
            )
        # Its lines of the case's disclosure schedule (and its clips') go with it: the
        # schedule is of the case's material; the audit event says what they were.
        unscheduled = [
            {"clip": item.clip_id, "use": item.use, "reference": item.reference}
            for item in uow.session.scalars(
                select(ScheduleItem)
                .where(ScheduleItem.case_id == case_id, ScheduleItem.recording_id == recording_id)
                .order_by(ScheduleItem.id)
            )
        ]
        uow.session.execute(
            delete(ScheduleItem).where(
                ScheduleItem.case_id == case_id, ScheduleItem.recording_id == recording_id
            )
        )
        details: dict[str, object] = {"case": case_id, "reference": case.reference}
        if unscheduled:
            details["schedule_items_removed"] = unscheduled
        effect = record_change(uow, sight, actor, tag, reason=reason, details=details)
        uow.commit()
        return CaseRecordingChanged(
            case_id=case_id, recording_id=recording_id, **effect.model_dump()
        )


def add_case_member(
    system: System, principal: Principal, case_id: int, username: str, actor: Actor
) -> CaseView:
    """Add someone to a case's team (they then see its footage, as the access rules allow)."""
    with system.unit_of_work() as uow:
        require_role(
            uow,
            principal,
            SystemAction.MANAGE_CASES,
            actor,
            "user:case:add_member",
            "case",
            str(case_id),
        )
        case = open_case(uow, principal, case_id, lock=True)
        user_id = _user(uow, username)
        if uow.session.get(CaseMember, (case_id, user_id)) is None:
            uow.session.add(
                CaseMember(
                    case_id=case_id, user_id=user_id, added_by=actor.name, added_at=uow.now()
                )
            )
            uow.audit(
                "user:case:add_member",
                actor,
                object_type="case",
                object_id=str(case_id),
                details={"member": username},
            )
        uow.commit()
        return _case_view(uow, case)


def close_case(
    system: System,
    principal: Principal,
    case_id: int,
    reason: str,
    actor: Actor,
    disposal_days: int | Keep | None = KEEP,
) -> CaseDetail:
    """Close a case and apply its disposal rule to every recording in it."""
    reason = check_reason(reason, "closing a case")
    if not isinstance(disposal_days, Keep):
        disposal_days = check_disposal_days(disposal_days)
    return _set_status(system, principal, case_id, "closed", reason, actor, disposal_days)


def reopen_case(
    system: System, principal: Principal, case_id: int, reason: str, actor: Actor
) -> CaseDetail:
    """Reopen a closed case: its recordings that remain are kept again."""
    reason = check_reason(reason, "reopening a case")
    return _set_status(system, principal, case_id, "open", reason, actor, KEEP)


def _set_status(
    system: System,
    principal: Principal,
    case_id: int,
    status: str,
    reason: str,
    actor: Actor,
    disposal_days: int | Keep | None,
) -> CaseDetail:
    tag = "user:case:close" if status == "closed" else "user:case:reopen"
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_CASES, actor, tag, "case", str(case_id))
        case = open_case(uow, principal, case_id, lock=True)
        if case.status == status:
            raise Conflict(f"case {case.reference} is {status} already")
        recordings = list(
            uow.session.scalars(
                select(Recording)
                .where(
                    Recording.id.in_(
                        select(CaseRecording.recording_id).where(CaseRecording.case_id == case_id)
                    ),
                    Recording.state != DELETED,
                )
                .order_by(Recording.id)
                .with_for_update()
            )
        )
        case.status = status
        if status == "closed":
            case.closed_at, case.closed_by, case.close_reason = uow.now(), actor.name, reason
            if not isinstance(disposal_days, Keep):
                case.disposal_days = disposal_days
        else:
            case.closed_at = case.closed_by = case.close_reason = None
        uow.session.flush()
        changes = recompute(uow, recordings)
        uow.audit(
            tag,
            actor,
            object_type="case",
            object_id=str(case_id),
            reason=reason,
            details={
                "reference": case.reference,
                "disposal_days": case.disposal_days,
                "recordings": {c.recording_id: due_details(c) for c in changes},
            },
        )
        uow.commit()
        return _case_detail(uow, case)
