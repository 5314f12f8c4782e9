"""`/docks`: the docks, for the people who register them; and what a dock itself says, with
its own token: a camera in a bay (reports), an officer's card (checkouts), that it is
alive (heartbeats)."""

from __future__ import annotations

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.errors import Conflict, NotFound
from custody.services.answers import MAX_OFFSET, MAX_PAGE, Page, Paged
from custody.services.cursors import LONGEST
from custody.services.fleet import assignments, registry, views
from custody.services.fleet.answers import Checkout, DockRegistered, DockView
from custody.web.api.fleet.rules import MANAGE, VIEW, FleetManager, FleetViewer, fleet_router
from custody.web.deps import CurrentDock, SystemDep, dock_actor, user_actor
from custody.web.errors import errors_for
from custody.web.guard import DOCK, access

router = fleet_router()


class NewDock(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    station: str | None = Field(default=None, max_length=120)
    bays: int = Field(default=8, ge=1, le=64)


class CameraReport(BaseModel):
    serial: str = Field(min_length=1, max_length=64)
    bay: str = Field(min_length=1, max_length=200)
    battery_percent: int | None = Field(default=None, ge=0, le=100)
    free_bytes: int | None = Field(default=None, ge=0)
    firmware: str | None = Field(default=None, max_length=64)
    recordings_waiting: int = Field(default=0, ge=0)


class CardPresented(BaseModel):
    card_id: str = Field(min_length=1, max_length=64)
    serial: str = Field(min_length=1, max_length=64)


class Heartbeat(BaseModel):
    docked: list[str] = Field(default_factory=list, max_length=registry.MAX_DOCKED_LIST)


# --- for people --------------------------------------------------------------------------


@router.get(
    "/docks",
    response_model=Paged[DockView],
    summary="Docks, and when each was last heard from",
    openapi_extra=VIEW,
)
async def list_docks(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    station: str | None = Query(None, max_length=120),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, description=f"a first page's offset, at most {MAX_OFFSET}"),
    cursor: str | None = Query(
        None, max_length=LONGEST, description="the page after this one: a page's next_cursor"
    ),
) -> Paged[DockView]:
    return await run_in_threadpool(
        lambda: views.list_docks(
            system,
            user,
            station=station,
            page=Page(offset, limit, after=cursor),
            actor=user_actor(request, user),
        )
    )


@router.post(
    "/docks",
    status_code=201,
    response_model=DockRegistered,
    summary="Register a dock; its token is in the answer, once",
    openapi_extra=MANAGE,
    responses=errors_for(Conflict),
)
async def add_dock(
    body: NewDock, request: Request, system: SystemDep, user: FleetManager
) -> DockRegistered:
    return await run_in_threadpool(
        lambda: registry.add_dock(
            system,
            user,
            body.name,
            station=body.station,
            bays=body.bays,
            actor=user_actor(request, user),
        )
    )


# --- what a dock says --------------------------------------------------------------------


@router.post(
    "/docks/reports",
    status_code=204,
    summary="A dock reports a docked camera",
    openapi_extra=access(DOCK),
)
async def report(
    report: CameraReport, request: Request, system: SystemDep, dock: CurrentDock
) -> Response:
    await run_in_threadpool(
        lambda: registry.report_camera(
            system,
            dock,
            serial=report.serial,
            bay=report.bay,
            battery_percent=report.battery_percent,
            free_bytes=report.free_bytes,
            firmware=report.firmware,
            recordings_waiting=report.recordings_waiting,
            actor=dock_actor(request, dock),
        )
    )
    return Response(status_code=204)


@router.post(
    "/docks/checkouts",
    status_code=201,
    response_model=Checkout,
    summary="An officer's card at a dock: assign them the docked pool camera",
    openapi_extra=access(DOCK),
    responses=errors_for(NotFound, Conflict),
)
async def checkout(
    body: CardPresented, request: Request, system: SystemDep, dock: CurrentDock
) -> Checkout:
    return await run_in_threadpool(
        lambda: assignments.checkout(
            system,
            dock,
            card_id=body.card_id,
            serial=body.serial,
            actor=dock_actor(request, dock),
        )
    )


@router.post(
    "/docks/heartbeat",
    status_code=204,
    summary="A dock is alive; these cameras sit in its bays",
    openapi_extra=access(DOCK),
)
async def heartbeat(
    body: Heartbeat, request: Request, system: SystemDep, dock: CurrentDock
) -> Response:
    await run_in_threadpool(
        registry.heartbeat, system, dock, body.docked, dock_actor(request, dock)
    )
    return Response(status_code=204)
