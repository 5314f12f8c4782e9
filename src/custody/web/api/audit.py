"""The audit trail over HTTP: a recording's events and PDF report, checkpoints and proofs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action, SystemAction
from custody.domain.principal import Principal
from custody.services.audit_trail import trail
from custody.services.audit_trail.answers import (
    ConsistencyProof,
    InclusionProof,
    PublishedCheckpoint,
    RecordingTrail,
)
from custody.web.deps import CurrentUser, Permit, SystemDep, user_actor
from custody.web.guard import access

router = APIRouter(tags=["audit"])
Verifier = Annotated[Principal, Depends(Permit(SystemAction.VERIFY_AUDIT))]
Reader = Annotated[Principal, Depends(Permit(SystemAction.READ_AUDIT))]


@router.get(
    "/recordings/{recording_id}/audit",
    response_model=RecordingTrail,
    summary="Every audit event about a recording, with hashes (the reading is audited)",
    openapi_extra=access(Action.VIEW_AUDIT),
)
async def recording_audit(
    recording_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> RecordingTrail:
    return await run_in_threadpool(
        trail.recording_trail, system, user, recording_id, user_actor(request, user)
    )


@router.get(
    "/recordings/{recording_id}/audit.pdf",
    summary="The continuity record of a recording as a PDF (the printing is audited)",
    openapi_extra=access(Action.VIEW_AUDIT),
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def recording_audit_pdf(
    recording_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> Response:
    pdf = await run_in_threadpool(
        trail.recording_report, system, user, recording_id, user_actor(request, user)
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{recording_id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/audit/checkpoints",
    response_model=list[PublishedCheckpoint],
    summary="Signed checkpoints of the audit log, newest first",
    openapi_extra=access(SystemAction.VERIFY_AUDIT),
)
async def checkpoints(
    system: SystemDep, _: Verifier, limit: int = Query(50, ge=1, le=1000)
) -> list[PublishedCheckpoint]:
    return await run_in_threadpool(lambda: trail.checkpoints(system, limit=limit))


@router.post(
    "/audit/checkpoints",
    summary="Publish a checkpoint now (204 when nothing was added since the last)",
    openapi_extra=access(SystemAction.VERIFY_AUDIT),
    status_code=201,
    response_model=PublishedCheckpoint,
    responses={204: {"description": "no event since the last checkpoint"}},
)
async def publish_checkpoint(system: SystemDep, _: Verifier) -> PublishedCheckpoint | Response:
    published = await run_in_threadpool(trail.publish_checkpoint, system)
    if published is None:
        return Response(status_code=204)
    return published


@router.get(
    "/audit/checkpoints/{checkpoint_id}/consistency",
    response_model=ConsistencyProof,
    summary="Proof that the latest checkpoint extends this one (RFC 6962)",
    openapi_extra=access(SystemAction.VERIFY_AUDIT),
)
async def consistency(
    checkpoint_id: int, system: SystemDep, _: Verifier, to: int | None = Query(None)
) -> ConsistencyProof:
    return await run_in_threadpool(
        lambda: trail.consistency_proof(system, checkpoint_id, new_id=to)
    )


@router.get(
    "/audit/events/{seq}/proof",
    response_model=InclusionProof,
    summary="Proof that an audit event is in the log under a signed checkpoint (RFC 6962)",
    openapi_extra=access(SystemAction.READ_AUDIT),
)
async def inclusion(
    seq: int,
    request: Request,
    system: SystemDep,
    reader: Reader,
    checkpoint: int | None = Query(None, description="a checkpoint id; the latest by default"),
) -> InclusionProof:
    return await run_in_threadpool(
        lambda: trail.inclusion_proof(
            system, seq, checkpoint_id=checkpoint, actor=user_actor(request, reader)
        )
    )
