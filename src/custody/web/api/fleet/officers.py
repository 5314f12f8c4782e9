"""`/officers`: the officers on the register, their cards, and the cameras they have held."""

from __future__ import annotations

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.errors import Conflict
from custody.services.answers import MAX_OFFSET, MAX_PAGE, Page, Paged
from custody.services.cursors import LONGEST
from custody.services.fleet import assignments, registry, views
from custody.services.fleet.answers import Assignment, OfficerAdded, OfficerView
from custody.web.api.fleet.rules import MANAGE, VIEW, FleetManager, FleetViewer, fleet_router
from custody.web.deps import SystemDep, user_actor
from custody.web.errors import errors_for

router = fleet_router()


class NewOfficer(BaseModel):
    warrant_number: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    rank: str = Field(default="PC", max_length=64)
    unit: str = Field(min_length=1, max_length=120, description="borough / BCU or team")
    card_id: str | None = Field(default=None, max_length=64, description="RFID warrant card")


class OfficerChange(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    rank: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=120)
    card_id: str | None = Field(default=None, max_length=64, description="a new card")
    clear_card: bool = Field(default=False, description="the card was lost: it no longer works")


@router.get(
    "/officers",
    response_model=Paged[OfficerView],
    summary="Officers, with the camera each holds",
    openapi_extra=VIEW,
)
async def list_officers(
    request: Request,
    system: SystemDep,
    user: FleetViewer,
    unit: str | None = Query(None, max_length=120),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, description=f"a first page's offset, at most {MAX_OFFSET}"),
    cursor: str | None = Query(
        None, max_length=LONGEST, description="the page after this one: a page's next_cursor"
    ),
) -> Paged[OfficerView]:
    return await run_in_threadpool(
        lambda: views.list_officers(
            system,
            user,
            unit=unit,
            page=Page(offset, limit, after=cursor),
            actor=user_actor(request, user),
        )
    )


@router.post(
    "/officers",
    status_code=201,
    response_model=OfficerAdded,
    summary="Add an officer",
    openapi_extra=MANAGE,
    responses=errors_for(Conflict),
)
async def add_officer(
    body: NewOfficer, request: Request, system: SystemDep, user: FleetManager
) -> OfficerAdded:
    return await run_in_threadpool(
        lambda: registry.add_officer(
            system,
            user,
            body.warrant_number,
            name=body.name,
            unit=body.unit,
            rank=body.rank,
            card_id=body.card_id,
            actor=user_actor(request, user),
        )
    )


@router.patch(
    "/officers/{warrant_number}",
    status_code=204,
    summary="Change an officer's details or card",
    openapi_extra=MANAGE,
    responses=errors_for(Conflict),
)
async def change_officer(
    warrant_number: str,
    body: OfficerChange,
    request: Request,
    system: SystemDep,
    user: FleetManager,
) -> Response:
    await run_in_threadpool(
        lambda: registry.update_officer(
            system,
            user,
            warrant_number,
            name=body.name,
            rank=body.rank,
            unit=body.unit,
            card_id=body.card_id,
            clear_card=body.clear_card,
            actor=user_actor(request, user),
        )
    )
    return Response(status_code=204)


@router.get(
    "/officers/{warrant_number}/assignments",
    response_model=list[Assignment],
    summary="The cameras an officer has held, newest first",
    openapi_extra=VIEW,
)
async def officer_assignments(
    warrant_number: str, request: Request, system: SystemDep, user: FleetViewer
) -> list[Assignment]:
    return await run_in_threadpool(
        lambda: assignments.history(
            system, user, officer=warrant_number, actor=user_actor(request, user)
        )
    )
