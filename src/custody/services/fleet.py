"""The fleet: officers, cameras and docks, and what docks report about cameras."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from custody.audit import Actor
from custody.db.models import Camera, CameraReport, Dock, Officer
from custody.domain.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    UnknownCamera,
)
from custody.domain.signing import load_public_key
from custody.services.system import System
from custody.services.tokens import DOCK_TOKEN_PREFIX, new_token, token_hash

WARRANT_NUMBER = re.compile(r"^[A-Za-z0-9]{2,32}$")
SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CAMERA_STATUSES = ("in_stock", "issued", "in_repair", "retired", "lost")


@dataclass(frozen=True)
class DockIdentity:
    """The dock a request comes from: it may upload and report, nothing else."""

    dock_id: int
    name: str

    def actor(self, address: str | None = None, user_agent: str | None = None) -> Actor:
        return Actor(f"dock:{self.name}", address, user_agent)


def add_officer(
    system: System,
    warrant_number: str,
    *,
    name: str,
    unit: str,
    rank: str = "PC",
    actor: Actor | None = None,
) -> int:
    if not WARRANT_NUMBER.match(warrant_number):
        raise InvalidInput("a warrant number is 2 to 32 letters and digits")
    if not name.strip() or not unit.strip():
        raise InvalidInput("an officer needs a name and a unit")
    with system.unit_of_work() as uow:
        exists = uow.session.scalar(
            select(Officer.id).where(Officer.warrant_number == warrant_number)
        )
        if exists is not None:
            raise Conflict(f"officer {warrant_number} exists already")
        officer = Officer(
            warrant_number=warrant_number,
            name=name.strip(),
            rank=rank.strip() or "PC",
            unit=unit.strip(),
            created_at=uow.now(),
        )
        uow.session.add(officer)
        uow.session.flush()
        uow.audit(
            "fleet:officer:create",
            actor or Actor.system(),
            object_type="officer",
            object_id=warrant_number,
            details={"name": officer.name, "unit": officer.unit, "rank": officer.rank},
        )
        uow.commit()
        return officer.id


def add_camera(
    system: System,
    *,
    serial: str,
    model: str,
    firmware: str,
    public_key: str,
    officer: str | None = None,
    status: str = "issued",
    actor: Actor | None = None,
) -> int:
    """Register a camera and the public key its manifests are signed with."""
    if not SERIAL.match(serial):
        raise InvalidInput("a serial is letters, digits, '.', '_' or '-' (at most 64)")
    if status not in CAMERA_STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(CAMERA_STATUSES)}")
    try:
        load_public_key(public_key)
    except Exception:
        raise InvalidInput("public_key is not a base64 Ed25519 public key") from None
    with system.unit_of_work() as uow:
        session = uow.session
        if session.scalar(select(Camera.id).where(Camera.serial == serial)) is not None:
            raise Conflict(f"camera {serial} is registered already")
        officer_id = None
        if officer is not None:
            officer_id = session.scalar(select(Officer.id).where(Officer.warrant_number == officer))
            if officer_id is None:
                raise NotFound(f"no officer with warrant number {officer!r}")
        camera = Camera(
            serial=serial,
            model=model,
            firmware=firmware,
            public_key=public_key,
            status=status,
            officer_id=officer_id,
            registered_at=uow.now(),
        )
        session.add(camera)
        session.flush()
        uow.audit(
            "fleet:camera:register",
            actor or Actor.system(),
            object_type="camera",
            object_id=serial,
            details={"model": model, "firmware": firmware, "officer": officer},
        )
        uow.commit()
        return camera.id


def add_dock(
    system: System,
    name: str,
    *,
    station: str | None = None,
    bays: int = 8,
    actor: Actor | None = None,
) -> str:
    """Register a dock and return its token (shown once; only its hash is kept)."""
    if not SERIAL.match(name):
        raise InvalidInput("a dock name is letters, digits, '.', '_' or '-' (at most 64)")
    if not 1 <= bays <= 64:
        raise InvalidInput("a dock has 1 to 64 bays")
    token = new_token(DOCK_TOKEN_PREFIX)
    with system.unit_of_work() as uow:
        if uow.session.scalar(select(Dock.id).where(Dock.name == name)) is not None:
            raise Conflict(f"dock {name} exists already")
        uow.session.add(
            Dock(
                name=name,
                station=station or name.rsplit("-", 1)[0],
                bays=bays,
                token_hash=token_hash(token),
                created_at=uow.now(),
            )
        )
        uow.audit(
            "fleet:dock:register",
            actor or Actor.system(),
            object_type="dock",
            object_id=name,
            details={"bays": bays},
        )
        uow.commit()
    return token


def authenticate_dock(system: System, token: str) -> DockIdentity:
    if not token.startswith(DOCK_TOKEN_PREFIX):
        raise NotAuthenticated("not a dock token")
    with system.unit_of_work() as uow:
        dock = uow.session.scalar(select(Dock).where(Dock.token_hash == token_hash(token)))
        if dock is None or dock.revoked_at is not None:
            raise NotAuthenticated("unknown or revoked dock token")
        return DockIdentity(dock.id, dock.name)


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
    detail: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> None:
    """A dock's word about a docked camera: keeps fleet health current."""
    if battery_percent is not None and not 0 <= battery_percent <= 100:
        raise InvalidInput("battery_percent must be 0 to 100")
    if free_bytes is not None and free_bytes < 0:
        raise InvalidInput("free_bytes cannot be negative")
    if recordings_waiting < 0:
        raise InvalidInput("recordings_waiting cannot be negative")
    with system.unit_of_work() as uow:
        session = uow.session
        camera = session.scalar(select(Camera).where(Camera.serial == serial))
        if camera is None:
            uow.audit(
                "dock:camera:report",
                actor or dock.actor(),
                object_type="camera",
                object_id=serial,
                allowed=False,
                reason="unknown camera",
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
            camera.firmware = firmware
        dock_row = session.get(Dock, dock.dock_id)
        if dock_row is not None:
            dock_row.last_seen_at = now
        uow.commit()
