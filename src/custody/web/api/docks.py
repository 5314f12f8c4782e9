"""What docks say to the server besides bytes: manifests and receipts (the rest: fleet)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.errors import InvalidInput
from custody.domain.signing import public_key_text
from custody.services.ingest import uploads
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
        uploads.declare_manifest, system, dock, document, dock_actor(request, dock)
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
    return await run_in_threadpool(uploads.receipt_for, system, _recording_id(recording_id))
