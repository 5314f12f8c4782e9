"""Subject access requests in the portal: the open list with days left (red when late), and
a request's page with its steps. Only those who answer requests reach either."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.domain.shares import DEFAULT_DAYS
from custody.services.requests import subject_access as sar
from custody.services.requests.answers import Candidate
from custody.web.api.disclosure_shares import server_url
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import LOCAL_HINT, Form
from custody.web.portal.pages import PortalRoute, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
Answerer = Annotated[Principal, Depends(Permit(SystemAction.ANSWER_SUBJECT_ACCESS))]
RULE = access(SystemAction.ANSWER_SUBJECT_ACCESS)
LABELS = {
    "requester_name": "requester's name",
    "requester_email": "requester's email",
    "received_on": "received on",
    "description": "description",
}
STEPS = ("registered", "approved", "released", "closed")
MARKS = {
    "reviewed_no_third_parties": "Reviewed: no third parties",
    "redacted_copy_attached": "Redacted copy attached",
}


async def _form(request: Request) -> Form:
    data = await request.form()
    return Form({k: str(v) for k, v in data.items() if k != "csrf_token"})


def _message(exc: InvalidInput | Conflict | NotFound) -> str:
    return exc.message[0].upper() + exc.message[1:]


async def _list(
    request: Request,
    system: SystemDep,
    user: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    found = await run_in_threadpool(sar.list_open, system, user, user_actor(request, user))
    return render(
        request,
        "subject_access_list.html",
        user,
        status=400 if errors else 200,
        area="subject_access",
        title="Subject access requests",
        requests=found,
        errors=errors or {},
        values=values or {},
        labels=LABELS,
    )


@router.get("/subject-access", openapi_extra=RULE)
async def list_requests(request: Request, system: SystemDep, user: Answerer) -> Response:
    return await _list(request, system, user)


@router.post("/subject-access", openapi_extra=RULE)
async def register(request: Request, system: SystemDep, user: Answerer) -> Response:
    form = await _form(request)
    name = form.text("requester_name", required="Enter the requester's name.", limit=sar.MAX_NAME)
    email = form.text(
        "requester_email", required="Enter the requester's email.", limit=sar.MAX_EMAIL
    )
    description = form.text(
        "description", required="Describe what they ask for.", limit=sar.MAX_DESCRIPTION
    )
    received: date | None = None
    try:
        received = date.fromisoformat(form.values.get("received_on", "").strip())
    except ValueError:
        form.errors["received_on"] = "Enter the day it was received, like 2026-10-01."
    if form.ok and received is not None:
        try:
            made = await run_in_threadpool(
                lambda: sar.register_request(
                    system,
                    user,
                    requester_name=name or "",
                    requester_email=email or "",
                    received_on=received,
                    description=description or "",
                    actor=user_actor(request, user),
                )
            )
        except InvalidInput as exc:
            field = "requester_email" if "email" in exc.message else "received_on"
            form.errors[field] = _message(exc)
        else:
            return redirect(
                request,
                f"/subject-access/{made.reference}",
                flash=f"Request {made.reference} registered: due {made.due_on}.",
            )
    return await _list(request, system, user, errors=form.errors, values=form.values)


async def _page(
    request: Request,
    system: SystemDep,
    user: Principal,
    reference: str,
    *,
    errors: dict[str, str] | None = None,
    candidates: list[Candidate] | None = None,
    search: dict[str, str] | None = None,
    unsent: tuple[str, str] | None = None,
    code: tuple[str, str] | None = None,
) -> Response:
    detail = await run_in_threadpool(
        sar.get_request, system, user, reference, user_actor(request, user)
    )
    return render(
        request,
        "subject_access.html",
        user,
        status=400 if errors else 200,
        area="subject_access",
        title=f"Subject access request {detail.reference}",
        sar=detail,
        steps=STEPS,
        marks=MARKS,
        errors=errors or {},
        candidates=candidates,
        search=search or {},
        local_hint=LOCAL_HINT,
        default_days=DEFAULT_DAYS,
        unsent=unsent,
        code=code,
    )


@router.get("/subject-access/{reference}", openapi_extra=RULE)
async def request_page(
    reference: str, request: Request, system: SystemDep, user: Answerer
) -> Response:
    return await _page(request, system, user, reference[:40])


@router.post("/subject-access/{reference}/search", openapi_extra=RULE)
async def search(reference: str, request: Request, system: SystemDep, user: Answerer) -> Response:
    form = await _form(request)
    since = form.moment("since", "the start of the window")
    until = form.moment("until", "the end of the window")
    officer = form.text("officer", limit=32)
    lat = form.number("lat", low=-90, high=90, what="the latitude", whole=False)
    lon = form.number("lon", low=-180, high=180, what="the longitude", whole=False)
    radius = form.number("radius_m", low=1, high=50_000, what="the radius in metres")
    near = None
    if lat is not None and lon is not None and radius is not None:
        near = (lat, lon, float(radius))
    found: list[Candidate] | None = None
    if form.ok:
        try:
            found = await run_in_threadpool(
                lambda: sar.find_candidates(
                    system,
                    user,
                    reference[:40],
                    since=since,
                    until=until,
                    officer=officer,
                    near=near,
                    actor=user_actor(request, user),
                )
            )
        except InvalidInput as exc:
            form.errors["since"] = _message(exc)
    return await _page(
        request,
        system,
        user,
        reference[:40],
        errors=form.errors,
        candidates=found,
        search=form.values,
    )


async def _act(
    request: Request,
    system: SystemDep,
    user: Principal,
    reference: str,
    act: Callable[[], Any],
    flash: str,
) -> Response:
    try:
        await run_in_threadpool(act)
    except (InvalidInput, Conflict, NotFound) as exc:
        return await _page(request, system, user, reference, errors={"step": _message(exc)})
    return redirect(request, f"/subject-access/{reference}", flash=flash)


@router.post("/subject-access/{reference}/attach", openapi_extra=RULE)
async def attach(reference: str, request: Request, system: SystemDep, user: Answerer) -> Response:
    form = await _form(request)
    rid = (form.text("recording_id", limit=64) or "")[:64]
    ref, actor = reference[:40], user_actor(request, user)
    return await _act(
        request,
        system,
        user,
        ref,
        lambda: sar.attach_recording(system, user, ref, rid, actor),
        f"Recording {rid} attached and held.",
    )


@router.post("/subject-access/{reference}/mark", openapi_extra=RULE)
async def mark(reference: str, request: Request, system: SystemDep, user: Answerer) -> Response:
    form = await _form(request)
    rid = (form.text("recording_id", limit=64) or "")[:64]
    status = (form.text("redaction", limit=40) or "")[:40]
    ref, actor = reference[:40], user_actor(request, user)
    return await _act(
        request,
        system,
        user,
        ref,
        lambda: sar.mark_recording(system, user, ref, rid, status, actor),
        f"Recording {rid} marked.",
    )


@router.post("/subject-access/{reference}/detach", openapi_extra=RULE)
async def detach(reference: str, request: Request, system: SystemDep, user: Answerer) -> Response:
    form = await _form(request)
    rid = (form.text("recording_id", limit=64) or "")[:64]
    reason = form.text("reason", limit=1000) or ""
    ref, actor = reference[:40], user_actor(request, user)
    return await _act(
        request,
        system,
        user,
        ref,
        lambda: sar.detach_recording(system, user, ref, rid, reason, actor),
        f"Recording {rid} detached: its hold is lifted.",
    )


@router.post("/subject-access/{reference}/extend", openapi_extra=RULE)
async def extend(reference: str, request: Request, system: SystemDep, user: Answerer) -> Response:
    form = await _form(request)
    months = int(form.number("months", low=1, high=2, what="the months") or 0)
    reason = form.text("reason", limit=1000) or ""
    ref, actor = reference[:40], user_actor(request, user)
    return await _act(
        request,
        system,
        user,
        ref,
        lambda: sar.extend_request(system, user, ref, months, reason, actor),
        "Deadline extended.",
    )


@router.post("/subject-access/{reference}/approve", openapi_extra=RULE)
async def approve(reference: str, request: Request, system: SystemDep, user: Answerer) -> Response:
    ref, actor = reference[:40], user_actor(request, user)
    return await _act(
        request,
        system,
        user,
        ref,
        lambda: sar.approve_request(system, user, ref, actor),
        "Release approved.",
    )


@router.post("/subject-access/{reference}/close", openapi_extra=RULE)
async def close(reference: str, request: Request, system: SystemDep, user: Answerer) -> Response:
    form = await _form(request)
    record = form.text("record", limit=1000) or ""
    ref, actor = reference[:40], user_actor(request, user)
    return await _act(
        request,
        system,
        user,
        ref,
        lambda: sar.close_request(system, user, ref, record, actor),
        f"Request {ref} closed: its holds are lifted.",
    )


@router.post("/subject-access/{reference}/copy", openapi_extra=RULE)
async def attach_copy(
    reference: str, request: Request, system: SystemDep, user: Answerer
) -> Response:
    form = await _form(request)
    rid = (form.text("recording_id", limit=64) or "")[:64]
    redaction_id = (form.text("redaction_id", limit=36) or "")[:36]
    ref, actor = reference[:40], user_actor(request, user)
    return await _act(
        request,
        system,
        user,
        ref,
        lambda: sar.attach_redaction(system, user, ref, rid, redaction_id, actor),
        f"Redacted copy attached to recording {rid}: it is released in its place.",
    )


@router.post("/subject-access/{reference}/release", openapi_extra=RULE)
async def release(reference: str, request: Request, system: SystemDep, user: Answerer) -> Response:
    form = await _form(request)
    chosen = form.number("days", low=1, high=366, what="the days the link lasts")
    days = int(chosen) if chosen is not None else None
    ref, actor = reference[:40], user_actor(request, user)
    if not form.ok:
        return await _page(request, system, user, ref, errors={"step": form.errors["days"]})
    try:
        done = await run_in_threadpool(
            lambda: sar.release_request(
                system, user, ref, actor, days=days, server_url=server_url(request)
            )
        )
    except (InvalidInput, Conflict, NotFound) as exc:
        return await _page(request, system, user, ref, errors={"step": _message(exc)})
    if done.mailed:
        flash = f"Released: a link was e-mailed to {done.request.requester_email}."
        return redirect(request, f"/subject-access/{ref}", flash=flash)
    # The link is shown this once, on this page, never kept: the officer sends it themselves.
    return await _page(
        request, system, user, ref, unsent=(done.link or "", done.mail_problem or "")
    )


@router.post("/subject-access/{reference}/code", openapi_extra=RULE)
async def code(reference: str, request: Request, system: SystemDep, user: Answerer) -> Response:
    ref, actor = reference[:40], user_actor(request, user)
    try:
        issued = await run_in_threadpool(sar.issue_code, system, user, ref, actor)
    except (InvalidInput, Conflict, NotFound) as exc:
        return await _page(request, system, user, ref, errors={"step": _message(exc)})
    # Shown this once, never kept: the officer reads it to the requester.
    return await _page(request, system, user, ref, code=(issued.code, issued.expires_at))
