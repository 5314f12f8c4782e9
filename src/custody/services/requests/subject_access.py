"""Subject access requests, from receipt to close.

Data protection registers a request (its clock starts on the day it was received), finds
candidate footage by time, officer and place, attaches recordings — each held (a legal
hold naming the request) so that the sweep cannot delete it mid-request — marks each as
reviewed or attaches its approved redacted copy, has a second person approve, releases
through a share of the request's own (the disclosure sharing: a link by e-mail, a one-time
code, a receipt when the requester acknowledges), and closes with a record,
which lifts exactly the holds the request placed. Every step is audited; only those who
answer subject access requests learn that any exists (`services.access.open_subject_access`).
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import date, datetime

from sqlalchemy import func, select

from custody.db.models import Officer, Recording
from custody.db.models.lifecycle import Hold
from custody.db.models.redaction import Redaction
from custody.db.models.shares import Share, ShareItem
from custody.db.models.subject_access import SubjectAccessItem, SubjectAccessRequest
from custody.domain.access import Action, SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.lifecycle import check_reason
from custody.domain.principal import Principal
from custody.domain.retention import DELETED, HoldKind
from custody.domain.shares import RecipientKind, ShareState, expiry
from custody.domain.subject_access import (
    RedactionStatus,
    check_extension,
    check_place,
    check_registration,
    clock,
    passes_within,
    release_refusal,
)
from custody.services.access import (
    open_recording,
    open_subject_access,
    record_change,
    require_role,
    sight_of,
    viewer_for,
)
from custody.services.disclosure import mail
from custody.services.disclosure.share_answers import IssuedCode
from custody.services.disclosure.share_records import (
    LINK_PATH,
    digest,
    end_sessions,
    share_state,
    summaries,
)
from custody.services.disclosure.shares import mail_link, new_code, set_code
from custody.services.evidence.holds import hold_recordings
from custody.services.requests.answers import (
    AttachedRecording,
    Candidate,
    Release,
    Released,
    RequestDetail,
    RequestView,
)
from custody.services.system import System, UnitOfWork

MAX_NAME = 200
MAX_EMAIL = 254
MAX_DESCRIPTION = 4000
MAX_ATTACHED = 200
MAX_CANDIDATES = 200
# Candidates are narrowed by time (and officer) in SQL before their GPS tracks are read.
MAX_SCANNED = 5000


def _check_text(value: str, what: str, most: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"a request needs {what}")
    if len(value) > most:
        raise InvalidInput(f"{what} has at most {most} characters")
    return value


def _check_email(email: str) -> str:
    email = _check_text(email, "the requester's email address", MAX_EMAIL)
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email):
        raise InvalidInput(f"{email!r} is not an email address")
    return email


def register_request(
    system: System,
    principal: Principal,
    *,
    requester_name: str,
    requester_email: str,
    received_on: date,
    description: str,
    actor: Actor,
) -> RequestView:
    """Register a request on receipt; its deadline runs from the day it was received."""
    tag = "user:subject_access:register"
    name = _check_text(requester_name, "the requester's name", MAX_NAME)
    email = _check_email(requester_email)
    description = _check_text(description, "a description", MAX_DESCRIPTION)
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.ANSWER_SUBJECT_ACCESS, actor, tag)
        check_registration(received_on, uow.now().date())
        request = SubjectAccessRequest(
            reference=f"pending-{uuid.uuid4().hex}"[:32],
            requester_name=name,
            requester_email=email,
            description=description,
            received_on=received_on,
            extension_months=0,
            # The person, not the channel (web or API): approval compares the two people.
            registered_by=principal.username,
            registered_at=uow.now(),
        )
        uow.session.add(request)
        uow.session.flush()
        request.reference = f"SAR-{received_on.year}-{request.id:05d}"
        uow.session.flush()
        uow.audit(
            tag,
            actor,
            object_type="subject_access_request",
            object_id=request.reference,
            details={"received_on": received_on.isoformat()},
        )
        view = _view(uow, request)
        uow.commit()
        return view


def list_open(system: System, principal: Principal, actor: Actor) -> list[RequestView]:
    """Open requests, the nearest deadline first."""
    tag = "user:subject_access:list"
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.ANSWER_SUBJECT_ACCESS, actor, tag)
        requests = list(
            uow.session.scalars(
                select(SubjectAccessRequest)
                .where(SubjectAccessRequest.closed_at.is_(None))
                .order_by(SubjectAccessRequest.received_on, SubjectAccessRequest.id)
                .limit(500)
            )
        )
        views = sorted((_view(uow, r) for r in requests), key=lambda v: (v.due_on, v.reference))
        uow.audit(tag, actor, object_type="system", object_id="-", details={"count": len(views)})
        uow.commit()
        return views


def get_request(
    system: System, principal: Principal, reference: str, actor: Actor
) -> RequestDetail:
    """A request and its attached recordings, each with its redaction status."""
    tag = "user:subject_access:view"
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag)
        detail = _detail(uow, request)
        uow.audit(tag, actor, object_type="subject_access_request", object_id=request.reference)
        uow.commit()
        return detail


def extend_request(
    system: System, principal: Principal, reference: str, months: int, reason: str, actor: Actor
) -> RequestView:
    """Extend the deadline by one or two months in all, with the reason the requester is told."""
    tag = "user:subject_access:extend"
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag, lock=True)
        _still_open(request)
        reason = check_extension(request.extension_months, months, reason)
        request.extension_months += months
        request.extension_reason = reason
        uow.session.flush()
        uow.audit(
            tag,
            actor,
            object_type="subject_access_request",
            object_id=request.reference,
            reason=reason,
            details={"months": months, "extension_months": request.extension_months},
        )
        view = _view(uow, request)
        uow.commit()
        return view


def find_candidates(
    system: System,
    principal: Principal,
    reference: str,
    *,
    since: datetime | None,
    until: datetime | None,
    officer: str | None = None,
    near: tuple[float, float, float] | None = None,
    actor: Actor,
) -> list[Candidate]:
    """Recordings overlapping the window, of the officer if named, whose GPS track passes
    within the radius of the point if one is given (latitude, longitude, metres)."""
    tag = "user:subject_access:search"
    if since is None or until is None:
        raise InvalidInput("a search for footage needs since and until")
    if until <= since:
        raise InvalidInput("until must be after since")
    if near is not None:
        check_place(*near)
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag)
        query = (
            select(Recording, Officer.warrant_number)
            .outerjoin(Officer, Officer.id == Recording.officer_id)
            .where(
                Recording.started_at < until,
                Recording.ended_at > since,
                Recording.state != DELETED,
            )
            .order_by(Recording.started_at, Recording.id)
            .limit(MAX_SCANNED)
        )
        if officer:
            query = query.where(Officer.warrant_number == officer.strip())
        attached = set(
            uow.session.scalars(
                select(SubjectAccessItem.recording_id).where(
                    SubjectAccessItem.request_id == request.id
                )
            )
        )
        found = []
        for recording, warrant in uow.session.execute(query):
            if near is not None and not passes_within(_track(recording), *near):
                continue
            found.append(
                Candidate(
                    recording_id=recording.id,
                    officer=warrant,
                    started_at=isoformat(recording.started_at),
                    ended_at=isoformat(recording.ended_at),
                    attached=recording.id in attached,
                )
            )
            if len(found) >= MAX_CANDIDATES:
                break
        uow.audit(
            tag,
            actor,
            object_type="subject_access_request",
            object_id=request.reference,
            details={
                "since": isoformat(since),
                "until": isoformat(until),
                "officer": officer,
                "near": list(near) if near else None,
                "found": len(found),
            },
        )
        uow.commit()
        return found


def _track(recording: Recording) -> list[tuple[float, float]]:
    try:
        points = json.loads(recording.gps_track or "[]")
        return [(float(p["lat"]), float(p["lon"])) for p in points]
    except (ValueError, KeyError, TypeError):
        return []


def attach_recording(
    system: System, principal: Principal, reference: str, recording_id: str, actor: Actor
) -> RequestDetail:
    """Attach a recording to the request and hold it until the request closes."""
    tag = "user:subject_access:attach"
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag, lock=True)
        _still_open(request)
        if request.approved_by is not None:
            raise Conflict(f"{request.reference} is approved: nothing more is attached")
        if uow.session.get(SubjectAccessItem, (request.id, recording_id)) is not None:
            raise Conflict(f"recording {recording_id} is attached already")
        count = uow.session.scalar(
            select(func.count()).where(SubjectAccessItem.request_id == request.id)
        )
        if (count or 0) >= MAX_ATTACHED:
            raise InvalidInput(f"a request holds at most {MAX_ATTACHED} recordings")
        sight = open_recording(
            uow,
            principal,
            recording_id,
            Action.PLACE_HOLD,
            actor,
            "user:recording:place_hold",
            stated_reason=True,
            lock=True,
        )
        (hold,) = hold_recordings(
            uow,
            [sight],
            kind=HoldKind.LEGAL,
            reason=f"subject access request {request.reference}",
            actor=actor,
            tag="user:recording:place_hold",
        )
        uow.session.add(
            SubjectAccessItem(
                request_id=request.id,
                recording_id=sight.recording.id,
                hold_id=hold.id,
                redaction=RedactionStatus.PENDING.value,
                attached_by=actor.name,
                attached_at=uow.now(),
            )
        )
        uow.session.flush()
        uow.audit(
            tag,
            actor,
            object_type="subject_access_request",
            object_id=request.reference,
            details={"recording": sight.recording.id, "hold": hold.id},
        )
        detail = _detail(uow, request)
        uow.commit()
        return detail


def detach_recording(
    system: System,
    principal: Principal,
    reference: str,
    recording_id: str,
    reason: str,
    actor: Actor,
) -> RequestDetail:
    """Detach a recording (it does not show the requester): its hold is lifted."""
    tag = "user:subject_access:detach"
    reason = check_reason(reason, "detaching a recording")
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag, lock=True)
        _still_open(request)
        if request.approved_by is not None:
            raise Conflict(f"{request.reference} is approved: its recordings are settled")
        item = _item(uow, request, recording_id)
        _lift(uow, principal, [item], reason, actor, request)
        uow.session.delete(item)
        uow.session.flush()
        uow.audit(
            tag,
            actor,
            object_type="subject_access_request",
            object_id=request.reference,
            reason=reason,
            details={"recording": recording_id},
        )
        detail = _detail(uow, request)
        uow.commit()
        return detail


def mark_recording(
    system: System,
    principal: Principal,
    reference: str,
    recording_id: str,
    status: str,
    actor: Actor,
) -> RequestDetail:
    """Mark where an attached recording's redaction stands. Until the redaction work renders
    copies, a person marks each: reviewed with no third parties, or a redacted copy attached."""
    tag = "user:subject_access:mark"
    try:
        marked = RedactionStatus(status)
    except ValueError:
        choices = ", ".join(s.value for s in RedactionStatus)
        raise InvalidInput(f"a redaction status is one of: {choices}") from None
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag, lock=True)
        _still_open(request)
        if request.approved_by is not None:
            raise Conflict(f"{request.reference} is approved: its recordings are settled")
        item = _item(uow, request, recording_id)
        item.redaction, item.marked_by = marked.value, actor.name
        uow.session.flush()
        uow.audit(
            tag,
            actor,
            object_type="subject_access_request",
            object_id=request.reference,
            details={"recording": recording_id, "redaction": marked.value},
        )
        detail = _detail(uow, request)
        uow.commit()
        return detail


def approve_request(
    system: System, principal: Principal, reference: str, actor: Actor
) -> RequestView:
    """A second person approves the release: not the one who prepared the request."""
    tag = "user:subject_access:approve"
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag, lock=True)
        _still_open(request)
        if request.approved_by is not None:
            raise Conflict(f"{request.reference} was approved already")
        refusal = release_refusal(
            _statuses(uow, request), request.registered_by, principal.username
        )
        if refusal is not None:
            raise Conflict(refusal)
        request.approved_by, request.approved_at = principal.username, uow.now()
        uow.session.flush()
        uow.audit(tag, actor, object_type="subject_access_request", object_id=request.reference)
        view = _view(uow, request)
        uow.commit()
        return view


def close_request(
    system: System, principal: Principal, reference: str, record: str, actor: Actor
) -> RequestView:
    """Close with a record of what was done; the holds the request placed are lifted and,
    if its release is still live, the requester's link ends with it: once the holds are
    gone the sweep may delete the footage, and a link must not outlive what it serves."""
    tag = "user:subject_access:close"
    record = check_reason(record, "closing a request (its record)")
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag, lock=True)
        _still_open(request)
        items = list(
            uow.session.scalars(
                select(SubjectAccessItem)
                .where(SubjectAccessItem.request_id == request.id)
                .order_by(SubjectAccessItem.recording_id)
            )
        )
        lifted = _lift(uow, principal, items, f"{request.reference} closed", actor, request)
        ended = _end_release(uow, request, actor)
        request.closed_at, request.closed_by, request.close_record = uow.now(), actor.name, record
        uow.session.flush()
        uow.audit(
            tag,
            actor,
            object_type="subject_access_request",
            object_id=request.reference,
            reason=record,
            details={
                "holds_lifted": lifted,
                "released": request.released_at is not None,
                "share_ended": ended,
            },
        )
        view = _view(uow, request)
        uow.commit()
        return view


def attach_redaction(
    system: System,
    principal: Principal,
    reference: str,
    recording_id: str,
    redaction_id: str,
    actor: Actor,
) -> RequestDetail:
    """Attach an approved redacted copy of an attached recording: it is what the requester
    will receive in place of the original."""
    tag = "user:subject_access:redaction"
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag, lock=True)
        _still_open(request)
        if request.approved_by is not None:
            raise Conflict(f"{request.reference} is approved: its recordings are settled")
        item = _item(uow, request, recording_id)
        row = uow.session.get(Redaction, redaction_id)
        if row is None or row.recording_id != item.recording_id:
            raise NotFound(f"no redaction {redaction_id[:40]!r} of recording {recording_id}")
        if row.state != "rendered" or row.sha256 is None or row.approved_at is None:
            raise Conflict(
                f"redaction {row.id} is not approved for release: "
                "a second person approves a rendered copy first"
            )
        item.redaction = RedactionStatus.REDACTED_COPY.value
        item.redacted_sha256, item.redaction_id = row.sha256, row.id
        item.marked_by = actor.name
        uow.session.flush()
        uow.audit(
            tag,
            actor,
            object_type="subject_access_request",
            object_id=request.reference,
            details={"recording": recording_id, "redaction": row.id, "sha256": row.sha256},
        )
        detail = _detail(uow, request)
        uow.commit()
        return detail


def _released_bytes(
    uow: UnitOfWork, item: SubjectAccessItem, recording: Recording
) -> tuple[str, int]:
    """What the requester receives of this recording: its approved redacted copy, or the
    original where a reviewer found no third parties in it."""
    status = RedactionStatus(item.redaction)
    if status is RedactionStatus.NO_THIRD_PARTIES:
        return recording.sha256, recording.size
    row = uow.session.get(Redaction, item.redaction_id) if item.redaction_id else None
    if (
        status is not RedactionStatus.REDACTED_COPY
        or row is None
        or row.sha256 is None
        or row.size is None
        or row.approved_at is None
    ):
        raise Conflict(
            f"recording {item.recording_id} has no approved redacted copy attached: "
            "attach one before release"
        )
    return row.sha256, row.size


def release_request(
    system: System,
    principal: Principal,
    reference: str,
    actor: Actor,
    *,
    days: int | None = None,
    server_url: str,
) -> Released:
    """Release the approved request's footage to the requester through a share of its own:
    a link by e-mail, a one-time code to the same address, a receipt when they acknowledge.
    Once only, and never before approval or after close."""
    tag = "user:subject_access:release"
    token = secrets.token_urlsafe(32)
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag, lock=True)
        _still_open(request)
        if request.released_at is not None:
            raise Conflict(f"{request.reference} was released already")
        if request.approved_by is None:
            raise Conflict(
                f"{request.reference} is not approved: a second person approves before release"
            )
        items = list(
            uow.session.scalars(
                select(SubjectAccessItem)
                .where(SubjectAccessItem.request_id == request.id)
                .order_by(SubjectAccessItem.attached_at, SubjectAccessItem.recording_id)
            )
        )
        if not items:
            raise Conflict(f"{request.reference} has nothing attached to release")
        share = Share(
            case_id=None,
            subject_access_request_id=request.id,
            recipient_name=request.requester_name,
            recipient_email=request.requester_email,
            recipient_kind=RecipientKind.REQUESTER.value,
            token_hash=digest(token),
            # The right of access is to a copy: the requester may keep what they are sent.
            downloads_allowed=True,
            download_limit=None,
            message="",
            created_by=actor.name,
            created_at=uow.now(),
            expires_at=expiry(uow.now(), days),
            code_failures=0,
        )
        uow.session.add(share)
        uow.session.flush()
        shared = []
        for index, item in enumerate(items, start=1):
            sight = open_recording(
                uow,
                principal,
                item.recording_id,
                Action.SHARE,
                actor,
                "user:recording:share",
                stated_reason=True,
            )
            sha256, size = _released_bytes(uow, item, sight.recording)
            row = ShareItem(
                share_id=share.id,
                schedule_item_id=None,
                recording_id=item.recording_id,
                clip_id=None,
                # The copy it sends, so the receipt and the recipient's page name it.
                redaction_id=item.redaction_id if sha256 != sight.recording.sha256 else None,
                reference=f"{request.reference}/{index}",
                description="redacted copy" if item.redaction_id else "recording",
                sha256=sha256,
                size=size,
                downloads=0,
            )
            uow.session.add(row)
            shared.append((row, item))
        uow.session.flush()
        for row, item in shared:
            uow.audit(
                "user:recording:share",
                actor,
                object_type="recording",
                object_id=row.recording_id,
                details={
                    "share": share.id,
                    "item": row.id,
                    "subject_access": request.reference,
                    "redaction": item.redaction_id,
                    "sha256": row.sha256,
                    "recipient": share.recipient_email,
                },
            )
        request.released_at, request.share_id = uow.now(), share.id
        uow.audit(
            tag,
            actor,
            object_type="subject_access_request",
            object_id=request.reference,
            details={
                "share": share.id,
                "items": [row.id for row, _ in shared],
                "expires_at": isoformat(share.expires_at),
            },
        )
        uow.commit()
        share_id = share.id
        name, email, ref = request.requester_name, request.requester_email, request.reference
    link = f"{(system.settings.public_url or server_url).rstrip('/')}{LINK_PATH}{token}"
    letter = mail.Letter(
        name,
        email,
        f"Your subject access request {ref}",
        f"Dear {name},\n\n"
        f"The footage answering your subject access request {ref} is ready for you.\n\n"
        f"Open it here:\n{link}\n\n"
        "You will be sent a one-time code to this address to prove it is yours. "
        "The link is for you alone: do not forward it.\n",
    )
    mailed, problem = mail_link(system, share_id, letter)
    with system.unit_of_work() as uow:
        found = uow.session.get(SubjectAccessRequest, request.id)
        assert found is not None
        return Released(
            request=_detail(uow, found),
            mailed=mailed,
            link=None if mailed else link,
            mail_problem=problem,
        )


def issue_code(system: System, principal: Principal, reference: str, actor: Actor) -> IssuedCode:
    """A one-time code for the officer to give the requester (by telephone, say) where no
    mail server is set up to send it; any earlier code is void."""
    tag = "user:subject_access:code"
    with system.unit_of_work() as uow:
        request = open_subject_access(uow, principal, reference, actor, tag, lock=True)
        share = (
            uow.session.get(Share, request.share_id, with_for_update=True)
            if request.share_id
            else None
        )
        if share is None:
            raise Conflict(f"{request.reference} has not been released")
        if share_state(uow, share) is not ShareState.ACTIVE:
            raise Conflict(f"the release of {request.reference} has ended")
        code = new_code()
        set_code(uow, share, code)
        uow.audit(
            "user:share:code", actor, object_type="share", object_id=str(share.id),
            details={"subject_access": request.reference},
        )  # fmt: skip
        uow.commit()
        return IssuedCode(code=code, expires_at=isoformat(share.code_expires_at or uow.now()))


# --- helpers -------------------------------------------------------------------------------


def _end_release(uow: UnitOfWork, request: SubjectAccessRequest, actor: Actor) -> int | None:
    """End the request's share if it is still live (as a revocation, said why); its id."""
    share = (
        uow.session.get(Share, request.share_id, with_for_update=True) if request.share_id else None
    )
    if share is None or share_state(uow, share) is not ShareState.ACTIVE:
        return None
    reason = f"{request.reference} closed"
    share.revoked_at, share.revoked_by, share.revoke_reason = uow.now(), actor.name, reason
    share.code_hash = None
    end_sessions(uow, share.id)
    uow.audit("user:share:revoke", actor, object_type="share", object_id=str(share.id),
              reason=reason, details={"subject_access": request.reference})  # fmt: skip
    return share.id


