"""The fleet API: officers, cameras, docks, assignment, CSV import, the roll-out, alerts; and
what docks say about pool cameras (checkouts by card) and themselves (heartbeats).

People's routes declare `system:view_fleet` or `system:manage_fleet` and check it with a
`Permit` before anything else (so a wrong role hears 403, audited, whatever it sent); the
services ask `may` again with the same principal, for callers other than this API. Dock
routes take a dock token.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.clock import as_utc, isoformat
from custody.domain.errors import InvalidInput
from custody.domain.principal import Principal
from custody.services.fleet import assignments, health, importing, registry, rollout, views
from custody.services.fleet.views import Page
from custody.web.deps import CurrentDock, Permit, SystemDep, dock_actor, user_actor
from custody.web.errors import TUS_HEADERS
from custody.web.guard import DOCK, access

router = APIRouter(tags=["fleet"])
VIEW = access(SystemAction.VIEW_FLEET)
MANAGE = access(SystemAction.MANAGE_FLEET)
FleetViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_FLEET))]
FleetManager = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_FLEET))]
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")


class NewOfficer(BaseModel):
    warrant_number: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    rank: str = Field(default="PC", max_length=64)
    unit: str = Field(min_length=1, max_length=120, description="borough / BCU or team")
    card_id: str | None = Field(default=None, max_length=64, description="RFID warrant card")


class OfficerChange(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    rank: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=120)
    card_id: str | None = Field(default=None, max_length=64, description="a new card")
    clear_card: bool = Field(default=False, description="the card was lost: it no longer works")


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


class NewDock(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    station: str | None = Field(default=None, max_length=120)
    bays: int = Field(default=8, ge=1, le=64)


class Phase(BaseModel):
    phase: int = Field(ge=1, le=rollout.MAX_PHASE)
    target_date: date
    status: str | None = Field(default=None, description="planned, issuing or complete")


class CardPresented(BaseModel):
    card_id: str = Field(min_length=1, max_length=64)
    serial: str = Field(min_length=1, max_length=64)


class Heartbeat(BaseModel):
    docked: list[str] = Field(default_factory=list, max_length=registry.MAX_DOCKED_LIST)


# --- officers ---


@router.get("/officers", summary="Officers, with the camera each holds", openapi_extra=VIEW)
async def list_officers(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    unit: str | None = Query(None, max_length=120),
    limit: int = Query(100, ge=1, le=views.MAX_PAGE),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: views.list_officers(
            system,
            user,
            unit=unit,
            page=Page(offset, limit),
            actor=user_actor(request, user),
        )
    )


@router.post("/officers", status_code=201, summary="Add an officer", openapi_extra=MANAGE)
async def add_officer(
    body: NewOfficer, request: Request, system: SystemDep, user: FleetManager
) -> dict[str, Any]:
    await run_in_threadpool(
        lambda: registry.add_officer(
            system,
            user,
            body.warrant_number,
            name=body.name,
            unit=body.unit,
            rank=body.rank,
            card_id=body.card_id,
            actor=user_actor(request, user),
        )
    )
    return {"warrant_number": body.warrant_number}


@router.patch(
    "/officers/{warrant_number}",
    status_code=204,
    summary="Change an officer's details or card",
    openapi_extra=MANAGE,
)
async def change_officer(
    warrant_number: str,
    body: OfficerChange,
    request: Request,
    system: SystemDep,
    user: FleetManager,
) -> Response:
    await run_in_threadpool(
        lambda: registry.update_officer(
            system,
            user,
            warrant_number,
            name=body.name,
            rank=body.rank,
            unit=body.unit,
            card_id=body.card_id,
            clear_card=body.clear_card,
            actor=user_actor(request, user),
        )
    )
    return Response(status_code=204)


@router.get(
    "/officers/{warrant_number}/assignments",
    summary="The cameras an officer has held, newest first",
    openapi_extra=VIEW,
)
async def officer_assignments(
    warrant_number: str, request: Request, system: SystemDep, user: FleetViewer
) -> list[dict[str, Any]]:
    found = await run_in_threadpool(
        lambda: assignments.history(
            system, user, officer=warrant_number, actor=user_actor(request, user)
        )
    )
    return [a.as_dict() for a in found]


# --- cameras ---


@router.get("/cameras", summary="Cameras and their health, by serial", openapi_extra=VIEW)
async def list_cameras(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    status: str | None = Query(None, description="in_stock, issued, in_repair, retired, lost"),
    borough: str | None = Query(None, max_length=120),
    pool: bool | None = Query(None),
    officer: str | None = Query(None, max_length=32, description="warrant number"),
    limit: int = Query(100, ge=1, le=views.MAX_PAGE),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: views.list_cameras(
            system,
            user,
            status=status,
            borough=borough,
            pool=pool,
            officer=officer,
            page=Page(offset, limit),
            actor=user_actor(request, user),
        )
    )


@router.post("/cameras", status_code=201, summary="Register a camera", openapi_extra=MANAGE)
async def add_camera(
    body: NewCamera, request: Request, system: SystemDep, user: FleetManager
) -> dict[str, Any]:
    await run_in_threadpool(
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
    return {"serial": body.serial}


@router.get(
    "/cameras/{serial}",
    summary="One camera: health, assignment history, recent dock reports",
    openapi_extra=VIEW,
)
async def get_camera(
    serial: str, request: Request, system: SystemDep, user: FleetViewer
) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: views.get_camera(system, user, serial, actor=user_actor(request, user))
    )


@router.get(
    "/cameras/{serial}/holder",
    summary="Who held a camera at a moment (the officer behind its footage then)",
    openapi_extra=VIEW,
)
async def holder(
    serial: str,
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    at: datetime = Query(..., description="ISO 8601"),
) -> dict[str, Any]:
    found = await run_in_threadpool(
        lambda: assignments.holder_at(
            system, user, serial, as_utc(at), actor=user_actor(request, user)
        )
    )
    return {
        "camera": serial,
        "at": isoformat(at),
        "assignment": None if found is None else found.as_dict(),
    }


@router.post(
    "/cameras/{serial}/issue",
    summary="Issue a camera to an officer, or into a borough's pool",
    openapi_extra=MANAGE,
)
async def issue(
    serial: str, body: Issue, request: Request, system: SystemDep, user: FleetManager
) -> dict[str, Any]:
    actor = user_actor(request, user)
    if body.pool == (body.officer is not None):
        raise InvalidInput("name the officer, or ask for the pool (with its borough)")
    if body.officer is not None:
        officer = body.officer
        found = await run_in_threadpool(
            lambda: assignments.issue(system, user, serial, officer, actor=actor)
        )
        return {"camera": serial, "assignment": found.as_dict()}
    await run_in_threadpool(
        lambda: assignments.issue_to_pool(system, user, serial, body.borough or "", actor=actor)
    )
    return {"camera": serial, "pool": body.borough}


@router.post(
    "/cameras/{serial}/return",
    status_code=204,
    summary="A camera comes back to stock (or goes to repair)",
    openapi_extra=MANAGE,
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


# --- docks ---


@router.get("/docks", summary="Docks, and when each was last heard from", openapi_extra=VIEW)
async def list_docks(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    station: str | None = Query(None, max_length=120),
    limit: int = Query(100, ge=1, le=views.MAX_PAGE),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: views.list_docks(
            system,
            user,
            station=station,
            page=Page(offset, limit),
            actor=user_actor(request, user),
        )
    )


@router.post(
    "/docks",
    status_code=201,
    summary="Register a dock; its token is in the answer, once",
    openapi_extra=MANAGE,
)
async def add_dock(
    body: NewDock, request: Request, system: SystemDep, user: FleetManager
) -> dict[str, Any]:
    token = await run_in_threadpool(
        lambda: registry.add_dock(
            system,
            user,
            body.name,
            station=body.station,
            bays=body.bays,
            actor=user_actor(request, user),
        )
    )
    return {"name": body.name, "token": token}


@router.post(
    "/docks/checkouts",
    status_code=201,
    summary="An officer's card at a dock: assign them the docked pool camera",
    openapi_extra=access(DOCK),
)
async def checkout(
    body: CardPresented, request: Request, system: SystemDep, dock: CurrentDock
) -> dict[str, Any]:
    taken = await run_in_threadpool(
        lambda: assignments.checkout(
            system,
            dock,
            card_id=body.card_id,
            serial=body.serial,
            actor=dock_actor(request, dock),
        )
    )
    return {
        "assignment_id": taken.assignment_id,
        "camera": taken.camera,
        "officer": taken.officer,
        "officer_name": taken.officer_name,
        "started_at": isoformat(taken.started_at),
    }


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


# --- the fleet as a whole ---


@router.post(
    "/fleet/import",
    status_code=201,
    summary="Import officers or cameras from a CSV file (all rows or none)",
    openapi_extra={
        **MANAGE,
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
)
async def import_csv(request: Request, system: SystemDep, user: FleetManager) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in CSV_TYPES:
        raise InvalidInput("send the file as the body, with Content-Type: text/csv")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > importing.MAX_BYTES:
        raise InvalidInput(f"a file is at most {importing.MAX_BYTES // (1024 * 1024)} MB")
    data = await request.body()
    try:
        result = await run_in_threadpool(
            lambda: importing.import_csv(system, user, data, actor=user_actor(request, user))
        )
    except importing.ImportRefused as exc:
        return JSONResponse(
            {
                "error": {
                    "code": exc.code,
                    "message": exc.message,
                    "kind": exc.kind,
                    "rows": exc.rows,
                    "failures": [f.as_dict() for f in exc.failures],
                }
            },
            422,
            headers=TUS_HEADERS,
        )
    return {"kind": result.kind, "created": result.created, "sha256": result.sha256}


@router.get(
    "/fleet/rollout",
    summary="The roll-out plan with each borough's figures",
    openapi_extra=VIEW,
)
async def get_rollout(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    idle_days: int = Query(rollout.DEFAULT_IDLE_DAYS, ge=1, le=366),
) -> dict[str, Any]:
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


@router.get(
    "/fleet/alerts",
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
) -> dict[str, Any]:
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
