"""A case's disclosure schedule: reading it, marking its items, printing it as PDF and CSV
(`services/disclosure/schedule.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.errors import Conflict
from custody.domain.principal import Principal
from custody.services.disclosure import schedule
from custody.services.disclosure.answers import Schedule, ScheduleLine
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.errors import errors_for
from custody.web.guard import access

router = APIRouter()
CaseViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_CASES))]
Marker = Annotated[Principal, Depends(Permit(SystemAction.MARK_SCHEDULE))]


class Marking(BaseModel):
    use: str = Field(
        min_length=1, max_length=32, description="exhibit, unused_not_sensitive or unused_sensitive"
    )
    reference: str | None = Field(
        default=None, max_length=32, description="an exhibit's reference, e.g. LJ/1"
    )
    description: str = Field(default="", max_length=1000)


@router.get(
    "/cases/{case_id}/schedule",
    response_model=Schedule,
    summary="The case's disclosure schedule: its recordings and clips and how each is used",
    openapi_extra=access(SystemAction.VIEW_CASES),
)
async def get_schedule(
    case_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> Schedule:
    return await run_in_threadpool(
        schedule.get_schedule, system, user, case_id, user_actor(request, user)
    )


@router.put(
    "/cases/{case_id}/schedule/recordings/{recording_id}",
    response_model=ScheduleLine,
    summary="Mark a recording of the case: exhibit (with its reference) or unused",
    openapi_extra=access(SystemAction.MARK_SCHEDULE),
    responses=errors_for(Conflict),
)
async def mark_recording(
    case_id: int,
    recording_id: str,
    body: Marking,
    request: Request,
    system: SystemDep,
    user: Marker,
) -> ScheduleLine:
    return await run_in_threadpool(
        lambda: schedule.mark(
            system,
            user,
            case_id,
            user_actor(request, user),
            use=body.use,
            recording_id=recording_id,
            reference=body.reference,
            description=body.description,
        )
    )


@router.put(
    "/cases/{case_id}/schedule/clips/{clip_id}",
    response_model=ScheduleLine,
    summary="Mark a clip of the case's footage: exhibit (with its reference) or unused",
    openapi_extra=access(SystemAction.MARK_SCHEDULE),
    responses=errors_for(Conflict),
)
async def mark_clip(
    case_id: int, clip_id: str, body: Marking, request: Request, system: SystemDep, user: Marker
) -> ScheduleLine:
    return await run_in_threadpool(
        lambda: schedule.mark(
            system,
            user,
            case_id,
            user_actor(request, user),
            use=body.use,
            clip_id=clip_id,
            reference=body.reference,
            description=body.description,
        )
    )


@router.put(
    "/cases/{case_id}/schedule/redactions/{redaction_id}",
    response_model=ScheduleLine,
    summary="Mark an approved redacted copy of the case's footage: exhibit or unused",
    openapi_extra=access(SystemAction.MARK_SCHEDULE),
    responses=errors_for(Conflict),
)
async def mark_redaction(
    case_id: int,
    redaction_id: str,
    body: Marking,
    request: Request,
    system: SystemDep,
    user: Marker,
) -> ScheduleLine:
    """A copy not yet rendered, or not approved by a second person, is refused (409)."""
    return await run_in_threadpool(
        lambda: schedule.mark(
            system,
            user,
            case_id,
            user_actor(request, user),
            use=body.use,
            redaction_id=redaction_id,
            reference=body.reference,
            description=body.description,
        )
    )


@router.get(
    "/cases/{case_id}/schedule.pdf",
    summary="The schedule printed as PDF (its printing is audited)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    openapi_extra=access(SystemAction.VIEW_CASES),
)
async def schedule_pdf(
    case_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> Response:
    data = await run_in_threadpool(
        schedule.schedule_pdf, system, user, case_id, user_actor(request, user)
    )
    return Response(data, media_type="application/pdf", headers=_attachment(case_id, "pdf"))


@router.get(
    "/cases/{case_id}/schedule.csv",
    summary="The schedule as CSV (its printing is audited)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    openapi_extra=access(SystemAction.VIEW_CASES),
)
async def schedule_csv(
    case_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> Response:
    text = await run_in_threadpool(
        schedule.schedule_csv, system, user, case_id, user_actor(request, user)
    )
    return Response(text, media_type="text/csv; charset=utf-8", headers=_attachment(case_id, "csv"))


def _attachment(case_id: int, kind: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="case-{case_id}-schedule.{kind}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
