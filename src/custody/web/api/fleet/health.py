"""`/fleet/alerts`: cameras not docked, docks gone silent, old firmware, lost cameras seen."""

from __future__ import annotations

from fastapi import Query, Request
from starlette.concurrency import run_in_threadpool

from custody.services.fleet import health
from custody.services.fleet.answers import FleetAlerts
from custody.web.api.fleet.rules import VIEW, FleetViewer, fleet_router
from custody.web.deps import SystemDep, user_actor

router = fleet_router()


@router.get(
    "/fleet/alerts",
    response_model=FleetAlerts,
    summary="Cameras not docked, docks gone silent, old firmware, lost cameras seen",
    openapi_extra=VIEW,
)
async def alerts(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    kind: str | None = Query(None),
    camera_idle_days: int | None = Query(None, ge=1, le=366),
    dock_silent_hours: int | None = Query(None, ge=1, le=24 * 366),
    limit: int = Query(health.MAX_ALERTS, ge=1, le=health.MAX_ALERTS),
) -> FleetAlerts:
    return await run_in_threadpool(
        lambda: health.alerts(
            system,
            user,
            camera_idle_days=camera_idle_days,
            dock_silent_hours=dock_silent_hours,
            kind=kind,
            limit=limit,
            actor=user_actor(request, user),
        )
    )
