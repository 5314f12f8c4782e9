"""Shares with people outside the force, for the disclosure officer
(`services/disclosure/shares.py`); what the recipient uses is `web/shared.py`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.errors import Conflict
from custody.domain.principal import Principal
from custody.domain.shares import DEFAULT_DAYS, MOST_ITEMS, MailFailed, SensitiveMaterial
from custody.services.disclosure import receipts, shares
from custody.services.disclosure.share_answers import (
    DeliveryReceiptDocument,
    IssuedCode,
    ShareCreated,
    ShareDetail,
    ShareSummary,
)
from custody.web.deps import CurrentUser, Permit, SystemDep, user_actor
from custody.web.errors import errors_for
from custody.web.guard import access

router = APIRouter(tags=["disclosure"])
CaseViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_CASES))]


class RecipientIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="the person, as they sign")
    email: str = Field(min_length=3, max_length=254, description="where the link is sent")
    kind: Literal["prosecutor", "defence"]


class NewShare(BaseModel):
    recipient: RecipientIn
    items: list[int] = Field(
        min_length=1, max_length=MOST_ITEMS, description="ids of the case's schedule items"
    )
    days: int = Field(default=DEFAULT_DAYS, ge=1, le=366, description="until the link ends")
    downloads_allowed: bool = Field(default=False, description="false: view only")
    download_limit: int | None = Field(
        default=None, ge=1, le=1000, description="downloads of each item; null: no limit"
    )
    message: str = Field(default="", max_length=2000)


class Revocation(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


def server_url(request: Request) -> str:
    """Where this request reached us: the link's base when no public URL is configured."""
    return str(request.base_url).rstrip("/")


@router.post(
    "/cases/{case_id}/shares",
    status_code=201,
    response_model=ShareCreated,
    summary="Share exhibits of a case with a prosecutor or defence",
    description="E-mails the recipient a link when mail is set up; otherwise the answer "
    "carries the link (once: only its hash is kept) for the officer to send another way. "
    "Unused sensitive material is refused, naming the item.",
    openapi_extra=access("recording:share"),
    responses=errors_for(SensitiveMaterial, Conflict),
)
async def create_share(
    case_id: int, body: NewShare, request: Request, system: SystemDep, user: CurrentUser
) -> ShareCreated:
    return await run_in_threadpool(
        shares.create_share,
        system,
        user,
        case_id,
        shares.Recipient(body.recipient.name, body.recipient.email, body.recipient.kind),
        body.items,
        shares.ShareTerms(body.days, body.downloads_allowed, body.download_limit, body.message),
        user_actor(request, user),
        server_url=server_url(request),
    )


@router.get(
    "/cases/{case_id}/shares",
    response_model=list[ShareSummary],
    summary="A case's shares, newest first",
    openapi_extra=access("system:view_cases"),
)
async def list_shares(
    case_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> list[ShareSummary]:
    return await run_in_threadpool(
        shares.list_shares, system, user, case_id, user_actor(request, user)
    )


@router.get(
    "/shares/{share_id}",
    response_model=ShareDetail,
    summary="One share: its items, receipts, and who opened what and when",
    openapi_extra=access("system:view_cases"),
)
async def get_share(
    share_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> ShareDetail:
    return await run_in_threadpool(
        shares.get_share, system, user, share_id, user_actor(request, user)
    )


@router.post(
    "/shares/{share_id}/revoke",
    response_model=ShareDetail,
    summary="Revoke a share at once",
    openapi_extra=access("recording:share"),
    responses=errors_for(Conflict),
)
async def revoke_share(
    share_id: int, body: Revocation, request: Request, system: SystemDep, user: CurrentUser
) -> ShareDetail:
    return await run_in_threadpool(
        shares.revoke_share, system, user, share_id, body.reason, user_actor(request, user)
    )


@router.post(
    "/shares/{share_id}/code",
    response_model=IssuedCode,
    summary="A one-time code to pass to the recipient by another channel",
    description="For installations without mail: the officer reads the code to the "
    "recipient (by telephone, say). Any earlier code is void.",
    openapi_extra=access("recording:share"),
    responses=errors_for(Conflict, MailFailed),
)
async def issue_code(
    share_id: int, request: Request, system: SystemDep, user: CurrentUser
) -> IssuedCode:
    return await run_in_threadpool(
        shares.issue_code, system, user, share_id, user_actor(request, user)
    )


@router.get(
    "/shares/{share_id}/receipts/{receipt_id}",
    response_model=DeliveryReceiptDocument,
    summary="A signed delivery receipt (JSON)",
    description="Signed with the server's Ed25519 key over its RFC 8785 canonical form "
    "without `signature`, like the ingest receipts.",
    openapi_extra=access("system:view_cases"),
)
async def receipt_json(
    share_id: int, receipt_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> DeliveryReceiptDocument:
    document = await run_in_threadpool(
        shares.receipt_document, system, user, share_id, receipt_id, user_actor(request, user)
    )
    return DeliveryReceiptDocument.model_validate_json(document)


@router.get(
    "/shares/{share_id}/receipts/{receipt_id}/pdf",
    summary="A delivery receipt as PDF",
    openapi_extra=access("system:view_cases"),
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def receipt_pdf(
    share_id: int, receipt_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> Response:
    document = await run_in_threadpool(
        shares.receipt_document, system, user, share_id, receipt_id, user_actor(request, user)
    )
    pdf = await run_in_threadpool(receipts.receipt_pdf, document)
    return Response(pdf, media_type="application/pdf", headers=_attachment(receipt_id, "pdf"))


def _attachment(receipt_id: int, suffix: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'inline; filename="delivery-receipt-{receipt_id}.{suffix}"',
        "Cache-Control": "private, no-store",
    }