def _still_open(request: SubjectAccessRequest) -> None:
    if request.closed_at is not None:
        raise Conflict(f"{request.reference} is closed")


def _item(uow: UnitOfWork, request: SubjectAccessRequest, recording_id: str) -> SubjectAccessItem:
    item = uow.session.get(SubjectAccessItem, (request.id, recording_id))
    if item is None:
        raise NotFound(f"recording {recording_id[:40]!r} is not attached to {request.reference}")
    return item


def _statuses(uow: UnitOfWork, request: SubjectAccessRequest) -> list[RedactionStatus]:
    return [
        RedactionStatus(s)
        for s in uow.session.scalars(
            select(SubjectAccessItem.redaction).where(SubjectAccessItem.request_id == request.id)
        )
    ]


def _lift(
    uow: UnitOfWork,
    principal: Principal,
    items: list[SubjectAccessItem],
    reason: str,
    actor: Actor,
    request: SubjectAccessRequest,
) -> int:
    """Lift the holds these items placed (recordings locked in id order, as holds.py does)."""
    viewer = viewer_for(uow, principal)
    lifted = 0
    pairs = []
    for item in sorted(items, key=lambda i: i.recording_id):
        hold = uow.session.get(Hold, item.hold_id)
        if hold is None or hold.lifted_at is not None:
            continue
        recording = uow.session.get(
            Recording, item.recording_id, with_for_update=True, populate_existing=True
        )
        assert recording is not None
        pairs.append((hold, sight_of(uow, viewer, recording)))
    now = uow.now()
    for hold, _ in pairs:
        hold.lifted_at, hold.lifted_by, hold.lift_reason = now, actor.name, reason
    uow.session.flush()
    for hold, sight in pairs:
        record_change(
            uow,
            sight,
            actor,
            "user:recording:lift_hold",
            reason=reason,
            details={"hold": hold.id, "kind": hold.kind, "subject_access": request.reference},
        )
        lifted += 1
    return lifted


