"""Evidence flags, cases and holds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.principal import Principal
from custody.services.evidence import cases, flags
from custody.services.evidence import holds as hold_service
from custody.services.evidence.answers import (
    CaseDetail,
    CaseRecordingChanged,
    CaseView,
    FlagChanged,
    HoldLifted,
    HoldView,
)
from custody.web.deps import CurrentUser, Permit, SystemDep, user_actor
from custody.web.guard import access

router = APIRouter(tags=["evidence"])
CaseViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_CASES))]
CaseManager = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_CASES))]


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


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


class NewHold(BaseModel):
    kind: str = Field(description="legal or complaint")
    reason: str = Field(min_length=1, max_length=1000)
    recording_ids: list[str] | None = Field(default=None, max_length=5000)
    officer: str | None = Field(
        default=None, description="warrant number: hold their footage in [since, until)"
    )
    since: datetime | None = None
    until: datetime | None = None


@router.post(
    "/recordings/{recording_id}/evidence",
    status_code=201,
    response_model=FlagChanged,
    summary="Flag a recording as evidence",
    openapi_extra=access("recording:flag_evidence"),
)
async def flag_evidence(
    recording_id: str, body: Reason, request: Request, system: SystemDep, user: CurrentUser
) -> FlagChanged:
    return await run_in_threadpool(
        flags.flag_evidence, system, user, recording_id, body.reason, user_actor(request, user)
    )


@router.post(
    "/recordings/{recording_id}/evidence/{flag_id}/clear",
    response_model=FlagChanged,
    summary="Clear an evidence flag",
    openapi_extra=access("recording:flag_evidence"),
)
async def clear_evidence(
    recording_id: str,
    flag_id: int,
    body: Reason,
    request: Request,
    system: SystemDep,
    user: CurrentUser,
) -> FlagChanged:
    return await run_in_threadpool(
        flags.clear_evidence_flag,
        system,
        user,
        recording_id,
        flag_id,
        body.reason,
        user_actor(request, user),
    )


@router.get(
    "/cases",
    response_model=list[CaseView],
    summary="Cases you may see",
    openapi_extra=access("system:view_cases"),
)
async def list_cases(
    request: Request,
    system: SystemDep,
    user: CaseViewer,
    status: str | None = Query(None, description="open or closed"),
) -> list[CaseView]:
    return await run_in_threadpool(
        lambda: cases.list_cases(system, user, user_actor(request, user), status=status)
    )


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseView,
    summary="Open a case",
    openapi_extra=access("system:manage_cases"),
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
    summary="Take a recording out of a case",
    openapi_extra=access("recording:add_to_case"),
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
)
async def reopen_case(
    case_id: int, body: Reason, request: Request, system: SystemDep, user: CaseManager
) -> CaseDetail:
    return await run_in_threadpool(
        cases.reopen_case, system, user, case_id, body.reason, user_actor(request, user)
    )


@router.post(
    "/holds",
    status_code=201,
    response_model=list[HoldView],
    summary="Place a legal or complaint hold on recordings",
    openapi_extra=access("recording:place_hold"),
)
async def place_hold(
    body: NewHold, request: Request, system: SystemDep, user: CurrentUser
) -> list[HoldView]:
    return await run_in_threadpool(
        lambda: hold_service.place_hold(
            system,
            user,
            kind=body.kind,
            reason=body.reason,
            actor=user_actor(request, user),
            recording_ids=body.recording_ids,
            officer=body.officer,
            since=body.since,
            until=body.until,
        )
    )


@router.get(
    "/holds",
    response_model=list[HoldView],
    summary="Holds you may see",
    openapi_extra=access("recording:view_holds"),
)
async def list_holds(
    request: Request,
    system: SystemDep,
    user: CurrentUser,
    recording_id: str | None = Query(None),
    active: bool = Query(True, description="false: lifted holds too"),
) -> list[HoldView]:
    return await run_in_threadpool(
        lambda: hold_service.list_holds(
            system, user, user_actor(request, user), recording_id=recording_id, active=active
        )
    )


@router.post(
    "/holds/{hold_id}/lift",
    response_model=HoldLifted,
    summary="Lift a hold",
    openapi_extra=access("recording:lift_hold"),
)
async def lift_hold(
    hold_id: int, body: Reason, request: Request, system: SystemDep, user: CurrentUser
) -> HoldLifted:
    return await run_in_threadpool(
        hold_service.lift_hold, system, user, hold_id, body.reason, user_actor(request, user)
    )
