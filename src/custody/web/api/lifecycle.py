"""Categories, and what people write about a recording: its categories, title, reference,
tags, notes and bookmarks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.categories import CategoryRule, parse_access_class
from custody.domain.principal import Principal
from custody.services.evidence import annotations as annotation_service
from custody.services.evidence import categories
from custody.services.evidence.answers import (
    Annotations,
    Bookmark,
    Categorised,
    CategoryChanged,
    CategoryView,
    Note,
)
from custody.web.deps import CurrentUser, Permit, SystemDep, user_actor
from custody.web.guard import access

router = APIRouter(tags=["lifecycle"])
CategoryAdmin = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_CATEGORIES))]


class NewCategory(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=500)
    retention_days: int | None = Field(
        description="days kept from the recording time; null: until manually deleted"
    )
    review_days: int | None = Field(default=None, description="review period in days")
    access_class: str = Field(default="normal", description="normal, restricted or confidential")
    evidential: bool = Field(
        default=True, description="false: never kept past 31 days from recording"
    )


class CategoryChange(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    description: str | None = Field(default=None, max_length=500)
    retention_days: int | None = None
    review_days: int | None = None
    access_class: str | None = None
    evidential: bool | None = None
    retired: bool | None = None
    reason: str | None = Field(default=None, max_length=1000)


class Categorisation(BaseModel):
    categories: list[str] = Field(
        max_length=20, description="the whole set, by name; [] leaves it uncategorised"
    )
    reason: str | None = Field(
        default=None, max_length=1000, description="required when a category is removed"
    )


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


@router.get(
    "/categories",
    response_model=list[CategoryView],
    summary="Categories and their rules",
    openapi_extra=access("self"),
)
async def list_categories(
    system: SystemDep, user: CurrentUser, include_retired: bool = Query(False)
) -> list[CategoryView]:
    return await run_in_threadpool(
        lambda: categories.list_categories(system, include_retired=include_retired)
    )


@router.post(
    "/categories",
    status_code=201,
    response_model=CategoryView,
    summary="Add a category (administrators)",
    openapi_extra=access("system:manage_categories"),
)
async def create_category(
    body: NewCategory, request: Request, system: SystemDep, user: CategoryAdmin
) -> CategoryView:
    rule = CategoryRule(
        name=body.name,
        retention_days=body.retention_days,
        review_days=body.review_days,
        access_class=parse_access_class(body.access_class),
        evidential=body.evidential,
        description=body.description,
    )
    return await run_in_threadpool(
        categories.create_category, system, user, rule, user_actor(request, user)
    )


@router.patch(
    "/categories/{category_id}",
    response_model=CategoryChanged,
    summary="Change or retire a category; its recordings are decided again at once",
    openapi_extra=access("system:manage_categories"),
)
async def update_category(
    category_id: int, body: CategoryChange, request: Request, system: SystemDep, user: CategoryAdmin
) -> CategoryChanged:
    changes = body.model_dump(exclude_unset=True)
    reason = changes.pop("reason", None)
    return await run_in_threadpool(
        categories.update_category,
        system,
        user,
        category_id,
        changes,
        reason,
        user_actor(request, user),
    )


@router.put(
    "/recordings/{recording_id}/categories",
    response_model=Categorised,
    summary="Categorise a recording (the whole set of categories)",
    openapi_extra=access("recording:categorise"),
)
async def set_categories(
    recording_id: str, body: Categorisation, request: Request, system: SystemDep, user: CurrentUser
) -> Categorised:
    return await run_in_threadpool(
        categories.set_categories,
        system,
        user,
        recording_id,
        body.categories,
        body.reason,
        user_actor(request, user),
    )


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
