"""Who holds which camera: personal issue, pool cameras taken by card at a dock, returns,
retirement and loss; the assignment history; and the officer behind a recording.

Every change ends the camera's open assignment (if any) and opens the next in the
same transaction, with an audit event for each, so the history has no gaps or
overlaps and can answer "who held camera X at time T?" for ever after.

Provenance at ingest: the officer of a recording is the one whose assignment of its
camera covers the recording's start, because the history is what the force itself
recorded when it handed the camera over. The camera's signed manifest also names an
officer (whatever the dock last programmed into the camera); when the two differ the
history wins and the recording is flagged `officer_mismatch` for a person to look at.
The signed manifest is kept verbatim either way, so nothing the camera asserted is
lost. With no covering assignment the manifest's officer stands, except on a pool
camera, whose manifest then names only its previous holder: no officer is recorded
and the recording is flagged `officer_unassigned`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, Row, Select, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from custody.db.models import Camera, Dock, IngestFlag, Officer
from custody.db.models.fleet import CameraAssignment
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, InvalidInput, NotFound, UnknownCamera
from custody.domain.fleet import (
    OUT_OF_SERVICE,
    AssignmentEnd,
    CameraStatus,
    IssueMode,
    Refusal,
    check_checkout,
    check_issue,
    check_lost,
    check_retire,
    check_return,
)
from custody.domain.manifest import Manifest
from custody.domain.principal import Principal
from custody.services.access import camera_at_station, require_role
from custody.services.fleet.answers import (
    Assignment,
    CameraHolder,
    Checkout,
    Issued,
    Pooled,
    when,
)
from custody.services.fleet.registry import (
    MAX_UNIT,
    DockIdentity,
    camera_by_serial,
    end_assignment,
    normal_card,
    officer_by_warrant,
    open_assignment,
    set_status,
)
from custody.services.system import System, UnitOfWork

MAX_REASON = 500


def _rule(check: Callable[..., None], *args: str | bool) -> None:
    try:
        check(*args)
    except Refusal as exc:
        raise Conflict(str(exc)) from None


def _commit(uow: UnitOfWork, serial: str) -> None:
    """Commit; the open-assignment index turns a lost race into a clear 409."""
    try:
        uow.commit()
    except IntegrityError:
        uow.rollback()
        raise Conflict(f"camera {serial} changed hands at this moment; try again") from None


def _reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason is at most {MAX_REASON} characters")
    return reason.strip()


def issue(
    system: System,
    principal: Principal,
    serial: str,
    officer: str,
    *,
    actor: Actor | None = None,
) -> Issued:
    """Issue a camera to one officer (personal issue) until it is returned or re-issued."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_FLEET, who)
        camera = camera_by_serial(uow, serial, lock=True)
        holder = officer_by_warrant(uow, officer)
        _rule(check_issue, camera.status, serial)
        if camera.officer_id == holder.id and not camera.pool:
            raise Conflict(f"camera {serial} is issued to {officer} already")
        previous = camera.status
        end_assignment(uow, camera, AssignmentEnd.REISSUED, who)
        set_status(uow, camera, CameraStatus.ISSUED)
        # The camera's own line in its history of status (the assignment has its own event).
        uow.audit(
            "fleet:camera:issue",
            who,
            object_type="camera",
            object_id=serial,
            details={"from": previous, "to": CameraStatus.ISSUED.value, "officer": officer},
        )
        camera.pool = False
        camera.borough = holder.unit
        assignment = open_assignment(uow, camera, holder, IssueMode.PERSONAL, who)
        issued = Issued(camera=serial, assignment=_info(uow, assignment))
        _commit(uow, serial)
        return issued


def issue_to_pool(
    system: System,
    principal: Principal,
    serial: str,
    borough: str,
    *,
    actor: Actor | None = None,
) -> Pooled:
    """Put a camera in a borough's pool: carded officers take it at a dock."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_FLEET, who)
        if not 0 < len(borough.strip()) <= MAX_UNIT:
            raise InvalidInput(f"a borough is 1 to {MAX_UNIT} characters")
        camera = camera_by_serial(uow, serial, lock=True)
        _rule(check_issue, camera.status, serial)
        end_assignment(uow, camera, AssignmentEnd.POOLED, who)
        set_status(uow, camera, CameraStatus.ISSUED)
        camera.pool = True
        camera.borough = borough.strip()
        uow.audit(
            "fleet:camera:pool",
            who,
            object_type="camera",
            object_id=serial,
            details={"borough": camera.borough},
        )
        pooled = Pooled(camera=serial, pool=camera.borough)
        _commit(uow, serial)
        return pooled


def _take_out_of_service(
    system: System,
    principal: Principal,
    serial: str,
    status: CameraStatus,
    end: AssignmentEnd,
    check: Callable[[str, str], None],
    tag: str,
    reason: str | None,
    actor: Actor | None,
) -> None:
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_FLEET, who)
        why = _reason(reason)
        camera = camera_by_serial(uow, serial, lock=True)
        _rule(check, camera.status, serial)
        previous = camera.status
        end_assignment(uow, camera, end, who)
        set_status(uow, camera, status)
        if status is CameraStatus.IN_STOCK:
            # Back on the shelf it serves nobody; a pool camera leaves its pool.
            camera.pool = False
            camera.borough = None
        uow.audit(
            tag,
            who,
            object_type="camera",
            object_id=serial,
            reason=why,
            details={"from": previous, "to": status.value},
        )
        _commit(uow, serial)


def return_to_stock(
    system: System,
    principal: Principal,
    serial: str,
    *,
    repair: bool = False,
    reason: str | None = None,
    actor: Actor | None = None,
) -> None:
    """A camera comes back: to stock, or to repair. A lost camera that turns up comes back too."""
    status = CameraStatus.IN_REPAIR if repair else CameraStatus.IN_STOCK
    end = AssignmentEnd.REPAIR if repair else AssignmentEnd.RETURNED
    tag = "fleet:camera:repair" if repair else "fleet:camera:return"
    _take_out_of_service(system, principal, serial, status, end, check_return, tag, reason, actor)


def retire(
    system: System,
    principal: Principal,
    serial: str,
    *,
    reason: str | None = None,
    actor: Actor | None = None,
) -> None:
    """Retire a camera for good; its history and its recordings' provenance stay."""
    _take_out_of_service(
        system,
        principal,
        serial,
        CameraStatus.RETIRED,
        AssignmentEnd.RETIRED,
        check_retire,
        "fleet:camera:retire",
        reason,
        actor,
    )


