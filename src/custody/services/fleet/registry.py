"""The fleet: officers, cameras and docks, and what docks report about cameras.

Every use case that acts for a person takes their `principal` (never optional) and asks
the one door, `custody.services.access.require`, which audits a refusal: the API, the
portal and the command line (`custody fleet … --as USER`) alike. What docks say (reports,
heartbeats) is authenticated by the dock's token instead: a dock is not a person.
Assignment of cameras to officers is in `assignments`, CSV import in `importing`, the
roll-out in `rollout`, alerts in `health`, and the fleet managers' lists in `views`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy import or_, select, update

from custody.db import officer_locks
from custody.db.models import Camera, CameraReport, Dock, IngestFlag, Officer
from custody.db.models.fleet import CameraAssignment
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    UnknownCamera,
)
from custody.domain.fleet import (
    CAMERA_STATUSES,
    OUT_OF_SERVICE,
    AssignmentEnd,
    CameraStatus,
    IssueMode,
)
from custody.domain.principal import Principal
from custody.domain.signing import load_public_key
from custody.services.access import camera_at_station, require_role
from custody.services.fleet.answers import CameraRegistered, DockRegistered, OfficerAdded
from custody.services.identity.tokens import DOCK_TOKEN_PREFIX, new_token, token_hash
from custody.services.system import System, UnitOfWork

WARRANT_NUMBER = re.compile(r"^[A-Za-z0-9]{2,32}$")
SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# An RFID card's id as a reader gives it: hex or decimal digits, maybe with separators.
CARD_ID = re.compile(r"^[A-Za-z0-9:-]{4,64}$")
MAX_NAME = 200
MAX_RANK = 64
MAX_UNIT = 120
MAX_MODEL = 120
MAX_FIRMWARE = 64
MAX_DOCKED_LIST = 64

__all__ = ["CAMERA_STATUSES", "DockIdentity"]


@dataclass(frozen=True)
class DockIdentity:
    """The dock a request comes from: it may upload and report, nothing else."""

    dock_id: int
    name: str
    # The station it stands in (the dock's own `station` field): a dock sees the uploads
    # and receipts of its station's docks only.
    station: str

    def actor(self, address: str | None = None, user_agent: str | None = None) -> Actor:
        return Actor(f"dock:{self.name}", address, user_agent)


# --- checking what people type ---


def normal_card(card_id: str | None) -> str | None:
    """A card id as stored: trimmed and upper-case, so readers that differ in case agree."""
    if card_id is None or not card_id.strip():
        return None
    return card_id.strip().upper()


def officer_problems(
    warrant_number: str, name: str, rank: str, unit: str, card_id: str | None
) -> list[tuple[str, str]]:
    """What is wrong with an officer's details, as (field, why) pairs; empty when fine."""
    problems = []
    if not WARRANT_NUMBER.match(warrant_number):
        problems.append(("warrant_number", "a warrant number is 2 to 32 letters and digits"))
    if not name.strip() or len(name.strip()) > MAX_NAME:
        problems.append(("name", f"a name is 1 to {MAX_NAME} characters"))
    if len(rank.strip()) > MAX_RANK:
        problems.append(("rank", f"a rank is at most {MAX_RANK} characters"))
    if not unit.strip() or len(unit.strip()) > MAX_UNIT:
        problems.append(("unit", f"a unit is 1 to {MAX_UNIT} characters"))
    card = normal_card(card_id)
    if card is not None and not CARD_ID.match(card):
        problems.append(("card_id", "a card id is 4 to 64 letters, digits, ':' or '-'"))
    return problems


def camera_problems(
    serial: str, model: str, firmware: str, public_key: str, status: str
) -> list[tuple[str, str]]:
    """What is wrong with a camera's details, as (field, why) pairs; empty when fine."""
    problems = []
    if not SERIAL.match(serial):
        problems.append(("serial", "a serial is letters, digits, '.', '_' or '-' (at most 64)"))
    if not model.strip() or len(model.strip()) > MAX_MODEL:
        problems.append(("model", f"a model is 1 to {MAX_MODEL} characters"))
    if not firmware.strip() or len(firmware.strip()) > MAX_FIRMWARE:
        problems.append(("firmware", f"a firmware version is 1 to {MAX_FIRMWARE} characters"))
    try:
        load_public_key(public_key)
    except Exception:
        problems.append(("public_key", "not a base64 Ed25519 public key"))
    if status not in CAMERA_STATUSES:
        problems.append(("status", f"status must be one of: {', '.join(CAMERA_STATUSES)}"))
    return problems


