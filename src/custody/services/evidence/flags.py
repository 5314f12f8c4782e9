"""Evidence flags and holds: with cases (custody.services.evidence.cases), what keeps footage
whatever its category.

Each change locks the recordings it touches (in id order), recomputes their retention
and writes an audit event with its reason and its effect on the deletion date.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from custody.db.models import Officer, Recording
from custody.db.models.lifecycle import EvidenceFlag, Hold
from custody.domain.access import Action, decide
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.lifecycle import (
    check_reason,
    check_window,
    hold_visible_to,
    parse_hold_kind,
)
from custody.domain.principal import Principal
from custody.domain.retention import DELETED, HoldKind
from custody.services.access import checked_recording, recording_facts, viewer_for
from custody.services.evidence.categories import hold_json
from custody.services.retention.facts import due_details, recompute
from custody.services.system import System

MAX_HOLD_RECORDINGS = 5000


# --- evidence flags ----------------------------------------------------------------------


def flag_evidence(
    system: System, principal: Principal, recording_id: str, reason: str, actor: Actor
) -> dict[str, Any]:
    """Flag a recording as evidence: it is kept until every flag is cleared."""
    reason = check_reason(reason, "an evidence flag")
    tag = "user:recording:flag_evidence"
    with system.unit_of_work() as uow:
        # The reason is the investigator's stated reason, kept in the audit trail.
        recording = checked_recording(
            uow, principal, recording_id, Action.FLAG_EVIDENCE, actor, tag, stated_reason=True
        )
        flag = EvidenceFlag(
            recording_id=recording_id, reason=reason, flagged_by=actor.name, flagged_at=uow.now()
        )
        uow.session.add(flag)
        uow.session.flush()
        (change,) = recompute(uow, [recording])
        uow.audit(
            tag,
            actor,
            object_type="recording",
            object_id=recording_id,
            reason=reason,
            details={"flag": flag.id} | due_details(change),
        )
        uow.commit()
        return _flag_json(flag) | due_details(change)


def clear_evidence_flag(
    system: System,
    principal: Principal,
    recording_id: str,
    flag_id: int,
    reason: str,
    actor: Actor,
) -> dict[str, Any]:
    """Clear one evidence flag; with none left the categories decide again (after notice)."""
    reason = check_reason(reason, "clearing an evidence flag")
    tag = "user:recording:clear_evidence"
    with system.unit_of_work() as uow:
        recording = checked_recording(
            uow, principal, recording_id, Action.FLAG_EVIDENCE, actor, tag, stated_reason=True
        )
        flag = uow.session.get(EvidenceFlag, flag_id)
        if flag is None or flag.recording_id != recording_id or flag.cleared_at is not None:
            raise NotFound(f"no active evidence flag {flag_id} on recording {recording_id}")
        flag.cleared_at, flag.cleared_by, flag.clear_reason = uow.now(), actor.name, reason
        uow.session.flush()
        (change,) = recompute(uow, [recording])
        uow.audit(
            tag,
            actor,
            object_type="recording",
            object_id=recording_id,
            reason=reason,
            details={"flag": flag_id} | due_details(change),
        )
        uow.commit()
        return _flag_json(flag) | due_details(change)


def _flag_json(flag: EvidenceFlag) -> dict[str, Any]:
    return {
        "id": flag.id,
        "recording_id": flag.recording_id,
        "reason": flag.reason,
        "flagged_by": flag.flagged_by,
        "flagged_at": isoformat(flag.flagged_at),
        "cleared_at": isoformat(flag.cleared_at) if flag.cleared_at else None,
        "cleared_by": flag.cleared_by,
        "clear_reason": flag.clear_reason,
    }


# --- holds -------------------------------------------------------------------------------


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
) -> list[dict[str, Any]]:
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
        if officer:
            concerns = uow.session.scalar(
                select(Officer.id).where(Officer.warrant_number == officer)
            )
            if concerns is None:
                raise InvalidInput(f"no officer with warrant number {officer!r}")
            assert since is not None and until is not None
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
        recordings = [
            checked_recording(uow, principal, rid, action, actor, tag, stated_reason=True)
            for rid in ids
        ]
        holds = [
            Hold(
                recording_id=recording.id,
                kind=hold_kind.value,
                reason=reason,
                concerns_officer_id=(
                    (concerns or recording.officer_id) if hold_kind is HoldKind.COMPLAINT else None
                ),
                placed_by=actor.name,
                placed_at=uow.now(),
            )
            for recording in recordings
        ]
        uow.session.add_all(holds)
        uow.session.flush()
        changes = recompute(uow, recordings)
        placed = []
        for hold, change in zip(holds, changes, strict=True):
            uow.audit(
                tag,
                actor,
                object_type="recording",
                object_id=hold.recording_id,
                reason=reason,
                details={"hold": hold.id, "kind": hold_kind.value} | due_details(change),
            )
            placed.append(hold_json(hold))
        uow.commit()
        return placed


def lift_hold(
    system: System, principal: Principal, hold_id: int, reason: str, actor: Actor
) -> dict[str, Any]:
    """Lift a hold, with a reason; the recording's other rules decide again (after notice)."""
    reason = check_reason(reason, "lifting a hold")
    tag = "user:recording:lift_hold"
    with system.unit_of_work() as uow:
        hold = uow.session.get(Hold, hold_id)
        if hold is None:
            raise NotFound(f"no hold {hold_id}")
        recording = checked_recording(
            uow, principal, hold.recording_id, Action.LIFT_HOLD, actor, tag
        )
        if not hold_visible_to(
            principal.role, principal.officer_id, HoldKind(hold.kind), hold.concerns_officer_id
        ):
            raise NotFound(f"no hold {hold_id}")
        if hold.lifted_at is not None:
            raise Conflict(f"hold {hold_id} was lifted already")
        hold.lifted_at, hold.lifted_by, hold.lift_reason = uow.now(), actor.name, reason
        uow.session.flush()
        (change,) = recompute(uow, [recording])
        uow.audit(
            tag,
            actor,
            object_type="recording",
            object_id=hold.recording_id,
            reason=reason,
            details={"hold": hold_id, "kind": hold.kind} | due_details(change),
        )
        uow.commit()
        return hold_json(hold) | due_details(change)


def list_holds(
    system: System,
    principal: Principal,
    actor: Actor,
    *,
    recording_id: str | None = None,
    active: bool = True,
) -> list[dict[str, Any]]:
    """Holds the principal may see (VIEW_HOLDS); a complaint hold never to its officer."""
    with system.unit_of_work() as uow:
        viewer = viewer_for(uow, principal)
        query = select(Hold).order_by(Hold.placed_at.desc(), Hold.id.desc()).limit(1000)
        if recording_id:
            query = query.where(Hold.recording_id == recording_id)
        if active:
            query = query.where(Hold.lifted_at.is_(None))
        visible = []
        for hold in uow.session.scalars(query):
            recording = uow.session.get(Recording, hold.recording_id)
            assert recording is not None
            if not decide(viewer, Action.VIEW_HOLDS, recording_facts(uow, recording)):
                continue
            if hold_visible_to(
                principal.role, principal.officer_id, HoldKind(hold.kind), hold.concerns_officer_id
            ):
                visible.append(hold_json(hold))
        uow.audit(
            "user:hold:list",
            actor,
            object_type="recording",
            object_id=recording_id,
            details={"active": active, "count": len(visible)},
        )
        uow.commit()
        return visible
