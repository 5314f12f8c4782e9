"""Complaints (`services/evidence/complaints.py`): registered by professional standards,
they hold their officers' footage in their window, docked before or after."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action, SystemAction
from custody.domain.principal import Principal
from custody.services.evidence import complaints
from custody.services.evidence.answers import ComplaintDetail, ComplaintView
from custody.web.api.evidence.flags import Reason
from custody.web.deps import CurrentUser, Permit, SystemDep, user_actor
from custody.web.guard import access

router = APIRouter()

Reader = Annotated[Principal, Depends(Permit(SystemAction.SEE_COMPLAINT_HOLDS))]
ComplaintReference = Annotated[str, Path(max_length=64, description="e.g. CO-2026-0142")]


class NewComplaint(BaseModel):
    reference: str = Field(min_length=1, max_length=64, description="e.g. CO-2026-0142")
    officers: list[str] = Field(
        min_length=1, max_length=20, description="warrant numbers of the officers complained of"
    )
    since: datetime = Field(description="start of the window: footage overlapping it is held")
    until: datetime
    summary: str = Field(min_length=1, max_length=1000)
    place: str = Field(default="", max_length=200)


@router.post(
    "/complaints",
    status_code=201,
    response_model=ComplaintView,
    summary="Register a complaint: hold its officers' footage in its window, now and later",
    openapi_extra=access(Action.PLACE_COMPLAINT_HOLD),
)
async def register_complaint(
    body: NewComplaint, request: Request, system: SystemDep, user: CurrentUser
) -> ComplaintView:
    return await run_in_threadpool(
        lambda: complaints.register_complaint(
            system,
            user,
            reference=body.reference,
            officers=body.officers,
            since=body.since,
            until=body.until,
            summary=body.summary,
            place=body.place,
            actor=user_actor(request, user),
        )
    )


@router.get(
    "/complaints",
    response_model=list[ComplaintView],
    summary="Complaints you may know of",
    openapi_extra=access(SystemAction.SEE_COMPLAINT_HOLDS),
)
async def list_complaints(
    request: Request,
    system: SystemDep,
    user: Reader,
    open_only: bool = Query(False, alias="open", description="true: open complaints only"),
) -> list[ComplaintView]:
    return await run_in_threadpool(
        lambda: complaints.list_complaints(
            system, user, user_actor(request, user), open_only=open_only
        )
    )


@router.get(
    "/complaints/{reference}",
    response_model=ComplaintDetail,
    summary="A complaint and the footage it holds",
    openapi_extra=access(SystemAction.SEE_COMPLAINT_HOLDS),
)
async def get_complaint(
    reference: ComplaintReference, request: Request, system: SystemDep, user: Reader
) -> ComplaintDetail:
    return await run_in_threadpool(
        complaints.get_complaint, system, user, reference, user_actor(request, user)
    )


@router.post(
    "/complaints/{reference}/close",
    response_model=ComplaintView,
    summary="Close a complaint: the holds it placed are lifted",
    openapi_extra=access(Action.PLACE_COMPLAINT_HOLD),
)
async def close_complaint(
    reference: ComplaintReference,
    body: Reason,
    request: Request,
    system: SystemDep,
    user: CurrentUser,
) -> ComplaintView:
    return await run_in_threadpool(
        complaints.close_complaint, system, user, reference, body.reason, user_actor(request, user)
    )
