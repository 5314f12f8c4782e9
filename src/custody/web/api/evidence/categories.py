"""Categories and their rules, and categorising a recording (`services/evidence/categories.py`)."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.categories import CategoryRule, parse_access_class
from custody.domain.errors import Conflict
from custody.domain.principal import Principal
from custody.services.evidence import categories
from custody.services.evidence.answers import Categorised, CategoryChanged, CategoryView
from custody.services.evidence.categories import CategoryChanges
from custody.web.deps import CurrentUser, Permit, SystemDep, user_actor
from custody.web.errors import errors_for
from custody.web.guard import access

router = APIRouter()
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
    """Only the fields given change. Null is a value only where it means something:
    retention_days (kept until manually deleted), review_days (no review) and reason."""

    name: str | None = Field(default=None, min_length=1, max_length=80)
    description: str | None = Field(default=None, max_length=500)
    retention_days: int | None = None
    review_days: int | None = None
    access_class: str | None = None
    evidential: bool | None = None
    retired: bool | None = None
    reason: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _no_null_values(self) -> CategoryChange:
        nulls = sorted(
            name
            for name in self.model_fields_set
            if getattr(self, name) is None
            and name not in ("retention_days", "review_days", "reason")
        )
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self

    def changes(self) -> CategoryChanges:
        # The fields given, none of them null where null means nothing (checked above).
        return cast(CategoryChanges, self.model_dump(exclude_unset=True, exclude={"reason"}))


class Categorisation(BaseModel):
    categories: list[str] = Field(
        max_length=20, description="the whole set, by name; [] leaves it uncategorised"
    )
    reason: str | None = Field(
        default=None, max_length=1000, description="required when a category is removed"
    )


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
    responses=errors_for(Conflict),
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
    responses=errors_for(Conflict),
)
async def update_category(
    category_id: int, body: CategoryChange, request: Request, system: SystemDep, user: CategoryAdmin
) -> CategoryChanged:
    return await run_in_threadpool(
        categories.update_category,
        system,
        user,
        category_id,
        body.changes(),
        body.reason,
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
