"""Ingest over HTTP: what a dock declares before the bytes, and the bytes themselves.

Manifests (`PUT /api/v1/manifests/{id}`), receipts and the key they are signed with; and
tus 1.0.0 at /api/v1/uploads: core, creation, checksum (sha1, sha256), termination,
expiration.
All of it leads to `services/ingest/`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from email.utils import format_datetime

from fastapi import APIRouter, Body, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from custody.domain.clock import parse_time
from custody.domain.errors import CustodyError, InvalidInput, RecordingStored, TooManyUploads
from custody.domain.uploads import MAX_UPLOAD_BYTES
from custody.services.ingest import chunks, manifests, receipts, uploads
from custody.services.ingest.answers import ManifestStatus, ServerKey, SignedReceipt
from custody.services.ingest.chunks import CHECKSUM_ALGORITHMS
from custody.services.ingest.uploads import UploadStatus
from custody.web.deps import CurrentDock, SystemDep, dock_actor
from custody.web.errors import TUS_HEADERS, error_response, errors_for, status_for
from custody.web.guard import DOCK, PUBLIC, access
from custody.web.limits import MAX_INTEGER, whole_number

router = APIRouter()
TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination,expiration"
# Body pieces are gathered to this size before a write: fewer thread hops per chunk.
WRITE_BUFFER = 1024 * 1024
# Queued pieces per request: bounds the memory one upload can hold.
MAX_PENDING_WRITES = 8
CHUNK_MEDIA_TYPE = "application/offset+octet-stream"


class BodyIdle(Exception):
    """No byte of a PATCH body arrived for the server's idle limit."""


def _tus_version_error(request: Request) -> Response | None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        response = error_response(412, "tus_version", "send Tus-Resumable: 1.0.0")
        response.headers["Tus-Version"] = TUS_VERSION
        return response
    return None


def _int_header(request: Request, name: str) -> int:
    value = whole_number(request.headers.get(name))
    if value is None or value > MAX_INTEGER:
        raise InvalidInput(f"{name} must be a non-negative whole number (ASCII digits)")
    return value


def _is_chunk_media_type(content_type: str | None) -> bool:
    """Content-Type as a media type (RFC 9110 8.3.1): case-insensitive, parameters aside."""
    if content_type is None:
        return False
    message = Message()
    message["content-type"] = content_type
    # get_content_type() lower-cases the type and falls back to text/plain when malformed.
    return message.get_content_type() == CHUNK_MEDIA_TYPE


def _expires(status: UploadStatus) -> str:
    return format_datetime(parse_time(status.expires_at_iso), usegmt=True)


# --- what docks declare besides bytes ------------------------------------------------------


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
    tags=["docks"],
    summary="The key receipts are signed with",
    openapi_extra=access(PUBLIC),
)
def server_key(system: SystemDep) -> ServerKey:
    return receipts.server_key(system)


@router.put(
    "/manifests/{recording_id}",
    response_model=ManifestStatus,
    tags=["docks"],
    summary="Declare a recording's signed manifest before uploading it",
    openapi_extra=access(DOCK),
)
async def declare_manifest(
    recording_id: str,
    request: Request,
    system: SystemDep,
    dock: CurrentDock,
    document: dict[str, object] = Body(...),
) -> ManifestStatus:
    if document.get("recording_id") != _recording_id(recording_id):
        raise InvalidInput("the manifest's recording_id differs from the URL")
    return await run_in_threadpool(
        manifests.declare_manifest, system, dock, document, dock_actor(request, dock)
    )


@router.get(
    "/receipts/{recording_id}",
    response_model=SignedReceipt,
    tags=["docks"],
    summary="The signed receipt of a stored recording",
    openapi_extra=access(DOCK),
)
async def receipt(
    recording_id: str, request: Request, system: SystemDep, dock: CurrentDock
) -> SignedReceipt:
    return await run_in_threadpool(
        receipts.receipt_for,
        system,
        dock,
        _recording_id(recording_id),
        dock_actor(request, dock),
    )


# --- tus ----------------------------------------------------------------------------------
# Every tus answer is headers only: `response_class=Response` keeps the OpenAPI document
# from promising a JSON body.


@router.options(
    "/uploads",
    status_code=204,
    response_class=Response,
    tags=["uploads (tus)"],
    summary="tus capabilities",
    openapi_extra=access(PUBLIC),
)
@router.options(
    "/uploads/{upload_id}",
    status_code=204,
    response_class=Response,
    include_in_schema=False,
    openapi_extra=access(PUBLIC),
)
def options() -> Response:
    return Response(
        status_code=204,
        headers={
            **TUS_HEADERS,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(MAX_UPLOAD_BYTES),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        },
    )


@router.post(
    "/uploads",
    status_code=201,
    response_class=Response,
    tags=["uploads (tus)"],
    summary="Create an upload (tus creation)",
    openapi_extra=access(DOCK),
    responses=errors_for(RecordingStored, TooManyUploads),
)
async def create(request: Request, system: SystemDep, dock: CurrentDock) -> Response:
    if (refusal := _tus_version_error(request)) is not None:
        return refusal
    if "upload-defer-length" in request.headers:
        raise InvalidInput("Upload-Defer-Length is not supported: a recording's size is known")
    length = _int_header(request, "upload-length")
    if length > MAX_UPLOAD_BYTES:
        return error_response(413, "too_large", "Upload-Length exceeds Tus-Max-Size")
    metadata = uploads.parse_upload_metadata(request.headers.get("upload-metadata"))
    status = await run_in_threadpool(
        uploads.create_upload, system, dock, length, metadata, dock_actor(request, dock)
    )
    return Response(
        status_code=201,
        headers={
            **TUS_HEADERS,
            # Absolute, so that a path prefix added by a reverse proxy (root_path) survives.
            "Location": str(request.url_for("head", upload_id=status.upload_id)),
            "Upload-Expires": _expires(status),
        },
    )


