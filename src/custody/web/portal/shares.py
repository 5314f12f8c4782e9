"""Shares with people outside the force, in the portal: a case's shares and the form to
make one, a share's page (its items, who opened what and when, its receipts), revoking it
(`services/disclosure/shares.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.errors import Conflict, InvalidInput, NotPermitted
from custody.domain.principal import Principal
from custody.domain.shares import (
    CASE_RECIPIENTS,
    DEFAULT_DAYS,
    LARGEST_LIMIT,
    LONGEST_DAYS,
    RECIPIENT_LABELS,
)
from custody.services.disclosure import shares
from custody.services.disclosure.share_answers import IssuedCode, ShareCreated
from custody.services.evidence import cases
from custody.web.api.disclosure_shares import server_url
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
CaseViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_CASES))]
KINDS = {kind.value: RECIPIENT_LABELS[kind] for kind in CASE_RECIPIENTS}
LABELS = {
    "name": "recipient's name",
    "email": "e-mail address",
    "kind": "prosecutor or defence",
    "items": "items",
    "days": "days",
    "limit": "download limit",
}


async def _case_shares(
    request: Request,
    system: SystemDep,
    user: Principal,
    case_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    chosen: set[int] | None = None,
) -> Response:
    actor = user_actor(request, user)
    case = await run_in_threadpool(cases.get_case, system, user, case_id, actor)
    found = await run_in_threadpool(shares.list_shares, system, user, case_id, actor)
    choices = await run_in_threadpool(shares.schedule_choices, system, user, case_id, actor)
    return render(
        request,
        "shares.html",
        user,
        status=400 if errors else 200,
        area="cases",
        title=f"Shares of case {case.reference}",
        case=case,
        shares=found,
        choices=choices,
        kinds=KINDS,
        errors=errors or {},
        values=values or {"days": str(DEFAULT_DAYS)},
        chosen=chosen or set(),
        labels=LABELS,
    )


@router.get("/cases/{case_id}/shares", openapi_extra=access(SystemAction.VIEW_CASES))
async def case_shares(
    case_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> Response:
    return await _case_shares(request, system, user, case_id)


@router.post("/cases/{case_id}/shares", openapi_extra=access("recording:share"))
async def make_share(
    case_id: int, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    data = await request.form()
    chosen: set[int] = set()
    for value in data.getlist("items"):
        if str(value).isascii() and str(value).isdigit() and len(str(value)) < 12:
            chosen.add(int(str(value)))
    form = Form(
        {key: str(value) for key, value in data.items() if key not in ("csrf_token", "items")}
    )
    name = form.text("name", required="Enter the recipient's name.", limit=200)
    email = form.text("email", required="Enter the recipient's e-mail address.", limit=254)
    kind = form.choice("kind", KINDS, "prosecutor or defence")
    if kind is None and "kind" not in form.errors:
        form.errors["kind"] = "Choose prosecutor or defence."
    days = form.number("days", low=1, high=LONGEST_DAYS, what="the days the link lasts")
    downloads = form.values.get("downloads") == "yes"
    limit = form.number("limit", low=1, high=LARGEST_LIMIT, what="the downloads of each item")
    if not chosen:
        form.errors["items"] = "Choose at least one item to share."
    created: ShareCreated | None = None
    if form.ok:
        try:
            created = await run_in_threadpool(
                shares.create_share,
                system,
                user,
                case_id,
                shares.Recipient(name or "", email or "", kind or ""),
                sorted(chosen),
                shares.ShareTerms(
                    None if days is None else int(days),
                    downloads,
                    None if limit is None or not downloads else int(limit),
                    form.values.get("message", "")[:2000],
                ),
                user_actor(request, user),
                server_url=server_url(request),
            )
        except (InvalidInput, NotPermitted, Conflict) as exc:
            field = "email" if "e-mail" in exc.message else "items"
            form.errors[field] = exc.message[:1].upper() + exc.message[1:] + "."
    if created is None:
        return await _case_shares(
            request, system, user, case_id, errors=form.errors, values=form.values, chosen=chosen
        )
    if created.link is None:
        return redirect(
            request,
            f"/shares/{created.share.id}",
            flash=f"Shared with {created.share.recipient_name}: the link was e-mailed.",
        )
    # The link is shown this once (only its hash is kept): no redirect that would lose it.
    return await _share_page(request, system, user, created.share.id, created=created, status=201)


async def _share_page(
    request: Request,
    system: SystemDep,
    user: Principal,
    share_id: int,
    *,
    created: ShareCreated | None = None,
    issued: IssuedCode | None = None,
    status: int = 200,
) -> Response:
    found = await run_in_threadpool(
        shares.get_share, system, user, share_id, user_actor(request, user)
    )
    return render(
        request,
        "share.html",
        user,
        status=status,
        area="cases",
        title=f"Share with {found.recipient_name}",
        share=found,
        created=created,
        issued=issued,
        kinds=KINDS,
    )


@router.get("/shares/{share_id}", openapi_extra=access(SystemAction.VIEW_CASES))
async def share_page(
    share_id: int, request: Request, system: SystemDep, user: CaseViewer
) -> Response:
    return await _share_page(request, system, user, share_id)


@router.post("/shares/{share_id}/revoke", openapi_extra=access("recording:share"))
async def revoke(share_id: int, request: Request, system: SystemDep, user: PortalUser) -> Response:
    data = await request.form()
    reason = str(data.get("reason", "")).strip() or "revoked by the disclosure officer"
    done = await run_in_threadpool(
        shares.revoke_share, system, user, share_id, reason[:1000], user_actor(request, user)
    )
    return redirect(
        request, f"/shares/{share_id}", flash=f"Revoked: the link to {done.recipient_name} is dead."
    )


@router.post("/shares/{share_id}/code", openapi_extra=access("recording:share"))
async def issue_code(
    share_id: int, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    issued = await run_in_threadpool(
        shares.issue_code, system, user, share_id, user_actor(request, user)
    )
    return await _share_page(request, system, user, share_id, issued=issued)
