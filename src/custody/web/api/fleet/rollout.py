"""`/fleet/rollout`: the phased roll-out, borough by borough, and its plan."""

from __future__ import annotations

from datetime import date

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.services.fleet import rollout
from custody.services.fleet.answers import Rollout
from custody.web.api.fleet.rules import MANAGE, VIEW, FleetManager, FleetViewer, fleet_router
from custody.web.deps import SystemDep, user_actor

router = fleet_router()


class Phase(BaseModel):
    phase: int = Field(ge=1, le=rollout.MAX_PHASE)
    target_date: date
    status: str | None = Field(default=None, description="planned, issuing or complete")


@router.get(
    "/fleet/rollout",
    response_model=Rollout,
    summary="The roll-out plan with each borough's figures",
    openapi_extra=VIEW,
)
async def get_rollout(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    idle_days: int = Query(rollout.DEFAULT_IDLE_DAYS, ge=1, le=366),
) -> Rollout:
    return await run_in_threadpool(
        lambda: rollout.rollout(system, user, idle_days=idle_days, actor=user_actor(request, user))
    )


@router.put(
    "/fleet/rollout/{borough}",
    status_code=204,
    summary="Put a borough in the plan, or change its phase, target date or status",
    openapi_extra=MANAGE,
)
async def set_phase(
    borough: str, body: Phase, request: Request, system: SystemDep, user: FleetManager
) -> Response:
    await run_in_threadpool(
        lambda: rollout.set_phase(
            system,
            user,
            borough,
            phase=body.phase,
            target_date=body.target_date,
            status=body.status,
            actor=user_actor(request, user),
        )
    )
    return Response(status_code=204)


@router.delete(
    "/fleet/rollout/{borough}",
    status_code=204,
    summary="Take a borough out of the plan",
    openapi_extra=MANAGE,
)
async def remove_phase(
    borough: str, request: Request, system: SystemDep, user: FleetManager
) -> Response:
    await run_in_threadpool(
        lambda: rollout.remove_phase(system, user, borough, actor=user_actor(request, user))
    )
    return Response(status_code=204)
