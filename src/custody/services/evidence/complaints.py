"""Complaints: professional standards register a complaint, and Custody holds its footage.

Surrey (IOPC, 2022): footage a complaint handler had watched was deleted after 30 days
because nobody marked it. A registered complaint holds every recording of its officers
that overlaps its window — those stored already, at registration, and every one docked
later (`hold_for_complaints`, in the ingest's own transaction) — until it is closed,
which lifts exactly the holds it placed. Only those who see complaints know of it, never
an officer it names (`services.access.visible_complaints`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from custody.db.models import Officer, Recording
from custody.db.models.lifecycle import Complaint, ComplaintOfficer, Hold
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.lifecycle import (
    check_complaint_officers,
    check_complaint_reference,
    check_reason,
    check_window,
    complaint_covers,
)
from custody.domain.principal import Principal
from custody.domain.retention import DELETED, HoldKind
from custody.services.access import (
    open_complaint,
    open_recording,
    record_change,
    require_any_footage,
    sight_of,
    viewer_for,
    visible_complaints,
)
from custody.services.evidence.answers import ComplaintDetail, ComplaintFootage, ComplaintView
from custody.services.evidence.holds import MAX_HOLD_RECORDINGS, hold_recordings
from custody.services.retention.facts import recompute
from custody.services.system import System, UnitOfWork

MAX_PLACE = 200
MAX_LISTED = 500


def register_complaint(
    system: System,
    principal: Principal,
    *,
    reference: str,
    officers: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    summary: str,
    actor: Actor,
    place: str = "",
) -> ComplaintView:
    """Register a complaint and hold its footage: what is stored now, and what docks later."""
    tag = "user:complaint:register"
    reference = check_complaint_reference(reference)
    summary = check_reason(summary, "a complaint (its summary)")
    warrants = check_complaint_officers(list(officers))
    check_window(since, until)
    assert since is not None and until is not None
    place = place.strip()
    if len(place) > MAX_PLACE:
        raise InvalidInput(f"a place has at most {MAX_PLACE} characters")
    with system.unit_of_work() as uow:
        # Access before any lookup: only a role that may hold anyone's footage registers.
        require_any_footage(uow, principal, Action.PLACE_COMPLAINT_HOLD, actor, tag)
        session = uow.session
        found = dict(
            session.execute(
                select(Officer.warrant_number, Officer.id).where(
                    Officer.warrant_number.in_(warrants)
                )
            ).all()
        )
        unknown = [w for w in warrants if w not in found]
        if unknown:
            raise InvalidInput(f"no officer with warrant number {unknown[0]!r}")
        if session.scalar(select(Complaint.id).where(Complaint.reference == reference)):
            raise Conflict(f"a complaint {reference!r} is registered already")
        # Locked before looking for footage: a recording docking now for one of them waits,
        # or is seen (`hold_for_complaints` takes the same row, shared).
        session.execute(
            select(Officer.id)
            .where(Officer.id.in_(found.values()))
            .order_by(Officer.id)
            .with_for_update()
        )
        complaint = Complaint(
            reference=reference,
            summary=summary,
            place=place,
            since=since,
            until=until,
            registered_by=actor.name,
            registered_at=uow.now(),
        )
        session.add(complaint)
        session.flush()
        session.add_all(
            ComplaintOfficer(complaint_id=complaint.id, officer_id=oid) for oid in found.values()
        )
        ids = list(
            session.scalars(
                select(Recording.id)
                .where(
                    Recording.officer_id.in_(found.values()),
                    Recording.started_at < until,
                    Recording.ended_at > since,
                    Recording.state != DELETED,
                )
                .order_by(Recording.id)
                .limit(MAX_HOLD_RECORDINGS + 1)
            )
        )
        if len(ids) > MAX_HOLD_RECORDINGS:
            raise InvalidInput(
                f"the window holds more than {MAX_HOLD_RECORDINGS} recordings: narrow it"
            )
        # Locked in id order before the first audit event, as every hold is (holds.py).
        sights = [
            open_recording(
                uow,
                principal,
                rid,
                Action.PLACE_COMPLAINT_HOLD,
                actor,
                "user:recording:place_hold",
                stated_reason=True,
                lock=True,
            )
            for rid in ids
        ]
        hold_recordings(
            uow,
            sights,
            kind=HoldKind.COMPLAINT,
            reason=f"complaint {reference}",
            actor=actor,
            tag="user:recording:place_hold",
            complaint_id=complaint.id,
        )
        uow.audit(
            tag,
            actor,
            object_type="complaint",
            object_id=reference,
            reason=summary,
            details={
                "officers": warrants,
                "since": isoformat(since),
                "until": isoformat(until),
                "place": place,
                "recordings_held": len(sights),
                "confidential": True,
            },
        )
        view = _view(uow, complaint)
        uow.commit()
        return view


def hold_for_complaints(uow: UnitOfWork, recording: Recording) -> int:
    """Hold a recording just docked for every open complaint that covers it; in the ingest's
    transaction, so the recording is never stored unheld. Returns how many holds it placed."""
    if recording.officer_id is None:
        return 0
    # The officer's row, shared: a complaint being registered for them locks it exclusively
    # before it looks for their footage, so either it sees this recording or this sees it.
    uow.session.execute(
        select(Officer.id).where(Officer.id == recording.officer_id).with_for_update(read=True)
    )
    complaints = list(
        uow.session.scalars(
            select(Complaint)
            .join(ComplaintOfficer, ComplaintOfficer.complaint_id == Complaint.id)
            .where(
                ComplaintOfficer.officer_id == recording.officer_id,
                Complaint.closed_at.is_(None),
                Complaint.since < recording.ended_at,
                Complaint.until > recording.started_at,
            )
            .order_by(Complaint.id)
        )
    )
    covering = [
        c
        for c in complaints
        if complaint_covers(c.since, c.until, recording.started_at, recording.ended_at)
    ]
    if not covering:
        return 0
    now = uow.now()
    holds = [
        Hold(
            recording_id=recording.id,
            kind=HoldKind.COMPLAINT.value,
            reason=f"complaint {c.reference}",
            concerns_officer_id=recording.officer_id,
            complaint_id=c.id,
            placed_by=f"complaint:{c.reference}",
            placed_at=now,
        )
        for c in covering
    ]
    uow.session.add_all(holds)
    uow.session.flush()
    recompute(uow, [recording], by_person=False)
    actor = Actor("system", confidential=True)
    for hold, complaint in zip(holds, covering, strict=True):
        uow.audit(
            "system:recording:place_hold",
            actor,
            object_type="recording",
            object_id=recording.id,
            reason=f"complaint {complaint.reference}: docked within its window",
            details={"hold": hold.id, "kind": hold.kind, "complaint": complaint.id},
        )
    return len(holds)


def list_complaints(
    system: System, principal: Principal, actor: Actor, *, open_only: bool = False
) -> list[ComplaintView]:
    """The complaints this person may know of, newest first."""
    with system.unit_of_work() as uow:
        query = (
            select(Complaint)
            .where(visible_complaints(uow, principal))
            .order_by(Complaint.registered_at.desc(), Complaint.id.desc())
            .limit(MAX_LISTED)
        )
        if open_only:
            query = query.where(Complaint.closed_at.is_(None))
        found = list(uow.session.scalars(query))
        views = _views(uow, found)
        uow.audit(
            "user:complaint:list",
            actor,
            object_type="system",
            object_id="complaints",
            details={"count": len(views), "confidential": True},
        )
        uow.commit()
        return views


def get_complaint(
    system: System, principal: Principal, reference: str, actor: Actor
) -> ComplaintDetail:
    """A complaint and the footage it holds (each recording as this person may see it)."""
    tag = "user:complaint:view"
    with system.unit_of_work() as uow:
        complaint = open_complaint(uow, principal, reference, actor, tag)
        rows = uow.session.execute(
            select(Hold, Recording, Officer.warrant_number)
            .join(Recording, Recording.id == Hold.recording_id)
            .outerjoin(Officer, Officer.id == Recording.officer_id)
            .where(Hold.complaint_id == complaint.id)
            .order_by(Recording.started_at, Recording.id)
            .limit(MAX_HOLD_RECORDINGS)
        ).all()
        viewer_view = _view(uow, complaint)
        footage = [
            ComplaintFootage(
                recording_id=recording.id,
                officer=warrant,
                started_at=isoformat(recording.started_at),
                ended_at=isoformat(recording.ended_at),
                held_since=isoformat(hold.placed_at),
                lifted_at=isoformat(hold.lifted_at) if hold.lifted_at else None,
            )
            for hold, recording, warrant in rows
        ]
        uow.audit(tag, actor, object_type="complaint", object_id=complaint.reference)
        uow.commit()
        return ComplaintDetail(**viewer_view.model_dump(), footage=footage)


def close_complaint(
    system: System, principal: Principal, reference: str, reason: str, actor: Actor
) -> ComplaintView:
    """Close a complaint: it holds nothing more, and the holds it placed are lifted (each
    recording's other rules decide again, after the pending notice)."""
    reason = check_reason(reason, "closing a complaint")
    tag = "user:complaint:close"
    with system.unit_of_work() as uow:
        require_any_footage(uow, principal, Action.PLACE_COMPLAINT_HOLD, actor, tag)
        complaint = open_complaint(uow, principal, reference, actor, tag, lock=True)
        if complaint.closed_at is not None:
            raise Conflict(f"complaint {complaint.reference!r} was closed already")
        # Recordings in id order, locked before the first audit event (as holds.py does).
        held = list(
            uow.session.scalars(
                select(Hold)
                .where(Hold.complaint_id == complaint.id, Hold.lifted_at.is_(None))
                .order_by(Hold.recording_id, Hold.id)
            )
        )
        viewer = viewer_for(uow, principal)
        sights = []
        for hold in held:
            recording = uow.session.get(
                Recording, hold.recording_id, with_for_update=True, populate_existing=True
            )
            assert recording is not None
            sights.append(sight_of(uow, viewer, recording))
        now = uow.now()
        complaint.closed_at, complaint.closed_by, complaint.close_reason = now, actor.name, reason
        for hold in held:
            hold.lifted_at, hold.lifted_by, hold.lift_reason = now, actor.name, reason
        uow.session.flush()
        for hold, sight in zip(held, sights, strict=True):
            record_change(
                uow,
                sight,
                actor,
                "user:recording:lift_hold",
                reason=reason,
                details={"hold": hold.id, "kind": hold.kind, "complaint": complaint.id},
            )
        uow.audit(
            tag,
            actor,
            object_type="complaint",
            object_id=complaint.reference,
            reason=reason,
            details={"holds_lifted": len(held), "confidential": True},
        )
        view = _view(uow, complaint)
        uow.commit()
        return view


def _view(uow: UnitOfWork, complaint: Complaint) -> ComplaintView:
    return _views(uow, [complaint])[0]


def _views(uow: UnitOfWork, complaints: list[Complaint]) -> list[ComplaintView]:
    ids = [c.id for c in complaints]
    officers: dict[int, list[str]] = {i: [] for i in ids}
    for cid, warrant in uow.session.execute(
        select(ComplaintOfficer.complaint_id, Officer.warrant_number)
        .join(Officer, Officer.id == ComplaintOfficer.officer_id)
        .where(ComplaintOfficer.complaint_id.in_(ids))
        .order_by(Officer.warrant_number)
    ):
        officers[cid].append(warrant)
    held = dict(
        uow.session.execute(
            select(Hold.complaint_id, func.count())
            .where(Hold.complaint_id.in_(ids), Hold.lifted_at.is_(None))
            .group_by(Hold.complaint_id)
        ).all()
    )
    return [
        ComplaintView(
            reference=c.reference,
            summary=c.summary,
            place=c.place,
            officers=officers[c.id],
            since=isoformat(c.since),
            until=isoformat(c.until),
            registered_by=c.registered_by,
            registered_at=isoformat(c.registered_at),
            closed_at=isoformat(c.closed_at) if c.closed_at else None,
            closed_by=c.closed_by,
            close_reason=c.close_reason,
            recordings_held=held.get(c.id, 0),
        )
        for c in complaints
    ]