def report_lost(
    system: System,
    principal: Principal,
    serial: str,
    *,
    reason: str | None = None,
    actor: Actor | None = None,
) -> None:
    """Report a camera lost: if a dock ever sees it again, that is flagged."""
    _take_out_of_service(
        system,
        principal,
        serial,
        CameraStatus.LOST,
        AssignmentEnd.LOST,
        check_lost,
        "fleet:camera:lost",
        reason,
        actor,
    )


def checkout(
    system: System,
    dock: DockIdentity,
    *,
    card_id: str,
    serial: str,
    actor: Actor | None = None,
) -> Checkout:
    """An officer presents their card at a dock and takes a docked pool camera.

    The camera must be a pool camera of this dock's station in service, last reported in
    this dock. Any open
    assignment ends (the previous holder docked it, or never took it out), and the
    card's officer holds it until a dock reports it again. Refusals are audited.
    """
    actor = actor or dock.actor()
    card = normal_card(card_id)
    with system.unit_of_work() as uow:
        try:
            if card is None:
                raise InvalidInput("present a card: card_id is empty")
            officer = uow.session.scalar(select(Officer).where(Officer.card_id == card))
            camera = uow.session.scalar(
                select(Camera).where(Camera.serial == serial).with_for_update()
            )
            # Another station's camera (its pool, its officers') answers as an unknown one.
            if camera is None or not camera_at_station(camera.borough, dock.station):
                raise UnknownCamera(f"camera {serial} is not registered")
            if officer is None:
                raise NotFound("this card belongs to no officer: ask the fleet manager")
            _rule(check_checkout, camera.status, camera.pool, serial)
            if camera.last_dock_id != dock.dock_id:
                raise Conflict(
                    f"camera {serial} was not last reported in dock {dock.name}: "
                    "dock it and try again"
                )
            # One pool camera at a time: the one still out must come back to a dock first.
            other = uow.session.scalar(
                select(Camera.serial)
                .join(CameraAssignment, CameraAssignment.camera_id == Camera.id)
                .where(
                    CameraAssignment.officer_id == officer.id,
                    CameraAssignment.kind == IssueMode.POOL.value,
                    CameraAssignment.ended_at.is_(None),
                    Camera.id != camera.id,
                )
            )
            if other is not None:
                raise Conflict(
                    f"officer {officer.warrant_number} has pool camera {other} still: dock it first"
                )
        except (InvalidInput, UnknownCamera, NotFound, Conflict) as exc:
            uow.rollback()
            uow.audit(
                "dock:camera:checkout",
                actor,
                object_type="camera",
                object_id=serial[:80],
                allowed=False,
                reason=exc.message,
            )
            uow.commit()
            raise
        end_assignment(uow, camera, AssignmentEnd.CHECKOUT, actor)
        uow.session.execute(
            update(Dock).where(Dock.id == dock.dock_id).values(last_seen_at=uow.now())
        )
        assignment = open_assignment(
            uow, camera, officer, IssueMode.POOL, actor, dock_id=dock.dock_id
        )
        result = Checkout(
            assignment_id=assignment.id,
            camera=serial,
            officer=officer.warrant_number,
            # The warrant number goes on the camera; the name only to the officer's station.
            officer_name=officer.name if officer.unit == dock.station else None,
            started_at=isoformat(assignment.started_at),
        )
        _commit(uow, serial)
        return result


def _query() -> Select[CameraAssignment, str, str, str, str | None]:
    dock = aliased(Dock)
    return (
        select(CameraAssignment, Camera.serial, Officer.warrant_number, Officer.name, dock.name)
        .join(Camera, Camera.id == CameraAssignment.camera_id)
        .join(Officer, Officer.id == CameraAssignment.officer_id)
        .outerjoin(dock, dock.id == CameraAssignment.dock_id)
    )


