"""The auditor's pages: search the whole log, export it, verify it with progress shown."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction, may
from custody.domain.errors import InvalidInput
from custody.services.audit_trail import search as audit_search
from custody.services.audit_trail.answers import FoundEvents
from custody.web.deps import SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import LOCAL_HINT, Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
FIELDS = ("person", "recording", "action", "since", "until", "refused")


def _query(form: Form) -> audit_search.Query:
    return audit_search.Query(
        person=form.text("person", limit=160),
        recording_id=form.text("recording", limit=80),
        action=form.text("action", limit=120),
        since=form.moment("since", "the start"),
        until=form.moment("until", "the end"),
        refused_only=form.values.get("refused") == "1",
    )


@router.get("/audit", openapi_extra=access(SystemAction.VERIFY_AUDIT))
async def audit_page(
    request: Request,
    system: SystemDep,
    user: PortalUser,
    before: int | None = Query(None, ge=1),
) -> Response:
    """The auditor's start: the search (for those who may read the log) and verification."""
    values = {k: str(request.query_params.get(k, ""))[:200] for k in FIELDS}
    form = Form(values)
    query = _query(form)
    reads = bool(may(user.viewer(), SystemAction.READ_AUDIT))
    actor = user_actor(request, user)
    found: FoundEvents | None = None
    searched = any(values.values())
    if reads and form.ok and (searched or before):
        try:
            found = await run_in_threadpool(
                lambda: audit_search.search_events(system, user, actor, query, before=before)
            )
        except InvalidInput as exc:
            form.errors["until"] = exc.message[0].upper() + exc.message[1:]
    checks = await run_in_threadpool(
        lambda: audit_search.verifications(system, user, actor, limit=5)
    )
    running = any(c.intact is None for c in checks)
    asked = {k: v for k, v in values.items() if v}
    return render(
        request,
        "audit_search.html",
        user,
        status=400 if form.errors else 200,
        area="audit",
        title="Audit",
        reads=reads,
        found=found,
        searched=searched,
        values=values,
        errors=form.errors,
        checks=checks,
        running=running,
        # Refreshed to a new address each time: a refresh to the page's own address with
        # its #verify would be a move within the page, and the page would never reload.
        refresh_url="/audit?" + urlencode(asked | {"following": secrets.token_hex(4)}) + "#verify",
        csv_link="/api/v1/audit/events.csv?" + urlencode(_api_params(query)),
        next_link=(
            "/audit?" + urlencode(asked | {"before": found.next_before})
            if found and found.next_before
            else None
        ),
        local_hint=LOCAL_HINT,
    )


def _api_params(query: audit_search.Query) -> dict[str, str]:
    """The search as the API's query (times as typed are local; the API takes ISO 8601)."""
    params = {k: v for k, v in (("person", query.person), ("action", query.action)) if v}
    if query.recording_id:
        params["recording_id"] = query.recording_id
    for name, when in (("since", query.since), ("until", query.until)):
        if when is not None:
            params[name] = when.isoformat()
    if query.refused_only:
        params["refused"] = "true"
    return params


@router.post("/audit/verify", openapi_extra=access(SystemAction.VERIFY_AUDIT))
async def verify_now(request: Request, system: SystemDep, user: PortalUser) -> Response:
    await run_in_threadpool(
        audit_search.request_verification, system, user, user_actor(request, user)
    )
    return redirect(request, "/audit#verify", flash="Verification started: its progress is below.")
