"""Evidence flags (`services/evidence/flags.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.services.evidence import flags
from custody.services.evidence.answers import FlagChanged
from custody.web.deps import CurrentUser, SystemDep, user_actor
from custody.web.guard import access

router = APIRouter()


class Reason(BaseModel):
    """Why: kept in the audit trail (flags, holds and cases each need one to change)."""

    reason: str = Field(min_length=1, max_length=1000)


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
