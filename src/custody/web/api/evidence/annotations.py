"""What people write on a recording: its title, reference, tags, notes and bookmarks
(`services/evidence/annotations.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.services.evidence import annotations as annotation_service
from custody.services.evidence.answers import Annotations, Bookmark, Note
from custody.web.deps import CurrentUser, SystemDep, user_actor
from custody.web.guard import access

router = APIRouter()


class AnnotationChange(BaseModel):
    title: str | None = Field(default=None, max_length=200)
    reference: str | None = Field(
        default=None, max_length=64, description="crime or incident reference"
    )
    tags: list[str] | None = Field(default=None, max_length=30)


class NewNote(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class NewBookmark(BaseModel):
    at_seconds: float = Field(ge=0, description="seconds from the recording's first frame")
    label: str = Field(min_length=1, max_length=200)


@router.patch(
    "/recordings/{recording_id}/annotations",
    response_model=Annotations,
    summary="Set a recording's title, reference and tags",
    openapi_extra=access("recording:annotate"),
)
async def annotate(
    recording_id: str,
    body: AnnotationChange,
    request: Request,
    system: SystemDep,
    user: CurrentUser,
) -> Annotations:
    return await run_in_threadpool(
        lambda: annotation_service.annotate(
            system,
            user,
            recording_id,
            user_actor(request, user),
            title=body.title,
            reference=body.reference,
            tags=body.tags,
        )
    )


@router.post(
    "/recordings/{recording_id}/notes",
    status_code=201,
    response_model=Note,
    summary="Add a note to a recording",
    openapi_extra=access("recording:annotate"),
)
async def add_note(
    recording_id: str, body: NewNote, request: Request, system: SystemDep, user: CurrentUser
) -> Note:
    return await run_in_threadpool(
        annotation_service.add_note,
        system,
        user,
        recording_id,
        body.text,
        user_actor(request, user),
    )


@router.post(
    "/recordings/{recording_id}/bookmarks",
    status_code=201,
    response_model=Bookmark,
    summary="Bookmark a moment of a recording",
    openapi_extra=access("recording:annotate"),
)
async def add_bookmark(
    recording_id: str, body: NewBookmark, request: Request, system: SystemDep, user: CurrentUser
) -> Bookmark:
    return await run_in_threadpool(
        annotation_service.add_bookmark,
        system,
        user,
        recording_id,
        body.at_seconds,
        body.label,
        user_actor(request, user),
    )


@router.delete(
    "/recordings/{recording_id}/bookmarks/{bookmark_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a bookmark",
    openapi_extra=access("recording:annotate"),
)
async def remove_bookmark(
    recording_id: str, bookmark_id: int, request: Request, system: SystemDep, user: CurrentUser
) -> Response:
    await run_in_threadpool(
        annotation_service.remove_bookmark,
        system,
        user,
        recording_id,
        bookmark_id,
        user_actor(request, user),
    )
    return Response(status_code=204)