def _refuse(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise InvalidInput("; ".join(f"{field}: {why}" for field, why in problems))


# --- looking things up inside a unit of work ---


def officer_by_warrant(uow: UnitOfWork, warrant_number: str) -> Officer:
    officer = uow.session.scalar(select(Officer).where(Officer.warrant_number == warrant_number))
    if officer is None:
        raise NotFound(f"no officer with warrant number {warrant_number!r}")
    return officer


def camera_by_serial(uow: UnitOfWork, serial: str, *, lock: bool = False) -> Camera:
    query = select(Camera).where(Camera.serial == serial)
    # Changes to one camera (issue, checkout, docking) queue behind each other on PostgreSQL.
    camera = uow.session.scalar(query.with_for_update() if lock else query)
    if camera is None:
        raise NotFound(f"no camera with serial {serial!r}")
    return camera


# --- the assignment history's two primitives (services.assignments builds on them) ---


def open_assignment(
    uow: UnitOfWork,
    camera: Camera,
    officer: Officer,
    kind: IssueMode,
    actor: Actor,
    *,
    dock_id: int | None = None,
) -> CameraAssignment:
    """Record that `officer` holds `camera` from now on; the camera's holder follows."""
    if camera.id is None:
        uow.session.flush()  # a camera registered in this transaction needs its id first
    assignment = CameraAssignment(
        camera_id=camera.id,
        officer_id=officer.id,
        kind=kind.value,
        started_at=uow.now(),
        started_by=actor.name[:160],
        dock_id=dock_id,
    )
    uow.session.add(assignment)
    camera.officer_id = officer.id
    uow.session.flush()
    uow.audit(
        "fleet:assignment:start",
        actor,
        object_type="camera",
        object_id=camera.serial,
        details={
            "officer": officer.warrant_number,
            "kind": kind.value,
            "assignment": assignment.id,
        },
    )
    return assignment


def end_assignment(
    uow: UnitOfWork, camera: Camera, reason: AssignmentEnd, actor: Actor
) -> CameraAssignment | None:
    """End the camera's open assignment, if it has one; the camera then has no holder."""
    open_one = uow.session.scalar(
        select(CameraAssignment).where(
            CameraAssignment.camera_id == camera.id, CameraAssignment.ended_at.is_(None)
        )
    )
    camera.officer_id = None
    if open_one is None:
        return None
    open_one.ended_at = uow.now()
    open_one.ended_by = actor.name[:160]
    open_one.end_reason = reason.value
    warrant = uow.session.scalar(
        select(Officer.warrant_number).where(Officer.id == open_one.officer_id)
    )
    uow.session.flush()
    uow.audit(
        "fleet:assignment:end",
        actor,
        object_type="camera",
        object_id=camera.serial,
        details={"officer": warrant, "reason": reason.value, "assignment": open_one.id},
    )
    return open_one


def set_status(uow: UnitOfWork, camera: Camera, status: CameraStatus) -> None:
    camera.status = status.value
    camera.status_changed_at = uow.now()


# --- registering ---


def add_officer(
    system: System,
    principal: Principal,
    warrant_number: str,
    *,
    name: str,
    unit: str,
    rank: str = "PC",
    card_id: str | None = None,
    actor: Actor | None = None,
) -> OfficerAdded:
    """Add an officer; their card id (optional) lets them take pool cameras at a dock."""
    who = actor or principal.actor()
    card = normal_card(card_id)
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_FLEET, who)
        _refuse(officer_problems(warrant_number, name, rank, unit, card_id))
        exists = uow.session.scalar(
            select(Officer.id).where(Officer.warrant_number == warrant_number)
        )
        if exists is not None:
            raise Conflict(f"officer {warrant_number} exists already")
        if card is not None and _card_holder(uow, card) is not None:
            raise Conflict("that card is another officer's already")
        officer = Officer(
            warrant_number=warrant_number,
            name=name.strip(),
            rank=rank.strip() or "PC",
            unit=unit.strip(),
            card_id=card,
            created_at=uow.now(),
        )
        uow.session.add(officer)
        uow.session.flush()
        uow.audit(
            "fleet:officer:create",
            who,
            object_type="officer",
            object_id=warrant_number,
            details={
                "name": officer.name,
                "unit": officer.unit,
                "rank": officer.rank,
                "card": card is not None,
            },
        )
        uow.commit()
        return OfficerAdded(warrant_number=officer.warrant_number)


def _card_holder(uow: UnitOfWork, card: str) -> str | None:
    return uow.session.scalar(select(Officer.warrant_number).where(Officer.card_id == card))