def _row_info(row: Row[CameraAssignment, str, str, str, str | None]) -> Assignment:
    a, serial, warrant, name, dock_name = row
    return Assignment(
        id=a.id,
        camera=serial,
        officer=warrant,
        officer_name=name,
        kind=a.kind,
        started_at=isoformat(a.started_at),
        started_by=a.started_by,
        dock=dock_name,
        ended_at=when(a.ended_at),
        ended_by=a.ended_by,
        end_reason=a.end_reason,
    )


def _info(uow: UnitOfWork, assignment: CameraAssignment) -> Assignment:
    row = uow.session.execute(_query().where(CameraAssignment.id == assignment.id)).one()
    return _row_info(row)


def history(
    system: System,
    principal: Principal,
    *,
    camera: str | None = None,
    officer: str | None = None,
    limit: int = 200,
    actor: Actor | None = None,
) -> list[Assignment]:
    """A camera's or an officer's assignments, newest first."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
        return assignments_of(uow, camera=camera, officer=officer, limit=limit)


def assignments_of(
    uow: UnitOfWork, *, camera: str | None = None, officer: str | None = None, limit: int = 200
) -> list[Assignment]:
    """A camera's or an officer's assignments, newest first (for a use case that has asked)."""
    if camera is None and officer is None:
        raise InvalidInput("name a camera or an officer")
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be 1 to 1000")
    query = _query()
    if camera is not None:
        camera_by_serial(uow, camera)
        query = query.where(Camera.serial == camera)
    if officer is not None:
        officer_by_warrant(uow, officer)
        query = query.where(Officer.warrant_number == officer)
    rows = uow.session.execute(
        query.order_by(CameraAssignment.started_at.desc(), CameraAssignment.id.desc()).limit(limit)
    ).all()
    return [_row_info(row) for row in rows]


def _covering(at: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (
        CameraAssignment.started_at <= at,
        or_(CameraAssignment.ended_at.is_(None), CameraAssignment.ended_at > at),
    )


def holder_at(
    system: System,
    principal: Principal,
    serial: str,
    at: datetime,
    *,
    actor: Actor | None = None,
) -> CameraHolder:
    """Who held a camera at a moment (its assignment then), if anyone did."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
        found = camera_by_serial(uow, serial)
        row = uow.session.execute(
            _query()
            .where(CameraAssignment.camera_id == found.id, *_covering(at))
            .order_by(CameraAssignment.started_at.desc())
            .limit(1)
        ).first()
        return CameraHolder(
            camera=serial, at=isoformat(at), assignment=None if row is None else _row_info(row)
        )


def officer_at_ingest(
    uow: UnitOfWork, camera: Camera, manifest: Manifest, dock_id: int | None, actor: Actor
) -> int | None:
    """The officer a new recording carries (see the module's docstring), flagging doubts.

    Runs in the ingest's own transaction, so the flags stand or fall with the recording.
    """
    session = uow.session
    at = manifest.started_at
    held = session.execute(
        select(CameraAssignment.officer_id, Officer.warrant_number)
        .join(Officer, Officer.id == CameraAssignment.officer_id)
        .where(CameraAssignment.camera_id == camera.id, *_covering(at))
        .order_by(CameraAssignment.started_at.desc())
        .limit(1)
    ).first()
    claimed = manifest.officer_id
    flags: list[tuple[str, str]] = []
    if camera.status in OUT_OF_SERVICE:
        # Nothing is lost: the footage is kept, and people are told.
        flags.append(
            (
                f"camera_{camera.status}",
                f"camera {camera.serial} is {camera.status} but recorded this at "
                f"{isoformat(at)}; the footage was kept",
            )
        )
    if held is not None:
        officer_id, warrant = held
        if claimed != warrant:
            flags.append(
                (
                    "officer_mismatch",
                    f"the camera's signed manifest names officer {claimed or 'none'}; "
                    f"the assignment history has {warrant} holding camera {camera.serial} "
                    f"at {isoformat(at)}, which the recording carries",
                )
            )
    elif camera.pool:
        officer_id = None
        flags.append(
            (
                "officer_unassigned",
                f"pool camera {camera.serial} recorded at {isoformat(at)} with no officer "
                f"holding it (taken without a card?); its manifest names "
                f"{claimed or 'no officer'}, its previous holder",
            )
        )
    else:
        officer_id = None
        if claimed is not None:
            officer_id = session.scalar(select(Officer.id).where(Officer.warrant_number == claimed))
    for kind, detail in flags:
        session.add(
            IngestFlag(
                kind=kind,
                recording_id=manifest.recording_id,
                camera_serial=camera.serial,
                dock_id=dock_id,
                detail=detail,
                raised_at=uow.now(),
            )
        )
        uow.audit(
            f"dock:recording:{kind}",
            actor,
            object_type="recording",
            object_id=manifest.recording_id,
            reason=detail,
            details={"camera": camera.serial, "manifest_officer": claimed},
        )
    return officer_id