def _step(request: SubjectAccessRequest) -> str:
    if request.closed_at is not None:
        return "closed"
    if request.released_at is not None:
        return "released"
    if request.approved_by is not None:
        return "approved"
    return "registered"


def _view(uow: UnitOfWork, request: SubjectAccessRequest) -> RequestView:
    today = uow.now().date()
    state = clock(request.received_on, request.extension_months, today)
    count = uow.session.scalar(
        select(func.count()).where(SubjectAccessItem.request_id == request.id)
    )
    return RequestView(
        reference=request.reference,
        requester_name=request.requester_name,
        requester_email=request.requester_email,
        description=request.description,
        received_on=request.received_on.isoformat(),
        due_on=state.due.isoformat(),
        days_left=state.days_left,
        late=state.late and request.closed_at is None,
        extension_months=request.extension_months,
        extension_reason=request.extension_reason,
        registered_by=request.registered_by,
        approved_by=request.approved_by,
        released_at=isoformat(request.released_at) if request.released_at else None,
        closed_at=isoformat(request.closed_at) if request.closed_at else None,
        closed_by=request.closed_by,
        close_record=request.close_record,
        recordings=count or 0,
        step=_step(request),
    )


def _detail(uow: UnitOfWork, request: SubjectAccessRequest) -> RequestDetail:
    rows = uow.session.execute(
        select(SubjectAccessItem, Recording, Officer.warrant_number, Hold.lifted_at)
        .join(Recording, Recording.id == SubjectAccessItem.recording_id)
        .join(Hold, Hold.id == SubjectAccessItem.hold_id)
        .outerjoin(Officer, Officer.id == Recording.officer_id)
        .where(SubjectAccessItem.request_id == request.id)
        .order_by(Recording.started_at, Recording.id)
    ).all()
    copies: dict[str, list[str]] = {}
    for redaction_id, recording_id in uow.session.execute(
        select(Redaction.id, Redaction.recording_id)
        .where(
            Redaction.recording_id.in_([recording.id for _, recording, _, _ in rows]),
            Redaction.state == "rendered",
            Redaction.approved_at.is_not(None),
        )
        .order_by(Redaction.approved_at.desc())
    ):
        copies.setdefault(recording_id, []).append(redaction_id)
    attached = [
        AttachedRecording(
            recording_id=recording.id,
            officer=warrant,
            started_at=isoformat(recording.started_at),
            ended_at=isoformat(recording.ended_at),
            redaction=item.redaction,
            marked_by=item.marked_by,
            held=lifted_at is None,
            redaction_id=item.redaction_id,
            redacted_sha256=item.redacted_sha256,
            copies=copies.get(recording.id, []),
        )
        for item, recording, warrant, lifted_at in rows
    ]
    return RequestDetail(
        **_view(uow, request).model_dump(), attached=attached, release=_release(uow, request)
    )


def _release(uow: UnitOfWork, request: SubjectAccessRequest) -> Release | None:
    share = uow.session.get(Share, request.share_id) if request.share_id else None
    if share is None:
        return None
    (summary,) = summaries(uow, [share], request.reference)
    return Release(
        share_id=share.id,
        state=summary.state,
        expires_at=summary.expires_at,
        items=summary.items,
        acknowledged_at=summary.acknowledged_at,
    )