def update_officer(
    system: System,
    principal: Principal,
    warrant_number: str,
    *,
    name: str | None = None,
    rank: str | None = None,
    unit: str | None = None,
    card_id: str | None = None,
    clear_card: bool = False,
    actor: Actor | None = None,
) -> None:
    """Change an officer's details or card (a lost card is cleared, a new one set)."""
    who = actor or principal.actor()
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_FLEET, who)
        officer = officer_by_warrant(uow, warrant_number)
        new = {
            "name": officer.name if name is None else name,
            "rank": officer.rank if rank is None else rank,
            "unit": officer.unit if unit is None else unit,
        }
        card = None if clear_card else (normal_card(card_id) or officer.card_id)
        _refuse(officer_problems(warrant_number, new["name"], new["rank"], new["unit"], card))
        if card is not None and card != officer.card_id:
            holder = _card_holder(uow, card)
            if holder is not None:
                raise Conflict(f"that card is officer {holder}'s already")
        changed = {
            key: value.strip()
            for key, value in new.items()
            if value.strip() != getattr(officer, key)
        }
        if "unit" in changed:
            # Before the officer's row changes: see `custody.db.officer_locks`.
            officer_locks.hold_for_move(uow.session, officer.id)
        for key, value in changed.items():
            setattr(officer, key, value)
        card_changed = card != officer.card_id
        officer.card_id = card
        if not changed and not card_changed:
            return
        uow.audit(
            "fleet:officer:update",
            who,
            object_type="officer",
            object_id=warrant_number,
            details={**changed, **({"card": card is not None} if card_changed else {})},
        )
        uow.commit()


def add_camera(
    system: System,
    principal: Principal,
    *,
    serial: str,
    model: str,
    firmware: str,
    public_key: str,
    officer: str | None = None,
    status: str | None = None,
    pool: bool = False,
    borough: str | None = None,
    actor: Actor | None = None,
) -> CameraRegistered:
    """Register a camera and the public key its manifests are signed with.

    With `officer` it is issued to them (personal issue); with `pool` it joins `borough`'s
    pool. Otherwise it is in stock, unless `status` says otherwise.
    """
    who = actor or principal.actor()
    issued = officer is not None or pool
    status = status or (CameraStatus.ISSUED if issued else CameraStatus.IN_STOCK)
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_FLEET, who)
        _refuse(camera_problems(serial, model, firmware, public_key, status))
        if officer is not None and pool:
            raise InvalidInput("a camera is issued to one officer or to a pool, not both")
        if issued and status != CameraStatus.ISSUED:
            raise InvalidInput("a camera issued to an officer or a pool has status 'issued'")
        if pool and (borough is None or not borough.strip()):
            raise InvalidInput("a pool camera needs the borough whose pool it joins")
        session = uow.session
        if session.scalar(select(Camera.id).where(Camera.serial == serial)) is not None:
            raise Conflict(f"camera {serial} is registered already")
        holder = officer_by_warrant(uow, officer) if officer is not None else None
        now = uow.now()
        camera = Camera(
            serial=serial,
            model=model.strip(),
            firmware=firmware.strip(),
            public_key=public_key,
            status=status,
            pool=pool,
            borough=holder.unit if holder is not None else (borough or "").strip() or None,
            registered_at=now,
            status_changed_at=now,
        )
        session.add(camera)
        session.flush()
        uow.audit(
            "fleet:camera:register",
            who,
            object_type="camera",
            object_id=serial,
            details={
                "model": camera.model,
                "firmware": camera.firmware,
                "officer": officer,
                "status": status,
                "pool": pool,
                "borough": camera.borough,
            },
        )
        if holder is not None:
            open_assignment(uow, camera, holder, IssueMode.PERSONAL, who)
        uow.commit()
        return CameraRegistered(serial=camera.serial)


def add_dock(
    system: System,
    principal: Principal,
    name: str,
    *,
    station: str | None = None,
    bays: int = 8,
    actor: Actor | None = None,
) -> DockRegistered:
    """Register a dock; the answer holds its token, shown once (only its hash is kept)."""
    who = actor or principal.actor()
    token = new_token(DOCK_TOKEN_PREFIX)
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.MANAGE_FLEET, who)
        if not SERIAL.match(name):
            raise InvalidInput("a dock name is letters, digits, '.', '_' or '-' (at most 64)")
        if not 1 <= bays <= 64:
            raise InvalidInput("a dock has 1 to 64 bays")
        if station is not None and not 0 < len(station.strip()) <= MAX_UNIT:
            raise InvalidInput(f"a station is 1 to {MAX_UNIT} characters")
        if uow.session.scalar(select(Dock.id).where(Dock.name == name)) is not None:
            raise Conflict(f"dock {name} exists already")
        uow.session.add(
            Dock(
                name=name,
                station=(station or "").strip() or name.rsplit("-", 1)[0],
                bays=bays,
                token_hash=token_hash(token),
                created_at=uow.now(),
            )
        )
        uow.audit(
            "fleet:dock:register",
            who,
            object_type="dock",
            object_id=name,
            details={"bays": bays},
        )
        uow.commit()
    return DockRegistered(name=name, token=token)


