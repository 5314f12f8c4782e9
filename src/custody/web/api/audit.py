"""The audit trail over HTTP: a recording's events and PDF report, checkpoints and proofs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from custody.domain.access import Action, SystemAction
from custody.domain.principal import Principal
from custody.services.audit_trail import search as audit_search
from custody.services.audit_trail import trail
from custody.services.audit_trail.answers import (
    ConsistencyProof,
    FoundEvents,
    InclusionProof,
    PublishedCheckpoint,
    RecordingTrail,
    VerificationView,
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


# --- the auditor's search and verification -----------------------------------------------


def audit_query(
    person: str | None = Query(
        None, max_length=160, description="a username, or an actor such as dock:Hackney-1"
    ),
    recording_id: str | None = Query(None, max_length=80),
    action: str | None = Query(
        None, max_length=120, description="a whole tag (user:recording:stream) or its last part"
    ),
    since: datetime | None = Query(None),
    until: datetime | None = Query(None),
    refused: bool = Query(False, description="true: refused attempts only"),
) -> audit_search.Query:
    return audit_search.Query(person, recording_id, action, since, until, refused)


AuditQuery = Annotated[audit_search.Query, Depends(audit_query)]


@router.get(
    "/audit/events",
    response_model=FoundEvents,
    summary="Search the whole audit log: who did what, to which recording, when (audited)",
    openapi_extra=access(SystemAction.READ_AUDIT),
)
async def search_events(
    request: Request,
    system: SystemDep,
    user: Reader,
    query: AuditQuery,
    before: int | None = Query(None, ge=1, description="events before this sequence number"),
    limit: int = Query(50, ge=1, le=audit_search.MAX_PAGE),
) -> FoundEvents:
    return await run_in_threadpool(
        lambda: audit_search.search_events(
            system, user, user_actor(request, user), query, before=before, limit=limit
        )
    )


@router.get(
    "/audit/events.csv",
    summary="The events a search finds, as CSV (newest first, bounded; the export is audited)",
    openapi_extra=access(SystemAction.READ_AUDIT),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_events(
    request: Request, system: SystemDep, user: Reader, query: AuditQuery
) -> StreamingResponse:
    rows = await run_in_threadpool(
        audit_search.export_events, system, user, user_actor(request, user), query
    )
    return StreamingResponse(
        iterate_in_threadpool(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="custody-audit.csv"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post(
    "/audit/verifications",
    status_code=202,
    response_model=VerificationView,
    summary="Verify the whole audit log now, in the background (progress at its URL)",
    openapi_extra=access(SystemAction.VERIFY_AUDIT),
)
async def request_verification(
    request: Request, system: SystemDep, user: Verifier
) -> VerificationView:
    return await run_in_threadpool(
        audit_search.request_verification, system, user, user_actor(request, user)
    )


@router.get(
    "/audit/verifications",
    response_model=list[VerificationView],
    summary="The latest verifications asked for, newest first",
    openapi_extra=access(SystemAction.VERIFY_AUDIT),
)
async def list_verifications(
    request: Request, system: SystemDep, user: Verifier
) -> list[VerificationView]:
    return await run_in_threadpool(
        audit_search.verifications, system, user, user_actor(request, user)
    )


@router.get(
    "/audit/verifications/{verification_id}",
    response_model=VerificationView,
    summary="How far a verification has got, and what it found",
    openapi_extra=access(SystemAction.VERIFY_AUDIT),
)
async def get_verification(
    verification_id: int, request: Request, system: SystemDep, user: Verifier
) -> VerificationView:
    return await run_in_threadpool(
        audit_search.get_verification, system, user, verification_id, user_actor(request, user)
    )
