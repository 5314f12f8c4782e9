"""Clips: cutting one from a recording, its record, and its footage with HTTP ranges
(`services/disclosure/clips.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action
from custody.domain.errors import Conflict
from custody.services.disclosure import clips
from custody.services.disclosure.answers import ClipView
from custody.services.recordings.reading import RangeNotSatisfiable
from custody.web.deps import CurrentUser, SystemDep, user_actor
from custody.web.errors import error_response, errors_for
from custody.web.guard import access
from custody.web.media import footage_answer, parse_range

router = APIRouter()


class NewClip(BaseModel):
    in_seconds: float = Field(ge=0, le=1e7, description="from the start of the recording")
    out_seconds: float = Field(gt=0, le=1e7, description="after in_seconds")
    title: str = Field(default="", max_length=200)


@router.post(
    "/recordings/{recording_id}/clips",
    status_code=201,
    response_model=ClipView,
    summary="Cut a clip of a recording, losslessly (stream copy); the original is unchanged",
    openapi_extra=access(Action.CLIP),
    responses=errors_for(Conflict),
)
async def cut_clip(
    recording_id: str, body: NewClip, request: Request, system: SystemDep, user: CurrentUser
) -> ClipView:
    return await run_in_threadpool(
        lambda: clips.cut_clip(
            system,
            user,
            recording_id,
            body.in_seconds,
            body.out_seconds,
            user_actor(request, user),
            title=body.title,
        )
    )


@router.get(
    "/recordings/{recording_id}/clips",
    response_model=list[ClipView],
    summary="The clips cut from a recording",
    openapi_extra=access(Action.VIEW),
)
async def list_clips(
    recording_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> list[ClipView]:
    return await run_in_threadpool(
        clips.list_clips, system, user, recording_id, user_actor(request, user)
    )


@router.get(
    "/clips/{clip_id}",
    response_model=ClipView,
    summary="One clip (the view is audited on its recording)",
    openapi_extra=access(Action.VIEW),
)
async def get_clip(
    clip_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> ClipView:
    return await run_in_threadpool(clips.get_clip, system, user, clip_id, user_actor(request, user))


@router.get(
    "/clips/{clip_id}/media",
    summary="A clip's footage: play a range at a time, or ?download=true for a copy",
    response_class=StreamingResponse,
    responses={
        200: {"description": "a download: the whole clip", "content": {"video/mp4": {}}},
        206: {"description": "the range asked for", "content": {"video/mp4": {}}},
        **errors_for(416, Conflict),
    },
    # ?download=true asks for Action.DOWNLOAD of the clip's recording instead.
    openapi_extra=access(Action.STREAM),
)
async def media(
    clip_id: str,
    request: Request,
    system: SystemDep,
    user: CurrentUser,
    download: bool = Query(False),
) -> Response:
    return await clip_footage(request, system, user, clip_id, download=download)


async def clip_footage(
    request: Request, system: SystemDep, user: CurrentUser, clip_id: str, *, download: bool
) -> Response:
    """The clip's footage answer, the same for the API and the portal's player."""
    byte_range = parse_range(request.headers.get("range"))
    try:
        stream = await run_in_threadpool(
            lambda: clips.open_clip_media(
                system, user, clip_id, user_actor(request, user), byte_range, download=download
            )
        )
    except RangeNotSatisfiable as exc:
        response = error_response(416, exc.code, exc.message)
        response.headers["Content-Range"] = f"bytes */{exc.size}"
        return response
    return footage_answer(stream, f"clip-{clip_id}")
