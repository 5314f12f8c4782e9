"""Cases: opening, their recordings, their team, closing and reopening
(`services/evidence/cases.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.errors import Conflict
from custody.domain.principal import Principal
from custody.services.answers import MAX_PAGE, Page, Paged
from custody.services.cursors import LONGEST
from custody.services.evidence import cases
from custody.services.evidence.answers import CaseDetail, CaseRecordingChanged, CaseView
from custody.web.api.evidence.flags import Reason
from custody.web.deps import CurrentUser, Permit, SystemDep, user_actor
from custody.web.errors import errors_for
from custody.web.guard import access

router = APIRouter()
CaseViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_CASES))]
CaseManager = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_CASES))]


class NewCase(BaseModel):
    reference: str = Field(min_length=1, max_length=64, description="the crime reference")
    title: str = Field(min_length=1, max_length=200)
    officer_in_case: str | None = Field(default=None, description="username; default: you")
    disposal_days: int | None = Field(
        default=None,
        description="after closure, keep its footage this many days more (at least 7); "
        "null: until manually deleted",
    )
    members: list[str] = Field(default_factory=list, max_length=100)


class CaseRecordingIn(BaseModel):
    recording_id: str = Field(min_length=1, max_length=36)
    reason: str | None = Field(default=None, max_length=1000)


class Member(BaseModel):
    username: str = Field(min_length=1, max_length=120)


class CaseClosure(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)
    disposal_days: int | None = Field(
        default=None, description="overrides the case's disposal rule when given"
    )


@router.get(
    "/cases",
    response_model=Paged[CaseView],
    summary="Cases you may see, newest first, a page at a time (by cursor)",
    openapi_extra=access("system:view_cases"),
)
async def list_cases(
    request: Request,
    system: SystemDep,
    user: CaseViewer,
    status: str | None = Query(None, description="open or closed"),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
    cursor: str | None = Query(
        None, max_length=LONGEST, description="the page after this one: a page's next_cursor"
    ),
) -> Paged[CaseView]:
    page = Page(limit=limit, after=cursor)
    return await run_in_threadpool(
        lambda: cases.list_cases(system, user, user_actor(request, user), status=status, page=page)
    )


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseView,
    summary="Open a case",
    openapi_extra=access("system:manage_cases"),
    responses=errors_for(Conflict),
)
async def create_case(
    body: NewCase, request: Request, system: SystemDep, user: CaseManager
) -> CaseView:
    return await run_in_threadpool(
        lambda: cases.create_case(
            system,
            user,
            reference=body.reference,
            title=body.title,
            actor=user_actor(request, user),
            officer_in_case=body.officer_in_case,
            disposal_days=body.disposal_days,
            members=body.members,
        )
    )


@router.get(
    "/cases/{case_id}",
    response_model=CaseDetail,
    summary="One case and its recordings",
    openapi_extra=access("system:view_cases"),
)
async def get_case(
    case_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> CaseDetail:
    return await run_in_threadpool(cases.get_case, system, user, case_id, user_actor(request, user))


@router.post(
    "/cases/{case_id}/recordings",
    status_code=201,
    response_model=CaseRecordingChanged,
    summary="Add a recording to a case",
    openapi_extra=access("recording:add_to_case"),
)
async def add_to_case(
    case_id: int, body: CaseRecordingIn, request: Request, system: SystemDep, user: CurrentUser
) -> CaseRecordingChanged:
    return await run_in_threadpool(
        cases.add_to_case,
        system,
        user,
        case_id,
        body.recording_id,
        body.reason,
        user_actor(request, user),
    )


@router.post(
    "/cases/{case_id}/recordings/{recording_id}/remove",
    response_model=CaseRecordingChanged,
    summary="Take a recording out of a case (not one disclosed from it)",
    openapi_extra=access("recording:add_to_case"),
    responses=errors_for(Conflict),
)
async def remove_from_case(
    case_id: int,
    recording_id: str,
    body: Reason,
    request: Request,
    system: SystemDep,
    user: CurrentUser,
) -> CaseRecordingChanged:
    return await run_in_threadpool(
        cases.remove_from_case,
        system,
        user,
        case_id,
        recording_id,
        body.reason,
        user_actor(request, user),
    )


@router.post(
    "/cases/{case_id}/members",
    response_model=CaseView,
    summary="Add someone to a case's team",
    openapi_extra=access("system:manage_cases"),
)
async def add_member(
    case_id: int, body: Member, request: Request, system: SystemDep, user: CaseManager
) -> CaseView:
    return await run_in_threadpool(
        cases.add_case_member, system, user, case_id, body.username, user_actor(request, user)
    )


@router.post(
    "/cases/{case_id}/close",
    response_model=CaseDetail,
    summary="Close a case and apply its disposal rule",
    openapi_extra=access("system:manage_cases"),
    responses=errors_for(Conflict),
)
async def close_case(
    case_id: int, body: CaseClosure, request: Request, system: SystemDep, user: CaseManager
) -> CaseDetail:
    # Given (even as null) it overrides the case's rule; not given, the case's own stands.
    disposal = body.disposal_days if "disposal_days" in body.model_fields_set else cases.KEEP
    return await run_in_threadpool(
        cases.close_case, system, user, case_id, body.reason, user_actor(request, user), disposal
    )


@router.post(
    "/cases/{case_id}/reopen",
    response_model=CaseDetail,
    summary="Reopen a closed case",
    openapi_extra=access("system:manage_cases"),
    responses=errors_for(Conflict),
)
async def reopen_case(
    case_id: int, body: Reason, request: Request, system: SystemDep, user: CaseManager
) -> CaseDetail:
    return await run_in_threadpool(
        cases.reopen_case, system, user, case_id, body.reason, user_actor(request, user)
    )
