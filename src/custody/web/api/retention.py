"""Retention: preview, an on-demand sweep, the pending list, restore, the review queue and
deletion certificates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.principal import Principal
from custody.services.answers import MAX_OFFSET, MAX_PAGE, Paged
from custody.services.cursors import LONGEST
from custody.services.retention import compliance, sweep
from custody.services.retention import review as reviewing
from custody.services.retention.answers import (
    Compliance,
    DeletionCertificate,
    Restored,
    RetentionEntry,
    Reviewed,
    SignedOff,
    SweepPreview,
    SweepResult,
)
from custody.web.deps import CurrentUser, Permit, SystemDep, user_actor
from custody.web.guard import access

router = APIRouter(tags=["retention"])
Previewer = Annotated[Principal, Depends(Permit(SystemAction.RETENTION_PREVIEW))]
Sweeper = Annotated[Principal, Depends(Permit(SystemAction.RETENTION_RUN))]
Reviewer = Annotated[Principal, Depends(Permit(SystemAction.REVIEW_QUEUE))]


class Restore(BaseModel):
    category: str = Field(min_length=1, max_length=80)
    reason: str = Field(min_length=1, max_length=1000)


class Review(BaseModel):
    note: str = Field(min_length=1, max_length=1000, description="why it is still kept")


@router.get(
    "/retention/preview",
    response_model=SweepPreview,
    summary="What a sweep at a given time would delete, and why (nothing is deleted)",
    openapi_extra=access("system:retention_preview"),
)
async def preview(
    request: Request,
    system: SystemDep,
    user: Previewer,
    at: datetime = Query(..., description="ISO 8601 time of the imagined sweep"),
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="deeper pages: use cursor"),
    cursor: str | None = Query(
        None, max_length=LONGEST, description="the page after this one: a page's next_cursor"
    ),
) -> SweepPreview:
    return await run_in_threadpool(
        lambda: reviewing.preview(
            system,
            user,
            at,
            user_actor(request, user),
            limit=limit,
            offset=offset,
            cursor=cursor,
        )
    )


@router.post(
    "/retention/run",
    response_model=SweepResult,
    summary="Run the retention sweep now (it also runs hourly)",
    openapi_extra=access("system:retention_run"),
)
async def run(request: Request, system: SystemDep, user: Sweeper) -> SweepResult:
    return await run_in_threadpool(lambda: sweep.run_sweep(system, user, user_actor(request, user)))


@router.get(
    "/retention/pending",
    response_model=Paged[RetentionEntry],
    summary="Recordings you may see that are due for deletion within 7 days",
    openapi_extra=access("recording:list"),
)
async def pending(
    request: Request,
    system: SystemDep,
    user: CurrentUser,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="deeper pages: use cursor"),
    cursor: str | None = Query(
        None, max_length=LONGEST, description="the page after this one: a page's next_cursor"
    ),
) -> Paged[RetentionEntry]:
    return await run_in_threadpool(
        lambda: reviewing.pending(
            system, user, user_actor(request, user), limit=limit, offset=offset, cursor=cursor
        )
    )


@router.get(
    "/retention/review-queue",
    response_model=Paged[RetentionEntry],
    summary="Retained recordings whose review date has come",
    openapi_extra=access("system:review_queue"),
)
async def review_queue(
    request: Request,
    system: SystemDep,
    user: Reviewer,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="deeper pages: use cursor"),
    cursor: str | None = Query(
        None, max_length=LONGEST, description="the page after this one: a page's next_cursor"
    ),
) -> Paged[RetentionEntry]:
    return await run_in_threadpool(
        lambda: reviewing.review_queue(
            system, user, user_actor(request, user), limit=limit, offset=offset, cursor=cursor
        )
    )


@router.post(
    "/recordings/{recording_id}/review",
    response_model=Reviewed,
    summary="Record a review that keeps the recording (the next falls a period later)",
    openapi_extra=access("system:review_queue"),
)
async def review(
    recording_id: str, body: Review, request: Request, system: SystemDep, user: Reviewer
) -> Reviewed:
    return await run_in_threadpool(
        reviewing.mark_reviewed, system, user, recording_id, body.note, user_actor(request, user)
    )


@router.post(
    "/recordings/{recording_id}/restore",
    response_model=Restored,
    summary="Restore a recording pending deletion to a category (administrators)",
    openapi_extra=access("recording:restore"),
)
async def restore(
    recording_id: str, body: Restore, request: Request, system: SystemDep, user: CurrentUser
) -> Restored:
    return await run_in_threadpool(
        reviewing.restore,
        system,
        user,
        recording_id,
        body.category,
        body.reason,
        user_actor(request, user),
    )


@router.get(
    "/recordings/{recording_id}/deletion-certificate",
    response_model=DeletionCertificate,
    summary="The signed deletion certificate of a deleted recording",
    openapi_extra=access("recording:list"),
)
async def certificate(
    recording_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> DeletionCertificate:
    return await run_in_threadpool(
        reviewing.certificate, system, user, recording_id, user_actor(request, user)
    )


# --- supervision -------------------------------------------------------------------------

ComplianceReader = Annotated[Principal, Depends(Permit(SystemAction.VIEW_COMPLIANCE))]
Supervisor = Annotated[Principal, Depends(Permit(SystemAction.SIGN_OFF_FOOTAGE))]


@router.get(
    "/compliance",
    response_model=Compliance,
    summary="Per team and officer: footage uncategorised, unreviewed before deletion, doubtful",
    openapi_extra=access(SystemAction.VIEW_COMPLIANCE),
)
async def get_compliance(
    request: Request,
    system: SystemDep,
    user: ComplianceReader,
    team: str | None = Query(
        None, max_length=120, description="force-wide readers: one team's officers"
    ),
) -> Compliance:
    return await run_in_threadpool(
        lambda: compliance.compliance(system, user, user_actor(request, user), team=team)
    )


@router.post(
    "/compliance/sign-off",
    response_model=SignedOff,
    summary="Sign off your team's non-evidential footage due within 7 days (not the doubtful)",
    openapi_extra=access(SystemAction.SIGN_OFF_FOOTAGE),
)
async def sign_off(request: Request, system: SystemDep, user: Supervisor) -> SignedOff:
    return await run_in_threadpool(compliance.sign_off, system, user, user_actor(request, user))
