"""Recordings for people: list, one recording, its footage with HTTP ranges, its thumbnail."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action
from custody.services.answers import MAX_OFFSET, MAX_PAGE, Page, Paged
from custody.services.cursors import LONGEST
from custody.services.recordings import reading
from custody.services.recordings.answers import RecordingSummary, RecordingView, TombstoneView
from custody.services.recordings.reading import RangeNotSatisfiable, RecordingFilter
from custody.web.deps import CurrentUser, SystemDep, user_actor
from custody.web.errors import error_response, errors_for
from custody.web.guard import access
from custody.web.media import footage_answer, parse_range

router = APIRouter(tags=["recordings"])


@router.get(
    "/recordings",
    response_model=Paged[RecordingSummary],
    summary="Recordings you may see, newest first, paged",
    openapi_extra=access(Action.LIST),
)
async def list_recordings(
    system: SystemDep,
    user: CurrentUser,
    officer: str | None = Query(None, description="warrant number"),
    camera: str | None = Query(None, description="camera serial"),
    since: datetime | None = Query(None, description="started at or after (ISO 8601)"),
    until: datetime | None = Query(None, description="started before (ISO 8601)"),
    state: str | None = Query(None, description="stored, playable, unplayable or deleted"),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, description=f"a first page's offset, at most {MAX_OFFSET}"),
    cursor: str | None = Query(
        None, max_length=LONGEST, description="the page after this one: a page's next_cursor"
    ),
) -> Paged[RecordingSummary]:
    filters = RecordingFilter(officer, camera, since, until, state)
    page = Page(offset, limit, after=cursor)
    return await run_in_threadpool(reading.list_recordings, system, user, filters, page)


@router.get(
    "/recordings/{recording_id}",
    response_model=RecordingView | TombstoneView,
    summary="One recording, or the tombstone of a deleted one (the view is audited)",
    openapi_extra=access(Action.VIEW),
)
async def get_recording(
    recording_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> RecordingView | TombstoneView:
    return await run_in_threadpool(
        reading.get_recording, system, user, recording_id, user_actor(request, user)
    )


@router.get(
    "/recordings/{recording_id}/media",
    summary="The original footage: play a range at a time, or ?download=true for a copy",
    response_class=StreamingResponse,
    responses={
        200: {"description": "a download: the whole recording", "content": {"video/mp4": {}}},
        206: {
            "description": "the range asked for (playing: at most a few MiB per answer)",
            "content": {"video/mp4": {}},
        },
        **errors_for(416),
    },
    # ?download=true asks for Action.DOWNLOAD instead (the whole, as an attachment, audited
    # as a download); the service decides which.
    openapi_extra=access(Action.STREAM),
)
async def media(
    recording_id: str,
    request: Request,
    system: SystemDep,
    user: CurrentUser,
    download: bool = Query(False),
) -> Response:
    byte_range = parse_range(request.headers.get("range"))
    try:
        stream = await run_in_threadpool(
            lambda: reading.open_media(
                system, user, recording_id, user_actor(request, user), byte_range, download=download
            )
        )
    except RangeNotSatisfiable as exc:
        response = error_response(416, exc.code, exc.message)
        response.headers["Content-Range"] = f"bytes */{exc.size}"
        return response
    return footage_answer(stream, recording_id)


@router.get(
    "/recordings/{recording_id}/thumbnail",
    summary="A still from the recording (JPEG)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
    openapi_extra=access(Action.VIEW),
)
async def thumbnail(
    recording_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> Response:
    data = await run_in_threadpool(
        reading.open_thumbnail, system, user, recording_id, user_actor(request, user)
    )
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )
