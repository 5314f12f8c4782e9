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
from custody.services.answers import Answer, Page
from custody.services.cursors import LONGEST
from custody.services.fleet import health as fleet_health
from custody.services.fleet import views
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.pages import PortalRoute, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
FleetViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_FLEET))]
CAMERAS_PAGE = 100
# Docks a page: a force has hundreds (ten a borough at the Met), which the page read and
# rendered whole, each with its cameras counted.
DOCKS_PAGE = 50
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


def _fleet_at(status: str | None, after: str | None, docks_after: str | None, to: str) -> str:
    """The fleet page's address showing the cameras and the docks from their start or after
    a cursor each, scrolled to `to` (the list the link pages)."""
    asked = {"status": status, "after": after, "docks_after": docks_after}
    given = {name: value for name, value in asked.items() if value}
    return f"/fleet?{urlencode(given)}#{to}" if given else f"/fleet#{to}"


@router.get("/fleet", openapi_extra=access(SystemAction.VIEW_FLEET))
async def fleet(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    status: str | None = Query(None),
    after: str | None = Query(None, max_length=LONGEST, description="the cameras after this"),
    docks_after: str | None = Query(None, max_length=LONGEST, description="the docks after this"),
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
        lambda: views.list_docks(
            system, user, page=Page(limit=DOCKS_PAGE, after=docks_after or None), actor=actor
        )
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
        docks=docks,
        first_cameras=(
            _fleet_at(status, None, docks_after, "cameras-title") if cameras.cursor else None
        ),
        next_cameras=(
            _fleet_at(status, cameras.next_cursor, docks_after, "cameras-title")
            if cameras.next_cursor
            else None
        ),
        first_docks=_fleet_at(status, after, None, "docks-title") if docks.cursor else None,
        next_docks=(
            _fleet_at(status, after, docks.next_cursor, "docks-title")
            if docks.next_cursor
            else None
        ),
        low_battery=LOW_BATTERY,
        low_space=LOW_SPACE_BYTES,
        low_battery_count=sum(
            1
            for c in cameras.items
            if c.battery_percent is not None and c.battery_percent < LOW_BATTERY
        ),
    )
