"""Who may use the fleet's routes: the rule each declares and the `Permit` that checks it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from custody.domain.access import SystemAction
from custody.domain.principal import Principal
from custody.web.deps import Permit
from custody.web.guard import access

VIEW = access(SystemAction.VIEW_FLEET)
MANAGE = access(SystemAction.MANAGE_FLEET)
FleetViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_FLEET))]
FleetManager = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_FLEET))]


def fleet_router() -> APIRouter:
    """A router for one part of the fleet API, shown under "fleet" in the documentation."""
    return APIRouter(tags=["fleet"])
