"""Legal and complaint holds (`services/evidence/holds.py`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.services.evidence import holds
from custody.services.evidence.answers import HoldLifted, HoldView
from custody.web.api.evidence.flags import Reason
from custody.web.deps import CurrentUser, SystemDep, user_actor
from custody.web.guard import access

router = APIRouter()


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
        lambda: holds.place_hold(
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
        lambda: holds.list_holds(
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
        holds.lift_hold, system, user, hold_id, body.reason, user_actor(request, user)
    )
