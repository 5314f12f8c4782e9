"""`/fleet/cameras/{serial}`: one camera's history, and what a fleet manager or an
administrator does with it: issue it to an officer, take it back, retire it, report it lost.

The page reads `custody.services.fleet.camera_history`; the forms call
`custody.services.fleet.assignments`, the same use cases as `custody fleet issue|return|
retire|lost` and the API's camera routes, each audited, each refused (and audited) for
anyone who may not manage the fleet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction, may
from custody.domain.actor import Actor
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.services.fleet import assignments, camera_history
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
FleetViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_FLEET))]
FleetAdmin = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_FLEET))]
MAX_REASON = assignments.MAX_REASON
LABELS = {
    "officer": "officer",
    "return_reason": "why it came back",
    "retire_reason": "why it is retired",
    "lost_reason": "how it was lost",
}


def _href(serial: str) -> str:
    return f"/fleet/cameras/{quote(serial, safe='')}"


async def _page(
    request: Request,
    system: SystemDep,
    user: Principal,
    serial: str,
    *,
    form: Form | None = None,
) -> Response:
    story = await run_in_threadpool(
        lambda: camera_history.camera_history(system, user, serial, actor=user_actor(request, user))
    )
    errors = form.errors if form is not None else {}
    return render(
        request,
        "camera.html",
        user,
        status=400 if errors else 200,
        area="fleet",
        title=f"Camera {story.camera.serial}",
        story=story,
        camera=story.camera,
        manages=bool(may(user.viewer(), SystemAction.MANAGE_FLEET)),
        href=_href(story.camera.serial),
        values=form.values if form is not None else {},
        errors=errors,
        labels=LABELS,
        most_reason=MAX_REASON,
    )


@router.get("/fleet/cameras/{serial}", openapi_extra=access(SystemAction.VIEW_FLEET))
async def camera_page(
    serial: str, request: Request, system: SystemDep, user: FleetViewer
) -> Response:
    return await _page(request, system, user, serial)


async def _act(
    request: Request,
    system: SystemDep,
    user: Principal,
    serial: str,
    field: str,
    act: Callable[[Form, Actor], str | None],
) -> Response:
    """Read the form, do the change, or show the page again with the error beside `field`."""
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    who = user_actor(request, user)
    done = None
    try:
        done = await run_in_threadpool(lambda: act(form, who))
    except (InvalidInput, Conflict, NotFound) as exc:
        # An unknown camera is not found again by the page itself: a 404 as any other.
        form.errors[field] = exc.message[0].upper() + exc.message[1:]
    if done is None:
        return await _page(request, system, user, serial, form=form)
    return redirect(request, _href(serial), flash=done)


@router.post("/fleet/cameras/{serial}/issue", openapi_extra=access(SystemAction.MANAGE_FLEET))
async def issue(serial: str, request: Request, system: SystemDep, user: FleetAdmin) -> Response:
    def act(form: Form, who: Actor) -> str | None:
        officer = form.text("officer", required="Enter the officer's warrant number.", limit=32)
        if officer is None:
            return None
        assignments.issue(system, user, serial, officer, actor=who)
        return f"Camera {serial} is issued to {officer}."

    return await _act(request, system, user, serial, "officer", act)


@router.post("/fleet/cameras/{serial}/return", openapi_extra=access(SystemAction.MANAGE_FLEET))
async def give_back(serial: str, request: Request, system: SystemDep, user: FleetAdmin) -> Response:
    def act(form: Form, who: Actor) -> str | None:
        reason = form.text("return_reason", limit=MAX_REASON)
        repair = form.values.get("repair") == "1"
        if not form.ok:
            return None
        assignments.return_to_stock(system, user, serial, repair=repair, reason=reason, actor=who)
        return f"Camera {serial} is {'in repair' if repair else 'back in stock'}."

    return await _act(request, system, user, serial, "return_reason", act)


@router.post("/fleet/cameras/{serial}/retire", openapi_extra=access(SystemAction.MANAGE_FLEET))
async def retire(serial: str, request: Request, system: SystemDep, user: FleetAdmin) -> Response:
    def act(form: Form, who: Actor) -> str | None:
        reason = form.text(
            "retire_reason", required="Say why the camera is retired.", limit=MAX_REASON
        )
        if reason is None:
            return None
        assignments.retire(system, user, serial, reason=reason, actor=who)
        return f"Camera {serial} is retired: its history and its footage stay."

    return await _act(request, system, user, serial, "retire_reason", act)


@router.post("/fleet/cameras/{serial}/lost", openapi_extra=access(SystemAction.MANAGE_FLEET))
async def lost(serial: str, request: Request, system: SystemDep, user: FleetAdmin) -> Response:
    def act(form: Form, who: Actor) -> str | None:
        reason = form.text("lost_reason", required="Say how it was lost.", limit=MAX_REASON)
        if reason is None:
            return None
        assignments.report_lost(system, user, serial, reason=reason, actor=who)
        return f"Camera {serial} is reported lost: a dock that sees it again raises an alert."

    return await _act(request, system, user, serial, "lost_reason", act)
