"""tus 1.0.0 at /api/v1/uploads: core, creation, checksum (sha256), termination, expiration."""

from __future__ import annotations

from email.utils import format_datetime

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from custody.domain.clock import parse_time
from custody.domain.errors import CustodyError, InvalidInput
from custody.domain.uploads import MAX_UPLOAD_BYTES
from custody.services import ingest
from custody.services.ingest import UploadStatus
from custody.web.deps import CurrentDock, SystemDep, dock_actor
from custody.web.errors import TUS_HEADERS, error_response, status_for

router = APIRouter(tags=["uploads (tus)"])
TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"
# Body pieces are gathered to this size before a write: fewer thread hops per chunk.
WRITE_BUFFER = 1024 * 1024


def _tus_version_error(request: Request) -> Response | None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        response = error_response(412, "tus_version", "send Tus-Resumable: 1.0.0")
        response.headers["Tus-Version"] = TUS_VERSION
        return response
    return None


def _int_header(request: Request, name: str) -> int:
    value = request.headers.get(name)
    if value is None or not value.isdigit():
        raise InvalidInput(f"{name} must be a non-negative whole number")
    return int(value)


def _expires(status: UploadStatus) -> str:
    return format_datetime(parse_time(status.expires_at_iso), usegmt=True)


@router.options("/uploads", status_code=204, summary="tus capabilities")
@router.options("/uploads/{upload_id}", status_code=204, include_in_schema=False)
def options() -> Response:
    return Response(
        status_code=204,
        headers={
            **TUS_HEADERS,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(MAX_UPLOAD_BYTES),
            "Tus-Checksum-Algorithm": "sha256",
        },
    )


@router.post("/uploads", status_code=201, summary="Create an upload (tus creation)")
async def create(request: Request, system: SystemDep, dock: CurrentDock) -> Response:
    if (refusal := _tus_version_error(request)) is not None:
        return refusal
    if "upload-defer-length" in request.headers:
        raise InvalidInput("Upload-Defer-Length is not supported: a recording's size is known")
    length = _int_header(request, "upload-length")
    if length > MAX_UPLOAD_BYTES:
        return error_response(413, "too_large", "Upload-Length exceeds Tus-Max-Size")
    metadata = ingest.parse_upload_metadata(request.headers.get("upload-metadata"))
    status = await run_in_threadpool(
        ingest.create_upload, system, dock, length, metadata, dock_actor(request, dock)
    )
    return Response(
        status_code=201,
        headers={
            **TUS_HEADERS,
            "Location": f"/api/v1/uploads/{status.upload_id}",
            "Upload-Expires": _expires(status),
        },
    )


@router.head("/uploads/{upload_id}", summary="An upload's offset (tus core)")
async def head(upload_id: str, request: Request, system: SystemDep, _: CurrentDock) -> Response:
    if (refusal := _tus_version_error(request)) is not None:
        return Response(status_code=412, headers=dict(refusal.headers))
    try:
        status = await run_in_threadpool(ingest.upload_status, system, upload_id)
    except CustodyError as exc:
        # A HEAD answer has no body.
        return Response(
            status_code=status_for(exc), headers={**TUS_HEADERS, "Cache-Control": "no-store"}
        )
    return Response(
        status_code=200,
        headers={
            **TUS_HEADERS,
            "Upload-Offset": str(status.offset),
            "Upload-Length": str(status.length),
            "Upload-Expires": _expires(status),
            "Cache-Control": "no-store",
        },
    )


@router.patch("/uploads/{upload_id}", status_code=204, summary="Append a chunk (tus core)")
async def patch(upload_id: str, request: Request, system: SystemDep, dock: CurrentDock) -> Response:
    if (refusal := _tus_version_error(request)) is not None:
        return refusal
    if request.headers.get("content-type") != "application/offset+octet-stream":
        return error_response(
            415, "content_type", "Content-Type must be application/offset+octet-stream"
        )
    offset = _int_header(request, "upload-offset")
    length_header = request.headers.get("content-length")
    content_length = int(length_header) if length_header and length_header.isdigit() else None
    writer = await run_in_threadpool(
        ingest.begin_chunk,
        system,
        dock,
        upload_id,
        offset,
        content_length,
        request.headers.get("upload-checksum"),
        dock_actor(request, dock),
    )
    try:
        complete = True
        buffer = bytearray()
        try:
            async for piece in request.stream():
                buffer += piece
                if len(buffer) >= WRITE_BUFFER:
                    await run_in_threadpool(writer.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await run_in_threadpool(writer.write, bytes(buffer))
        except ClientDisconnect:
            complete = False
        status = await run_in_threadpool(writer.finish, complete)
    finally:
        await run_in_threadpool(writer.close)
    headers = {
        **TUS_HEADERS,
        "Upload-Offset": str(status.offset),
        "Upload-Expires": _expires(status),
    }
    if status.state == "committed":
        headers["Custody-Recording"] = status.recording_id
    return Response(status_code=204, headers=headers)


@router.delete("/uploads/{upload_id}", status_code=204, summary="Terminate an upload")
async def terminate(
    upload_id: str, request: Request, system: SystemDep, dock: CurrentDock
) -> Response:
    if (refusal := _tus_version_error(request)) is not None:
        return refusal
    await run_in_threadpool(
        ingest.terminate_upload, system, dock, upload_id, dock_actor(request, dock)
    )
    return Response(status_code=204, headers=TUS_HEADERS)
