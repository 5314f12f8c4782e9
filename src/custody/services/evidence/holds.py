"""Holds: a legal hold keeps footage for litigation; a complaint hold is professional
standards' own, kept while a complaint is looked into, and never shown to the officer it
concerns nor to anyone who may not see complaints (`services.access` decides who).

Each change locks the recordings it touches (in id order), recomputes their retention
and writes an audit event with its reason and its effect on the deletion date.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from custody.db.models import Officer, Recording
from custody.db.models.lifecycle import CaseRecording, Hold
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.lifecycle import check_reason, check_window, parse_hold_kind
from custody.domain.principal import Principal
from custody.domain.retention import DELETED, HoldKind
from custody.services.access import (
    Sight,
    audited_effect,
    open_case,
    open_hold,
    open_recording,
    record_change,
    refuse,
    require_any_footage,
    sight_of,
    viewer_for,
)
from custody.services.evidence.answers import HoldLifted, HoldView
from custody.services.evidence.categories import hold_view
from custody.services.retention.facts import recompute
from custody.services.system import System, UnitOfWork

MAX_HOLD_RECORDINGS = 5000


def place_hold(
    system: System,
    principal: Principal,
    *,
    kind: str,
    reason: str,
    actor: Actor,
    recording_ids: list[str] | None = None,
    officer: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[HoldView]:
    """Hold recordings (by id, or an officer's footage in a time window) until lifted."""
    hold_kind = parse_hold_kind(kind)
    reason = check_reason(reason, "a hold")
    if bool(recording_ids) == bool(officer):
        raise InvalidInput("give recording_ids, or an officer with since and until")
    if officer:
        check_window(since, until)
    # A complaint hold is professional standards' own (the access contract says who).
    action = Action.PLACE_COMPLAINT_HOLD if hold_kind is HoldKind.COMPLAINT else Action.PLACE_HOLD
    tag = "user:recording:place_hold"
    with system.unit_of_work() as uow:
        concerns: int | None = None
        if officer and since is not None and until is not None:
            # Access first: whether an officer or their footage exists is told only to
            # those who may act on any footage.
            require_any_footage(uow, principal, action, actor, tag)
            concerns = uow.session.scalar(
                select(Officer.id).where(Officer.warrant_number == officer)
            )
            if concerns is None:
                raise InvalidInput(f"no officer with warrant number {officer!r}")
            ids = list(
                uow.session.scalars(
                    select(Recording.id)
                    .where(
                        Recording.officer_id == concerns,
                        Recording.started_at >= since,
                        Recording.started_at < until,
                        Recording.state != DELETED,
                    )
                    .order_by(Recording.id)
                    .limit(MAX_HOLD_RECORDINGS + 1)
                )
            )
        else:
            ids = sorted(set(recording_ids or []))
        if len(ids) > MAX_HOLD_RECORDINGS:
            raise InvalidInput(f"at most {MAX_HOLD_RECORDINGS} recordings in one hold request")
        # Every recording is checked and locked (in id order) before anything is written:
        # the audit chain's head is locked by the first event, and the sweep takes a
        # recording's lock before the head's, so taking them the other way could deadlock.
        sights = [
            open_recording(uow, principal, rid, action, actor, tag, stated_reason=True, lock=True)
            for rid in ids
        ]
        placed = hold_recordings(
            uow,
            sights,
            kind=hold_kind,
            reason=reason,
            actor=actor,
            tag=tag,
            concerns=concerns,
        )
        uow.commit()
        return placed


def hold_case(
    system: System,
    principal: Principal,
    case_id: int,
    *,
    kind: str,
    reason: str,
    actor: Actor,
) -> list[HoldView]:
    """Hold every recording of a case, one hold each, until lifted: its footage outlives
    the case's disposal rule when the case closes. All or nothing: a person who may not
    hold one of its recordings holds none, and hears it without that recording's id."""
    hold_kind = parse_hold_kind(kind)
    reason = check_reason(reason, "a hold")
    action = Action.PLACE_COMPLAINT_HOLD if hold_kind is HoldKind.COMPLAINT else Action.PLACE_HOLD
    tag = "user:recording:place_hold"
    with system.unit_of_work() as uow:
        case = open_case(uow, principal, case_id, lock=True)
        ids = sorted(
            uow.session.scalars(
                select(CaseRecording.recording_id).where(CaseRecording.case_id == case_id)
            )
        )
        viewer = viewer_for(uow, principal, stated_reason=True)
        sights = []
        for rid in ids:  # locked in id order, as `place_hold` does (the sweep's order)
            recording = uow.session.get(
                Recording, rid, with_for_update=True, populate_existing=True
            )
            if recording is None or recording.state == DELETED:
                continue
            sight = sight_of(uow, viewer, recording)
            if not sight.may(action):
                raise refuse(
                    uow,
                    actor,
                    tag,
                    f"may not place this hold on every recording of case {case.reference}",
                    object_type="case",
                    object_id=str(case_id),
                    conceal=False,
                    missing="",
                )
            sights.append(sight)
        if not sights:
            raise InvalidInput(f"case {case.reference} has no footage to hold")
        placed = hold_recordings(
            uow,
            sights,
            kind=hold_kind,
            reason=reason,
            actor=actor,
            tag=tag,
            details={"case": case_id, "reference": case.reference},
        )
        uow.commit()
        return placed


def hold_recordings(
    uow: UnitOfWork,
    sights: list[Sight],
    *,
    kind: HoldKind,
    reason: str,
    actor: Actor,
    tag: str,
    concerns: int | None = None,
    complaint_id: int | None = None,
    details: dict[str, object] | None = None,
) -> list[HoldView]:
    """Hold recordings already opened (and locked, in id order) through the door: one hold
    each, their retention decided again, one audit event each with its effect."""
    holds = [
        Hold(
            recording_id=sight.recording.id,
            kind=kind.value,
            reason=reason,
            concerns_officer_id=(
                (concerns or sight.recording.officer_id) if kind is HoldKind.COMPLAINT else None
            ),
            complaint_id=complaint_id,
            placed_by=actor.name,
            placed_at=uow.now(),
        )
        for sight in sights
    ]
    uow.session.add_all(holds)
    uow.session.flush()
    changes = recompute(uow, [sight.recording for sight in sights])
    placed = []
    for hold, change, sight in zip(holds, changes, sights, strict=True):
        effect = audited_effect(uow, sight.viewer, change)
        told: dict[str, object] = {"hold": hold.id, "kind": kind.value} | (details or {})
        if complaint_id is not None:
            told["complaint"] = complaint_id
        uow.audit(
            tag,
            actor,
            object_type="recording",
            object_id=hold.recording_id,
            reason=reason,
            details=told | effect.model_dump(),
        )
        placed.append(hold_view(hold))
    return placed


def lift_hold(
    system: System, principal: Principal, hold_id: int, reason: str, actor: Actor
) -> HoldLifted:
    """Lift a hold, with a reason; the recording's other rules decide again (after notice)."""
    reason = check_reason(reason, "lifting a hold")
    tag = "user:recording:lift_hold"
    with system.unit_of_work() as uow:
        hold, sight = open_hold(uow, principal, hold_id, Action.LIFT_HOLD, actor, tag)
        if hold.lifted_at is not None:
            raise Conflict(f"hold {hold_id} was lifted already")
        hold.lifted_at, hold.lifted_by, hold.lift_reason = uow.now(), actor.name, reason
        uow.session.flush()
        effect = record_change(
            uow, sight, actor, tag, reason=reason, details={"hold": hold_id, "kind": hold.kind}
        )
        uow.commit()
        return HoldLifted(**hold_view(hold).model_dump(), **effect.model_dump())


def list_holds(
    system: System,
    principal: Principal,
    actor: Actor,
    *,
    recording_id: str | None = None,
    case_id: int | None = None,
    active: bool = True,
) -> list[HoldView]:
    """Holds the principal may see: on footage whose holds they may see, a complaint hold
    only to those who see complaints and never to its officer. `case_id`: on the footage
    of a case the principal may see."""
    with system.unit_of_work() as uow:
        viewer = viewer_for(uow, principal)
        query = select(Hold).order_by(Hold.placed_at.desc(), Hold.id.desc()).limit(1000)
        if recording_id:
            query = query.where(Hold.recording_id == recording_id)
        if case_id is not None:
            open_case(uow, principal, case_id)
            query = query.where(
                Hold.recording_id.in_(
                    select(CaseRecording.recording_id).where(CaseRecording.case_id == case_id)
                )
            )
        if active:
            query = query.where(Hold.lifted_at.is_(None))
        found = list(uow.session.scalars(query))
        recordings = {
            r.id: r
            for r in uow.session.scalars(
                select(Recording).where(Recording.id.in_({h.recording_id for h in found}))
            )
        }
        sights = {rid: sight_of(uow, viewer, r) for rid, r in recordings.items()}
        visible = [
            hold_view(hold)
            for hold in found
            if hold.recording_id in sights
            and sights[hold.recording_id].shows_hold(hold.kind, hold.concerns_officer_id)
        ]
        uow.audit(
            "user:hold:list",
            actor,
            object_type="recording",
            object_id=recording_id,
            details={"active": active, "count": len(visible)}
            | ({} if case_id is None else {"case": case_id}),
        )
        uow.commit()
        return visible
