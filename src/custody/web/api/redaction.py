"""Redaction: face scans, redacted copies, their records and approval
(`services/redaction/scans.py` and `services/redaction/redactions.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action
from custody.domain.errors import Conflict, Gone
from custody.services.recordings.reading import RangeNotSatisfiable
from custody.services.redaction import preview, redactions, scans
from custody.services.redaction.answers import RedactionView, ScanView
from custody.services.redaction.records import Choices, ManualBox
from custody.web.deps import CurrentUser, SystemDep, user_actor
from custody.web.errors import error_response, errors_for
from custody.web.guard import access
from custody.web.media import footage_answer, parse_range

router = APIRouter(tags=["redaction"])

_OBJECT = {"type": "object"}
_MAYBE = {"type": ["object", "null"]}
# The record is stored and served byte for byte as kept (docs/redaction.md lists its keys).
RECORD_SCHEMA = {
    "type": "object",
    "title": "RedactionRecord",
    "required": ["format", "redaction", "recording", "original", "choices", "boxes", "render"],
    "properties": {
        "format": {"type": "string", "const": "custody-redaction-record/1"},
        "redaction": {"type": "string"},
        "recording": {"type": "string"},
        "original": _OBJECT,
        "model": _MAYBE,
        "scan": _MAYBE,
        "choices": _OBJECT,
        "boxes": _OBJECT,
        "render": _OBJECT,
        "output": _MAYBE,
        "approval": _MAYBE,
    },
}

# A second of a recording: no recording is longer than a camera's battery lasts.
Seconds = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]


class NewManualBox(BaseModel):
    label: str = Field(min_length=1, max_length=80, description="what it hides: a plate, …")
    keyframes: list[tuple[int, int, int, int, int]] = Field(
        min_length=1,
        max_length=1000,
        description="[frame, x1, y1, x2, y2] in pixels of the original; interpolated between",
    )


class NewRedaction(BaseModel):
    scan_id: str | None = Field(default=None, max_length=36, description="the face scan")
    blur_tracks: list[int] = Field(default=[], max_length=1000)
    manual: list[NewManualBox] = Field(default=[], max_length=200)
    mute: list[tuple[Seconds, Seconds]] = Field(
        default=[], max_length=1000, description="[from, to] seconds of audio to silence"
    )
    everything: bool = Field(default=False, description="blur every frame whole")
    remove_audio: bool = False
    merge: list[tuple[int, int]] = Field(
        default=[],
        max_length=200,
        description="[keep, absorb] pairs of tracks: one person the detector lost and found "
        "again, followed as one track (its box interpolated across the gap)",
    )

    def choices(self) -> Choices:
        return Choices(
            blur_tracks=tuple(self.blur_tracks),
            manual=tuple(ManualBox(m.label, tuple(m.keyframes)) for m in self.manual),
            mute=tuple(self.mute),
            everything=self.everything,
            remove_audio=self.remove_audio,
            merge=tuple(self.merge),
        )


class PreviewAsked(NewRedaction):
    seconds: Seconds = Field(description="the moment to show, in seconds from the start")


@router.post(
    "/recordings/{recording_id}/face-scans",
    status_code=202,
    response_model=ScanView,
    summary="Find and follow the faces in a recording (a background job)",
    openapi_extra=access(Action.REDACT),
    responses=errors_for(Conflict),
)
async def request_scan(
    recording_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> ScanView:
    return await run_in_threadpool(
        scans.request_scan, system, user, recording_id, user_actor(request, user)
    )


@router.get(
    "/face-scans/{scan_id}",
    response_model=ScanView,
    summary="A face scan: its state and its tracks, each with a time span and a thumbnail",
    openapi_extra=access(Action.REDACT),
)
async def get_scan(
    scan_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> ScanView:
    return await run_in_threadpool(scans.get_scan, system, user, scan_id, user_actor(request, user))


@router.post(
    "/recordings/{recording_id}/redactions",
    status_code=202,
    response_model=RedactionView,
    summary="Render a redacted copy of a recording as a new object (a background job)",
    openapi_extra=access(Action.REDACT),
    responses=errors_for(Conflict),
)
async def request_redaction(
    recording_id: str, body: NewRedaction, request: Request, system: SystemDep, user: CurrentUser
) -> RedactionView:
    choices = body.choices()
    return await run_in_threadpool(
        lambda: redactions.request_redaction(
            system, user, recording_id, choices, user_actor(request, user), scan_id=body.scan_id
        )
    )


@router.post(
    "/recordings/{recording_id}/redaction-previews",
    response_class=Response,
    summary="A still of the footage at a moment, with these choices blurred (nothing stored)",
    openapi_extra=access(Action.REDACT),
    responses={200: {"content": {"image/jpeg": {}}}, **errors_for(Conflict)},
)
async def preview_redaction(
    recording_id: str, body: PreviewAsked, request: Request, system: SystemDep, user: CurrentUser
) -> Response:
    """The frame at `seconds` as the render would blur it, each box outlined; a JPEG made
    in memory and never stored. Showing footage, each preview is audited on the recording."""
    shown = await run_in_threadpool(
        lambda: preview.preview_redaction(
            system, user, recording_id, body.choices(), user_actor(request, user),
            seconds=body.seconds, scan_id=body.scan_id,
        )
    )  # fmt: skip
    return Response(
        shown.jpeg,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Custody-Frame": str(shown.frame)},
    )


@router.get(
    "/redactions/{redaction_id}",
    response_model=RedactionView,
    summary="A redacted copy: its state, its object and its record by hash, its approval",
    openapi_extra=access(Action.REDACT),
    responses=errors_for(Gone),
)
async def get_redaction(
    redaction_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> RedactionView:
    return await run_in_threadpool(
        redactions.get_redaction, system, user, redaction_id, user_actor(request, user)
    )


@router.post(
    "/redactions/{redaction_id}/approval",
    response_model=RedactionView,
    summary="Approve a redacted copy for release (a second person: not whoever asked for it)",
    openapi_extra=access(Action.APPROVE_REDACTION),
    responses=errors_for(Conflict, Gone),
)
async def approve_redaction(
    redaction_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> RedactionView:
    return await run_in_threadpool(
        redactions.approve_redaction, system, user, redaction_id, user_actor(request, user)
    )


@router.get(
    "/redactions/{redaction_id}/record",
    summary="The redaction record stored beside the copy (JSON), as a court would check it",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {"schema": RECORD_SCHEMA}}},
        **errors_for(Conflict, Gone),
    },
    openapi_extra=access(Action.REDACT),
)
async def read_record(
    redaction_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> Response:
    data = await run_in_threadpool(
        redactions.read_record, system, user, redaction_id, user_actor(request, user)
    )
    return Response(data, media_type="application/json")


@router.get(
    "/recordings/{recording_id}/face-scans",
    response_model=list[ScanView],
    summary="The face scans of a recording, newest first",
    openapi_extra=access(Action.REDACT),
)
async def list_scans(
    recording_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> list[ScanView]:
    return await run_in_threadpool(
        scans.list_scans, system, user, recording_id, user_actor(request, user)
    )


@router.get(
    "/face-scans/{scan_id}/tracks/{track_id}/thumbnail",
    summary="A track's thumbnail: the face of its most confident detection (JPEG)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
    openapi_extra=access(Action.REDACT),
)
async def thumbnail(
    scan_id: str, track_id: int, request: Request, system: SystemDep, user: CurrentUser
) -> Response:
    data = await run_in_threadpool(
        scans.thumbnail, system, user, scan_id, track_id, user_actor(request, user)
    )
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get(
    "/recordings/{recording_id}/redactions",
    response_model=list[RedactionView],
    summary="The redacted copies of a recording, oldest first",
    openapi_extra=access(Action.REDACT),
)
async def list_redactions(
    recording_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> list[RedactionView]:
    return await run_in_threadpool(
        redactions.list_redactions, system, user, recording_id, user_actor(request, user)
    )


@router.get(
    "/redactions/{redaction_id}/media",
    summary="Play a redacted copy, a range at a time",
    response_class=StreamingResponse,
    responses={
        206: {"description": "the range asked for", "content": {"video/mp4": {}}},
        **errors_for(416, Conflict, Gone),
    },
    openapi_extra=access(Action.STREAM),
)
async def media(
    redaction_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> Response:
    byte_range = parse_range(request.headers.get("range"))
    try:
        stream = await run_in_threadpool(
            lambda: redactions.open_copy_media(
                system, user, redaction_id, user_actor(request, user), byte_range
            )
        )
    except RangeNotSatisfiable as exc:
        response = error_response(416, exc.code, exc.message)
        response.headers["Content-Range"] = f"bytes */{exc.size}"
        return response
    return footage_answer(stream, f"redacted-{redaction_id}")
