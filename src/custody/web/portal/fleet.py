"""Fleet: cameras and docks at a glance, with what needs doing about them first.

The alerts (cameras not docked for days, whose footage is at risk; docks gone silent)
come from `custody.services.fleet.health`, the lists from `custody.services.fleet.views`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.clock import parse_time
from custody.domain.principal import Principal
from custody.services.answers import MAX_PAGE, Answer, Page
from custody.services.cursors import LONGEST
from custody.services.fleet import health as fleet_health
from custody.services.fleet import views
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.pages import PortalRoute, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
FleetViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_FLEET))]
CAMERAS_PAGE = 100
# The worst few alerts head the page; the tables below flag every camera and dock.
ALERTS_SHOWN = 6
LOW_BATTERY = 20
# A camera with less than this free has little room left for a shift's footage.
LOW_SPACE_BYTES = 8 * 1000**3


def _times(item: Answer, *names: str) -> dict[str, object]:
    """The item's fields, its ISO times as datetimes, for the template's filters."""
    fields: dict[str, object] = item.model_dump()
    for name in names:
        value = fields.get(name)
        fields[name] = parse_time(value) if isinstance(value, str) and value else None
    return fields


def _cameras_at(status: str | None, after: str | None) -> str:
    """The fleet page's address with the cameras from the start, or after a cursor."""
    asked = ({"status": status} if status else {}) | ({"after": after} if after else {})
    return f"/fleet?{urlencode(asked)}#cameras-title" if asked else "/fleet#cameras-title"


@router.get("/fleet", openapi_extra=access(SystemAction.VIEW_FLEET))
async def fleet(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    status: str | None = Query(None),
    after: str | None = Query(None, max_length=LONGEST, description="the cameras after this"),
) -> Response:
    actor = user_actor(request, user)
    cameras = await run_in_threadpool(
        lambda: views.list_cameras(
            system,
            user,
            status=status or None,
            page=Page(limit=CAMERAS_PAGE, after=after or None),
            actor=actor,
        )
    )
    docks = await run_in_threadpool(
        lambda: views.list_docks(system, user, page=Page(limit=MAX_PAGE), actor=actor)
    )
    # The worst alerts, and the rows shown flagged by the same rules, however many alerts
    # there are in all: in one transaction.
    health, alerted = await run_in_threadpool(
        lambda: fleet_health.page_health(
            system,
            user,
            cameras=[c.serial for c in cameras.items],
            docks=[d.name for d in docks.items],
            limit=ALERTS_SHOWN,
            actor=actor,
        )
    )
    camera_rows = [_times(c, "last_docked_at") for c in cameras.items]
    dock_rows = [_times(d, "last_seen_at") for d in docks.items]
    return render(
        request,
        "fleet.html",
        user,
        area="fleet",
        title="Fleet",
        health=health,
        alerts=health.alerts,
        cameras=cameras,
        camera_rows=camera_rows,
        dock_rows=dock_rows,
        alerted=alerted,
        status_filter=status or "",
        first_cameras=_cameras_at(status, None) if cameras.cursor else None,
        next_cameras=_cameras_at(status, cameras.next_cursor) if cameras.next_cursor else None,
        low_battery=LOW_BATTERY,
        low_space=LOW_SPACE_BYTES,
        low_battery_count=sum(
            1
            for c in cameras.items
            if c.battery_percent is not None and c.battery_percent < LOW_BATTERY
        ),
    )
