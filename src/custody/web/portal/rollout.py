"""`/fleet/rollout`: the phased roll-out, borough by borough, as a fleet manager reads it.

The figures come from `custody.services.fleet.rollout` (the same as `GET /api/v1/fleet/rollout`),
which asks `may` and audits a refusal.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.services.fleet import rollout
from custody.web.deps import get_system, user_actor
from custody.web.guard import access
from custody.web.portal.pages import PortalRoute, PortalUser, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


@router.get("/fleet/rollout", openapi_extra=access(SystemAction.VIEW_FLEET))
async def rollout_page(
    request: Request,
    user: PortalUser,
    idle_days: int = Query(rollout.DEFAULT_IDLE_DAYS, ge=1, le=366),
) -> Response:
    system = get_system(request)
    plan = await run_in_threadpool(
        lambda: rollout.rollout(system, user, idle_days=idle_days, actor=user_actor(request, user))
    )
    # The template shows each target date as a day and a month: as dates, then.
    boroughs = [
        b.model_dump() | {"target": date.fromisoformat(b.target_date) if b.target_date else None}
        for b in plan.boroughs
    ]
    return render(
        request,
        "rollout.html",
        user,
        area="fleet",
        title="Roll-out",
        plan=plan,
        planned=[b for b in boroughs if b["phase"] is not None],
        unplanned=[b for b in boroughs if b["phase"] is None],
    )
