"""`/cameras`: the cameras and their health, and their life: issue to an officer or a pool,
return, repair, retirement, loss; and who held one at any moment."""

from __future__ import annotations

from datetime import datetime

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.clock import as_utc
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.services.answers import MAX_OFFSET, MAX_PAGE, Page, Paged
from custody.services.cursors import LONGEST
from custody.services.fleet import assignments, registry, views
from custody.services.fleet.answers import (
    CameraDetail,
    CameraHolder,
    CameraRegistered,
    CameraView,
    Issued,
    Pooled,
)
from custody.web.api.fleet.rules import MANAGE, VIEW, FleetManager, FleetViewer, fleet_router
from custody.web.deps import SystemDep, user_actor
from custody.web.errors import errors_for

router = fleet_router()


class NewCamera(BaseModel):
    serial: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=120)
    firmware: str = Field(min_length=1, max_length=64)
    public_key: str = Field(min_length=1, max_length=64, description="base64 Ed25519")
    status: str | None = Field(default=None, description="default: issued if issued, else in_stock")
    officer: str | None = Field(default=None, max_length=32, description="issue to (warrant)")
    pool: bool = False
    borough: str | None = Field(default=None, max_length=120, description="a pool's borough")


class Issue(BaseModel):
    officer: str | None = Field(default=None, max_length=32, description="warrant number")
    pool: bool = Field(default=False, description="into a borough's pool instead")
    borough: str | None = Field(default=None, max_length=120)


class Return(BaseModel):
    repair: bool = Field(default=False, description="to repair rather than to stock")
    reason: str | None = Field(default=None, max_length=500)


class Reason(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


@router.get(
    "/cameras",
    response_model=Paged[CameraView],
    summary="Cameras and their health, by serial",
    openapi_extra=VIEW,
)
async def list_cameras(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    status: str | None = Query(None, description="in_stock, issued, in_repair, retired, lost"),
    borough: str | None = Query(None, max_length=120),
    pool: bool | None = Query(None),
    officer: str | None = Query(None, max_length=32, description="warrant number"),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, description=f"a first page's offset, at most {MAX_OFFSET}"),
    cursor: str | None = Query(
        None, max_length=LONGEST, description="the page after this one: a page's next_cursor"
    ),
) -> Paged[CameraView]:
    return await run_in_threadpool(
        lambda: views.list_cameras(
            system,
            user,
            status=status,
            borough=borough,
            pool=pool,
            officer=officer,
            page=Page(offset, limit, after=cursor),
            actor=user_actor(request, user),
        )
    )


@router.post(
    "/cameras",
    status_code=201,
    response_model=CameraRegistered,
    summary="Register a camera",
    openapi_extra=MANAGE,
    responses=errors_for(Conflict, NotFound),
)
async def add_camera(
    body: NewCamera, request: Request, system: SystemDep, user: FleetManager
) -> CameraRegistered:
    return await run_in_threadpool(
        lambda: registry.add_camera(
            system,
            user,
            serial=body.serial,
            model=body.model,
            firmware=body.firmware,
            public_key=body.public_key,
            officer=body.officer,
            status=body.status,
            pool=body.pool,
            borough=body.borough,
            actor=user_actor(request, user),
        )
    )


@router.get(
    "/cameras/{serial}",
    response_model=CameraDetail,
    summary="One camera: health, assignment history, recent dock reports",
    openapi_extra=VIEW,
)
async def get_camera(
    serial: str, request: Request, system: SystemDep, user: FleetViewer
) -> CameraDetail:
    return await run_in_threadpool(
        lambda: views.get_camera(system, user, serial, actor=user_actor(request, user))
    )


@router.get(
    "/cameras/{serial}/holder",
    response_model=CameraHolder,
    summary="Who held a camera at a moment (the officer behind its footage then)",
    openapi_extra=VIEW,
)
async def holder(
    serial: str,
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    at: datetime = Query(..., description="ISO 8601"),
) -> CameraHolder:
    return await run_in_threadpool(
        lambda: assignments.holder_at(
            system, user, serial, as_utc(at), actor=user_actor(request, user)
        )
    )


@router.post(
    "/cameras/{serial}/issue",
    response_model=Issued | Pooled,
    summary="Issue a camera to an officer, or into a borough's pool",
    openapi_extra=MANAGE,
    responses=errors_for(Conflict),
)
async def issue(
    serial: str, body: Issue, request: Request, system: SystemDep, user: FleetManager
) -> Issued | Pooled:
    actor = user_actor(request, user)
    if body.pool == (body.officer is not None):
        raise InvalidInput("name the officer, or ask for the pool (with its borough)")
    officer = body.officer
    if officer is not None:
        return await run_in_threadpool(
            lambda: assignments.issue(system, user, serial, officer, actor=actor)
        )
    return await run_in_threadpool(
        lambda: assignments.issue_to_pool(system, user, serial, body.borough or "", actor=actor)
    )


@router.post(
    "/cameras/{serial}/return",
    status_code=204,
    summary="A camera comes back to stock (or goes to repair)",
    openapi_extra=MANAGE,
    responses=errors_for(Conflict),
)
async def return_camera(
    serial: str, body: Return, request: Request, system: SystemDep, user: FleetManager
) -> Response:
    await run_in_threadpool(
        lambda: assignments.return_to_stock(
            system,
            user,
            serial,
            repair=body.repair,
            reason=body.reason,
            actor=user_actor(request, user),
        )
    )
    return Response(status_code=204)


@router.post(
    "/cameras/{serial}/retire",
    status_code=204,
    summary="Retire a camera (its history and its footage's provenance stay)",
    openapi_extra=MANAGE,
    responses=errors_for(Conflict),
)
async def retire(
    serial: str, body: Reason, request: Request, system: SystemDep, user: FleetManager
) -> Response:
    await run_in_threadpool(
        lambda: assignments.retire(
            system, user, serial, reason=body.reason, actor=user_actor(request, user)
        )
    )
    return Response(status_code=204)


@router.post(
    "/cameras/{serial}/lost",
    status_code=204,
    summary="Report a camera lost (a dock that sees it again raises an alert)",
    openapi_extra=MANAGE,
    responses=errors_for(Conflict),
)
async def report_lost(
    serial: str, body: Reason, request: Request, system: SystemDep, user: FleetManager
) -> Response:
    await run_in_threadpool(
        lambda: assignments.report_lost(
            system, user, serial, reason=body.reason, actor=user_actor(request, user)
        )
    )
    return Response(status_code=204)