@router.head(
    "/uploads/{upload_id}",
    response_class=Response,
    tags=["uploads (tus)"],
    summary="An upload's offset (tus core)",
    openapi_extra=access(DOCK),
)
async def head(upload_id: str, request: Request, system: SystemDep, dock: CurrentDock) -> Response:
    if (refusal := _tus_version_error(request)) is not None:
        return Response(status_code=412, headers=dict(refusal.headers))
    try:
        status = await run_in_threadpool(
            uploads.upload_status, system, dock, upload_id, dock_actor(request, dock)
        )
    except CustodyError as exc:
        # A HEAD answer has no body.
        return Response(
            status_code=status_for(exc), headers={**TUS_HEADERS, "Cache-Control": "no-store"}
        )
    headers = {
        **TUS_HEADERS,
        "Upload-Offset": str(status.offset),
        "Upload-Length": str(status.length),
        "Upload-Expires": _expires(status),
        "Cache-Control": "no-store",
    }
    # tus creation: "the Server MUST include the Upload-Metadata response header" when the
    # upload was created with one.
    if status.metadata:
        headers["Upload-Metadata"] = uploads.format_upload_metadata(status.metadata)
    return Response(status_code=200, headers=headers)


@router.patch(
    "/uploads/{upload_id}",
    status_code=204,
    response_class=Response,
    tags=["uploads (tus)"],
    summary="Append a chunk (tus core)",
    openapi_extra=access(DOCK),
)
async def patch(upload_id: str, request: Request, system: SystemDep, dock: CurrentDock) -> Response:
    if (refusal := _tus_version_error(request)) is not None:
        return refusal
    if not _is_chunk_media_type(request.headers.get("content-type")):
        return error_response(415, "content_type", f"Content-Type must be {CHUNK_MEDIA_TYPE}")
    offset = _int_header(request, "upload-offset")
    content_length = whole_number(request.headers.get("content-length"))
    writer = await run_in_threadpool(
        chunks.begin_chunk,
        system,
        dock,
        upload_id,
        offset,
        content_length,
        request.headers.get("upload-checksum"),
        dock_actor(request, dock),
    )
    idle = system.settings.upload_idle_seconds
    try:
        try:
            complete = await _receive(request, writer, idle)
        except BodyIdle:
            # A silent peer (a pulled cable, a dock without power) sends no FIN or RST: end
            # the request, keep what arrived as tus core would for a dropped connection,
            # and release the upload's lock so that the dock's resume is not refused 423.
            await run_in_threadpool(writer.finish, False)
            return error_response(
                408,
                "body_idle",
                f"no byte of the chunk arrived for {idle:g} s: ask HEAD for the offset, resume",
                {**TUS_HEADERS, "Connection": "close"},
            )
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


async def _receive(request: Request, writer: chunks.ChunkWriter, idle_seconds: float) -> bool:
    """Stream the body into the writer; False if the client went away before its end.

    Writes (hash + file write) run on their own thread, in order, while the next bytes
    arrive: receiving and writing overlap instead of taking turns. BodyIdle when no piece
    arrives for `idle_seconds`, once every piece that did arrive is written.
    """
    loop = asyncio.get_running_loop()
    pending: deque[asyncio.Future[None]] = deque()
    pieces: list[bytes] = []
    gathered = 0
    complete = True
    idle = False
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tus-write") as executor:
        try:
            try:
                async for piece in _within(request.stream(), idle_seconds):
                    if not piece:
                        continue
                    pieces.append(piece)
                    gathered += len(piece)
                    if gathered >= WRITE_BUFFER:
                        # Handed over as they came: joining them would copy every byte once
                        # more on the loop's thread.
                        pending.append(loop.run_in_executor(executor, _write_all, writer, pieces))
                        pieces, gathered = [], 0
                        if len(pending) > MAX_PENDING_WRITES:
                            await pending.popleft()
            except ClientDisconnect:
                complete = False
            except BodyIdle:
                complete, idle = False, True
            if pieces:
                pending.append(loop.run_in_executor(executor, _write_all, writer, pieces))
        finally:
            # Every queued write ends before the writer is finished or closed.
            results = await asyncio.gather(*pending, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    if idle:
        raise BodyIdle
    return complete


def _write_all(writer: chunks.ChunkWriter, pieces: list[bytes]) -> None:
    for piece in pieces:
        writer.write(piece)


async def _within(stream: AsyncGenerator[bytes, None], idle_seconds: float) -> AsyncIterator[bytes]:
    """The stream's pieces, or BodyIdle once none has come for `idle_seconds`."""
    try:
        while True:
            try:
                async with asyncio.timeout(idle_seconds):
                    piece = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise BodyIdle from None
            yield piece
    finally:
        await stream.aclose()


@router.delete(
    "/uploads/{upload_id}",
    status_code=204,
    response_class=Response,
    tags=["uploads (tus)"],
    summary="Terminate an upload",
    openapi_extra=access(DOCK),
)
async def terminate(
    upload_id: str, request: Request, system: SystemDep, dock: CurrentDock
) -> Response:
    if (refusal := _tus_version_error(request)) is not None:
        return refusal
    await run_in_threadpool(
        uploads.terminate_upload, system, dock, upload_id, dock_actor(request, dock)
    )
    return Response(status_code=204, headers=TUS_HEADERS)
