"""A dock's token revoked: a dock PC stolen, replaced or taken out of service.

From the moment of revocation the dock's token opens nothing (`registry.authenticate_dock`
refuses it): no manifest, no upload, no report. What it already uploaded stays, with its
receipts; the dock stays on the register, marked revoked, so its history still reads.
"""

from __future__ import annotations

from sqlalchemy import func, select

from custody.db.models import Camera, Dock
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.services.access import require_role
from custody.services.fleet.answers import DockRevoked, DockView, when
from custody.services.system import System

MAX_REASON = 500


def get_dock(
    system: System, principal: Principal, name: str, *, actor: Actor | None = None
) -> DockView:
    """One dock, as the docks list shows it."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
        dock = uow.session.scalar(select(Dock).where(Dock.name == name))
        if dock is None:
            raise NotFound(f"no dock {name}")
        docked = uow.session.scalar(
            select(func.count(Camera.id)).where(Camera.last_dock_id == dock.id)
        )
        return DockView(
            name=dock.name,
            station=dock.station,
            bays=dock.bays,
            created_at=isoformat(dock.created_at),
            last_seen_at=when(dock.last_seen_at),
            revoked=dock.revoked_at is not None,
            cameras_last_docked_here=docked or 0,
        )


def revoke_dock(
    system: System,
    principal: Principal,
    name: str,
    *,
    reason: str,
    actor: Actor | None = None,
) -> DockRevoked:
    """Revoke a dock's token for good, with a reason kept in the audit trail."""
    who = actor or principal.actor()
    why = reason.strip()
    with system.unit_of_work() as uow:
        require_role(
            uow, principal, SystemAction.MANAGE_FLEET, who, "fleet:dock:revoke", "dock", name[:80]
        )
        if not why:
            raise InvalidInput("say why the dock's token is revoked")
        if len(why) > MAX_REASON:
            raise InvalidInput(f"a reason is at most {MAX_REASON} characters")
        dock = uow.session.scalar(select(Dock).where(Dock.name == name).with_for_update())
        if dock is None:
            raise NotFound(f"no dock {name}")
        if dock.revoked_at is not None:
            raise Conflict(f"dock {name}'s token was revoked already")
        dock.revoked_at = uow.now()
        uow.audit("fleet:dock:revoke", who, object_type="dock", object_id=name[:80], reason=why)
        uow.commit()
        return DockRevoked(name=name, revoked_at=isoformat(dock.revoked_at))