def authenticate_dock(system: System, token: str) -> DockIdentity:
    if not token.startswith(DOCK_TOKEN_PREFIX):
        raise NotAuthenticated("not a dock token")
    with system.unit_of_work() as uow:
        dock = uow.session.scalar(select(Dock).where(Dock.token_hash == token_hash(token)))
        if dock is None or dock.revoked_at is not None:
            raise NotAuthenticated("unknown or revoked dock token")
        return DockIdentity(dock.id, dock.name, dock.station)


# --- what docks say ---


def report_camera(
    system: System,
    dock: DockIdentity,
    *,
    serial: str,
    bay: str,
    battery_percent: int | None,
    free_bytes: int | None,
    firmware: str | None,
    recordings_waiting: int,
    detail: dict[str, object] | None = None,
    actor: Actor | None = None,
) -> None:
    """A dock's word about a docked camera: keeps fleet health current.

    A report means the camera is in a bay: a pool camera's assignment ends here. A
    camera retired or reported lost that turns up in a dock is flagged for people.
    """
    if battery_percent is not None and not 0 <= battery_percent <= 100:
        raise InvalidInput("battery_percent must be 0 to 100")
    if free_bytes is not None and free_bytes < 0:
        raise InvalidInput("free_bytes cannot be negative")
    if recordings_waiting < 0:
        raise InvalidInput("recordings_waiting cannot be negative")
    actor = actor or dock.actor()
    with system.unit_of_work() as uow:
        session = uow.session
        camera = session.scalar(select(Camera).where(Camera.serial == serial).with_for_update())
        if camera is None or not camera_at_station(camera.borough, dock.station):
            # Another station's camera answers as one that is not registered.
            uow.audit(
                "dock:camera:report",
                actor,
                object_type="camera",
                object_id=serial,
                allowed=False,
                reason="unknown camera" if camera is None else "another station's camera",
            )
            uow.commit()
            raise UnknownCamera(f"camera {serial} is not registered")
        now = uow.now()
        session.add(
            CameraReport(
                camera_id=camera.id,
                dock_id=dock.dock_id,
                bay=bay[:200],
                battery_percent=battery_percent,
                free_bytes=free_bytes,
                firmware=firmware,
                recordings_waiting=recordings_waiting,
                reported_at=now,
                detail=json.dumps(detail or {}),
            )
        )
        camera.last_docked_at = now
        camera.last_dock_id = dock.dock_id
        camera.battery_percent = battery_percent
        camera.free_bytes = free_bytes
        if firmware:
            camera.firmware = firmware[:MAX_FIRMWARE]
        if camera.pool:
            end_assignment(uow, camera, AssignmentEnd.DOCKED, actor)
        if camera.status in OUT_OF_SERVICE:
            _flag_out_of_service(uow, camera, dock, actor)
        session.execute(update(Dock).where(Dock.id == dock.dock_id).values(last_seen_at=now))
        uow.commit()


def _flag_out_of_service(uow: UnitOfWork, camera: Camera, dock: DockIdentity, actor: Actor) -> None:
    """A dock has a camera the force retired or lost: someone must find out who holds it."""
    kind = f"camera_{camera.status}"
    detail = f"camera {camera.serial} is {camera.status} but was docked at {dock.name}"
    uow.session.add(
        IngestFlag(
            kind=kind,
            camera_serial=camera.serial,
            dock_id=dock.dock_id,
            detail=detail,
            raised_at=uow.now(),
        )
    )
    uow.audit(
        f"dock:camera:{kind}",
        actor,
        object_type="camera",
        object_id=camera.serial,
        reason=detail,
    )


def heartbeat(
    system: System, dock: DockIdentity, docked: list[str], actor: Actor | None = None
) -> int:
    """A dock is alive, and these cameras sit in its bays (charging, their footage safe).

    Cameras of another station's borough are left alone, as unregistered ones are (the rule
    of `camera_at_station`, as a query). Not audited: it changes no record of substance, and
    every dock sends one every few minutes. Returns how many of the serials are registered
    cameras of the station.
    """
    if len(docked) > MAX_DOCKED_LIST:
        raise InvalidInput(f"a dock reports at most {MAX_DOCKED_LIST} docked cameras")
    for serial in docked:
        if not SERIAL.match(serial):
            raise InvalidInput(f"{serial[:64]!r} is not a camera serial")
    with system.unit_of_work() as uow:
        now = uow.now()
        uow.session.execute(update(Dock).where(Dock.id == dock.dock_id).values(last_seen_at=now))
        known = 0
        if docked:
            result = uow.session.execute(
                update(Camera)
                .where(
                    Camera.serial.in_(sorted(set(docked))),
                    # Only the station's cameras (and those serving no borough) count.
                    or_(Camera.borough.is_(None), Camera.borough == dock.station),
                )
                .values(last_docked_at=now, last_dock_id=dock.dock_id)
            )
            known = int(getattr(result, "rowcount", 0) or 0)
        uow.commit()
        return known
