"""Subject access requests (`services/requests/subject_access.py`), for those who answer
them; everyone else is refused alike, whether or not a request exists."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.errors import Conflict
from custody.domain.principal import Principal
from custody.domain.shares import DEFAULT_DAYS
from custody.services.disclosure.share_answers import IssuedCode
from custody.services.requests import subject_access as sar
from custody.services.requests.answers import Candidate, Released, RequestDetail, RequestView
from custody.web.api.disclosure_shares import server_url
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.errors import errors_for
from custody.web.guard import access

router = APIRouter(prefix="/subject-access-requests", tags=["subject access"])
Answerer = Annotated[Principal, Depends(Permit(SystemAction.ANSWER_SUBJECT_ACCESS))]
RULE = access(SystemAction.ANSWER_SUBJECT_ACCESS)


class NewRequest(BaseModel):
    requester_name: str = Field(min_length=1, max_length=sar.MAX_NAME)
    requester_email: str = Field(min_length=3, max_length=sar.MAX_EMAIL)
    received_on: date = Field(description="the day the request reached the force")
    description: str = Field(min_length=1, max_length=sar.MAX_DESCRIPTION)


class Extension(BaseModel):
    months: int = Field(ge=1, le=2)
    reason: str = Field(min_length=1, max_length=1000, description="the requester is told it")


class Attachment(BaseModel):
    recording_id: str = Field(min_length=1, max_length=64)


class Reasoned(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class Marking(BaseModel):
    redaction: Literal["reviewed_no_third_parties", "redacted_copy_attached"]


class CopyChoice(BaseModel):
    redaction_id: str = Field(min_length=1, max_length=36, description="an approved redaction")


class Releasing(BaseModel):
    days: int = Field(default=DEFAULT_DAYS, ge=1, le=366, description="until the link ends")


class Closing(BaseModel):
    record: str = Field(min_length=1, max_length=1000, description="what was done, for the file")


@router.post("", status_code=201, response_model=RequestView, openapi_extra=RULE)
async def register(
    body: NewRequest, request: Request, system: SystemDep, user: Answerer
) -> RequestView:
    """Register a request on receipt: its one-calendar-month deadline runs from then."""
    return await run_in_threadpool(
        lambda: sar.register_request(
            system,
            user,
            requester_name=body.requester_name,
            requester_email=body.requester_email,
            received_on=body.received_on,
            description=body.description,
            actor=user_actor(request, user),
        )
    )


@router.get("", response_model=list[RequestView], openapi_extra=RULE)
async def list_open(request: Request, system: SystemDep, user: Answerer) -> list[RequestView]:
    """Open requests, the nearest deadline first, with days left (negative: late)."""
    return await run_in_threadpool(sar.list_open, system, user, user_actor(request, user))


@router.get("/{reference}", response_model=RequestDetail, openapi_extra=RULE)
async def get_request(
    reference: str, request: Request, system: SystemDep, user: Answerer
) -> RequestDetail:
    return await run_in_threadpool(
        sar.get_request, system, user, reference, user_actor(request, user)
    )


@router.post(
    "/{reference}/extension",
    response_model=RequestView,
    openapi_extra=RULE,
    responses=errors_for(Conflict),
)
async def extend(
    reference: str, body: Extension, request: Request, system: SystemDep, user: Answerer
) -> RequestView:
    return await run_in_threadpool(
        sar.extend_request,
        system,
        user,
        reference,
        body.months,
        body.reason,
        user_actor(request, user),
    )


@router.get("/{reference}/candidates", response_model=list[Candidate], openapi_extra=RULE)
async def candidates(
    reference: str,
    request: Request,
    system: SystemDep,
    user: Answerer,
    since: datetime,
    until: datetime,
    officer: Annotated[str | None, Query(max_length=32)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_m: Annotated[float | None, Query(gt=0, le=50_000)] = None,
) -> list[Candidate]:
    """Recordings overlapping the window; of the officer (warrant number) if named; whose
    GPS track passes within radius_m of lat, lon if all three are given."""
    near = None
    if lat is not None and lon is not None and radius_m is not None:
        near = (lat, lon, radius_m)
    return await run_in_threadpool(
        lambda: sar.find_candidates(
            system,
            user,
            reference,
            since=since,
            until=until,
            officer=officer,
            near=near,
            actor=user_actor(request, user),
        )
    )


@router.post(
    "/{reference}/recordings",
    response_model=RequestDetail,
    openapi_extra=RULE,
    responses=errors_for(Conflict),
)
async def attach(
    reference: str, body: Attachment, request: Request, system: SystemDep, user: Answerer
) -> RequestDetail:
    """Attach a recording: it is held until the request closes."""
    return await run_in_threadpool(
        sar.attach_recording, system, user, reference, body.recording_id, user_actor(request, user)
    )


@router.post(
    "/{reference}/recordings/{recording_id}/detach",
    response_model=RequestDetail,
    openapi_extra=RULE,
    responses=errors_for(Conflict),
)
async def detach(
    reference: str,
    recording_id: str,
    body: Reasoned,
    request: Request,
    system: SystemDep,
    user: Answerer,
) -> RequestDetail:
    return await run_in_threadpool(
        sar.detach_recording,
        system,
        user,
        reference,
        recording_id,
        body.reason,
        user_actor(request, user),
    )


@router.post(
    "/{reference}/recordings/{recording_id}/redaction",
    response_model=RequestDetail,
    openapi_extra=RULE,
    responses=errors_for(Conflict),
)
async def mark(
    reference: str,
    recording_id: str,
    body: Marking,
    request: Request,
    system: SystemDep,
    user: Answerer,
) -> RequestDetail:
    """Mark a recording reviewed (no third parties) or its redacted copy attached."""
    return await run_in_threadpool(
        sar.mark_recording,
        system,
        user,
        reference,
        recording_id,
        body.redaction,
        user_actor(request, user),
    )


@router.post(
    "/{reference}/approval",
    response_model=RequestView,
    openapi_extra=RULE,
    responses=errors_for(Conflict),
)
async def approve(
    reference: str, request: Request, system: SystemDep, user: Answerer
) -> RequestView:
    """A second person approves release: not the one who registered the request."""
    return await run_in_threadpool(
        sar.approve_request, system, user, reference, user_actor(request, user)
    )


@router.post(
    "/{reference}/recordings/{recording_id}/redacted-copy",
    response_model=RequestDetail,
    openapi_extra=RULE,
    responses=errors_for(Conflict),
)
async def attach_copy(
    reference: str,
    recording_id: str,
    body: CopyChoice,
    request: Request,
    system: SystemDep,
    user: Answerer,
) -> RequestDetail:
    """Attach an approved redacted copy of the recording: it is released in its place."""
    return await run_in_threadpool(
        sar.attach_redaction,
        system,
        user,
        reference,
        recording_id,
        body.redaction_id,
        user_actor(request, user),
    )


@router.post(
    "/{reference}/release",
    status_code=201,
    response_model=Released,
    openapi_extra=RULE,
    responses=errors_for(Conflict),
)
async def release(
    reference: str, body: Releasing, request: Request, system: SystemDep, user: Answerer
) -> Released:
    """Release the approved request to its requester: a share with a link by e-mail, a
    one-time code to the same address, and a receipt when they acknowledge. Once only."""
    return await run_in_threadpool(
        lambda: sar.release_request(
            system,
            user,
            reference,
            user_actor(request, user),
            days=body.days,
            server_url=server_url(request),
        )
    )


@router.post(
    "/{reference}/release/code",
    response_model=IssuedCode,
    openapi_extra=RULE,
    responses=errors_for(Conflict),
)
async def release_code(
    reference: str, request: Request, system: SystemDep, user: Answerer
) -> IssuedCode:
    """A one-time code to give the requester yourself, where the server sends no mail."""
    return await run_in_threadpool(
        sar.issue_code, system, user, reference, user_actor(request, user)
    )


@router.post(
    "/{reference}/close",
    response_model=RequestView,
    openapi_extra=RULE,
    responses=errors_for(Conflict),
)
async def close(
    reference: str, body: Closing, request: Request, system: SystemDep, user: Answerer
) -> RequestView:
    """Close with a record; the holds the request placed are lifted."""
    return await run_in_threadpool(
        sar.close_request, system, user, reference, body.record, user_actor(request, user)
    )
