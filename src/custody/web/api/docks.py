"""What docks say to the server besides bytes: manifests, receipts, camera reports."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.errors import InvalidInput
from custody.domain.signing import public_key_text
from custody.services.fleet import registry
from custody.services.ingest import manifests, receipts
from custody.web.deps import CurrentDock, SystemDep, dock_actor
from custody.web.guard import DOCK, PUBLIC, access

router = APIRouter(tags=["docks"])


class ServerKey(BaseModel):
    algorithm: str = "Ed25519"
    public_key: str = Field(description="base64 of the raw 32-byte public key")


class UploadRef(BaseModel):
    upload_id: str
    offset: int
    length: int
    url: str


class ManifestAnswer(BaseModel):
    recording_id: str
    stored: bool
    receipt: dict[str, Any] | None
    uploads: list[UploadRef]


class CameraReport(BaseModel):
    serial: str = Field(min_length=1, max_length=64)
    bay: str = Field(min_length=1, max_length=200)
    battery_percent: int | None = Field(default=None, ge=0, le=100)
    free_bytes: int | None = Field(default=None, ge=0)
    firmware: str | None = Field(default=None, max_length=64)
    recordings_waiting: int = Field(default=0, ge=0)


def _recording_id(value: str) -> str:
    try:
        if str(uuid.UUID(value)) == value:
            return value
    except ValueError:
        pass
    raise InvalidInput("a recording id is a lower-case UUID")


@router.get(
    "/server-key",
    response_model=ServerKey,
    summary="The key receipts are signed with",
    openapi_extra=access(PUBLIC),
)
def server_key(system: SystemDep) -> ServerKey:
    return ServerKey(public_key=public_key_text(system.server_key.public_key()))


@router.put(
    "/manifests/{recording_id}",
    response_model=ManifestAnswer,
    summary="Declare a recording's signed manifest before uploading it",
    openapi_extra=access(DOCK),
)
async def declare_manifest(
    recording_id: str,
    request: Request,
    system: SystemDep,
    dock: CurrentDock,
    document: dict[str, Any] = Body(...),
) -> ManifestAnswer:
    if document.get("recording_id") != _recording_id(recording_id):
        raise InvalidInput("the manifest's recording_id differs from the URL")
    status = await run_in_threadpool(
        manifests.declare_manifest, system, dock, document, dock_actor(request, dock)
    )
    return ManifestAnswer(
        recording_id=status.recording_id,
        stored=status.stored,
        receipt=status.receipt,
        uploads=[
            UploadRef(
                upload_id=u.upload_id,
                offset=u.offset,
                length=u.length,
                url=f"/api/v1/uploads/{u.upload_id}",
            )
            for u in status.uploads
        ],
    )


@router.get(
    "/receipts/{recording_id}",
    summary="The signed receipt of a stored recording",
    openapi_extra=access(DOCK),
)
async def receipt(recording_id: str, system: SystemDep, _: CurrentDock) -> dict[str, Any]:
    return await run_in_threadpool(receipts.receipt_for, system, _recording_id(recording_id))


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
