"""What docks say to the server besides recordings: camera reports.

Manifests, receipts and the server's key moved to `ingest`; the reports belong to the
fleet and move to `fleet` next (the last of the two moves removes this module).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.services.fleet import registry
from custody.web.deps import CurrentDock, SystemDep, dock_actor
from custody.web.guard import DOCK, access

router = APIRouter(tags=["docks"])


class CameraReport(BaseModel):
    serial: str = Field(min_length=1, max_length=64)
    bay: str = Field(min_length=1, max_length=200)
    battery_percent: int | None = Field(default=None, ge=0, le=100)
    free_bytes: int | None = Field(default=None, ge=0)
    firmware: str | None = Field(default=None, max_length=64)
    recordings_waiting: int = Field(default=0, ge=0)


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
