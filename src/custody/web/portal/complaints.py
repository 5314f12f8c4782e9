"""Complaints: professional standards register one, see the footage it holds, close it."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action, SystemAction, acts_on_any_footage
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.principal import Principal
from custody.services.evidence import complaints
from custody.services.evidence.answers import ComplaintView
from custody.web.deps import CurrentUser, Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import LOCAL_HINT, Form
from custody.web.portal.pages import PortalRoute, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
Reader = Annotated[Principal, Depends(Permit(SystemAction.SEE_COMPLAINT_HOLDS))]
LABELS = {
    "reference": "complaint reference",
    "officers": "officers",
    "since": "from",
    "until": "to",
    "place": "place",
    "summary": "summary",
}


def _may_register(user: Principal) -> bool:
    return acts_on_any_footage(user.viewer(), Action.PLACE_COMPLAINT_HOLD)


async def _list(
    request: Request,
    system: SystemDep,
    user: Principal,
    open_only: bool,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    found = await run_in_threadpool(
        lambda: complaints.list_complaints(
            system, user, user_actor(request, user), open_only=open_only
        )
    )
    return render(
        request,
        "complaints.html",
        user,
        status=400 if errors else 200,
        area="complaints",
        title="Complaints",
        complaints=found,
        open_only=open_only,
        may_register=_may_register(user),
        errors=errors or {},
        values=values or {},
        labels=LABELS,
        local_hint=LOCAL_HINT,
    )


@router.get("/complaints", openapi_extra=access(SystemAction.SEE_COMPLAINT_HOLDS))
async def list_complaints(
    request: Request, system: SystemDep, user: Reader, status: str | None = Query(None)
) -> Response:
    return await _list(request, system, user, status == "open")


@router.post("/complaints", openapi_extra=access(Action.PLACE_COMPLAINT_HOLD))
async def register_complaint(request: Request, system: SystemDep, user: CurrentUser) -> Response:
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    reference = form.text("reference", required="Enter the complaint's reference.", limit=64)
    officers = [w for w in re.split(r"[\s,]+", form.values.get("officers", "").strip()) if w]
    if not officers:
        form.errors["officers"] = "Enter the warrant number of each officer complained of."
    since = form.moment("since", "the start of the window")
    until = form.moment("until", "the end of the window")
    if since is None and "since" not in form.errors:
        form.errors["since"] = "Enter when the window starts."
    if until is None and "until" not in form.errors:
        form.errors["until"] = "Enter when the window ends."
    place = form.text("place", limit=200) or ""
    summary = form.text("summary", required="Summarise the complaint.", limit=1000)
    made: ComplaintView | None = None
    if form.ok:
        try:
            made = await run_in_threadpool(
                lambda: complaints.register_complaint(
                    system,
                    user,
                    reference=reference or "",
                    officers=officers,
                    since=since,
                    until=until,
                    summary=summary or "",
                    place=place,
                    actor=user_actor(request, user),
                )
            )
        except (InvalidInput, Conflict) as exc:
            message = exc.message[0].upper() + exc.message[1:]
            field = (
                "officers"
                if "officer" in exc.message
                else "until"
                if "until" in exc.message or "window" in exc.message
                else "reference"
            )
            form.errors[field] = message
    if made is None:
        return await _list(request, system, user, False, errors=form.errors, values=form.values)
    held = made.recordings_held
    return redirect(
        request,
        f"/complaints/{made.reference}",
        flash=f"Complaint {made.reference} registered: it holds {held} recording"
        f"{'' if held == 1 else 's'} now, and any of theirs docked later in its window.",
    )


async def _page(
    request: Request,
    system: SystemDep,
    user: Principal,
    reference: str,
    *,
    errors: dict[str, str] | None = None,
) -> Response:
    complaint = await run_in_threadpool(
        complaints.get_complaint, system, user, reference, user_actor(request, user)
    )
    return render(
        request,
        "complaint.html",
        user,
        status=400 if errors else 200,
        area="complaints",
        title=f"Complaint {complaint.reference}",
        complaint=complaint,
        may_close=_may_register(user) and complaint.closed_at is None,
        errors=errors or {},
    )


@router.get("/complaints/{reference}", openapi_extra=access(SystemAction.SEE_COMPLAINT_HOLDS))
async def complaint(reference: str, request: Request, system: SystemDep, user: Reader) -> Response:
    return await _page(request, system, user, reference[:64])


@router.post("/complaints/{reference}/close", openapi_extra=access(Action.PLACE_COMPLAINT_HOLD))
async def close_complaint(
    reference: str, request: Request, system: SystemDep, user: CurrentUser
) -> Response:
    data = await request.form()
    reason = str(data.get("reason", "")).strip()
    if not reason:
        return await _page(
            request, system, user, reference[:64], errors={"reason": "Say why it is closed."}
        )
    try:
        await run_in_threadpool(
            complaints.close_complaint,
            system,
            user,
            reference[:64],
            reason[:1000],
            user_actor(request, user),
        )
    except (InvalidInput, Conflict) as exc:
        message = exc.message[0].upper() + exc.message[1:]
        return await _page(request, system, user, reference[:64], errors={"reason": message})
    return redirect(
        request,
        f"/complaints/{reference[:64]}",
        flash=f"Complaint {reference[:64]} closed: the holds it placed are lifted.",
    )
