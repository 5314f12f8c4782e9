"""`/fleet/rollout`: the phased roll-out, borough by borough, as a fleet manager reads it and
plans it.

The figures come from `custody.services.fleet.rollout` (the same as `GET /api/v1/fleet/rollout`),
which asks `may` and audits a refusal; the plan's changes are `rollout.set_phase` and
`rollout.remove_phase`, as `custody fleet plan` makes them, audited.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction, may
from custody.domain.errors import InvalidInput, NotFound
from custody.domain.fleet import PHASE_STATUSES
from custody.domain.principal import Principal
from custody.services.fleet import rollout
from custody.services.fleet.registry import MAX_UNIT
from custody.web.deps import Permit, SystemDep, get_system, user_actor
from custody.web.guard import access
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
FleetAdmin = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_FLEET))]
STATUSES = {status.value: status.value.capitalize() for status in PHASE_STATUSES}
LABELS = {"borough": "borough", "phase": "phase", "target_date": "target date", "status": "status"}


async def _page(
    request: Request,
    user: Principal,
    *,
    idle_days: int = rollout.DEFAULT_IDLE_DAYS,
    edit: str | None = None,
    form: Form | None = None,
) -> Response:
    system = get_system(request)
    plan = await run_in_threadpool(
        lambda: rollout.rollout(system, user, idle_days=idle_days, actor=user_actor(request, user))
    )
    # The template shows each target date as a day and a month: as dates, then.
    boroughs = [
        b.model_dump() | {"target": date.fromisoformat(b.target_date) if b.target_date else None}
        for b in plan.boroughs
    ]
    values: dict[str, str] = form.values if form is not None else {}
    editing = next((b for b in boroughs if b["borough"] == edit), None) if edit else None
    if form is None and editing is not None:
        values = {
            "borough": editing["borough"],
            "phase": "" if editing["phase"] is None else str(editing["phase"]),
            "target_date": editing["target_date"] or "",
            "status": editing["status"],
        }
    errors = form.errors if form is not None else {}
    return render(
        request,
        "rollout.html",
        user,
        status=400 if errors else 200,
        area="fleet",
        title="Roll-out",
        plan=plan,
        planned=[b for b in boroughs if b["phase"] is not None],
        unplanned=[b for b in boroughs if b["phase"] is None],
        plans=bool(may(user.viewer(), SystemAction.MANAGE_FLEET)),
        editing=editing is not None and editing["phase"] is not None,
        statuses=STATUSES,
        values=values,
        errors=errors,
        labels=LABELS,
        most_unit=MAX_UNIT,
        most_phase=rollout.MAX_PHASE,
    )


@router.get("/fleet/rollout", openapi_extra=access(SystemAction.VIEW_FLEET))
async def rollout_page(
    request: Request,
    user: PortalUser,
    idle_days: int = Query(rollout.DEFAULT_IDLE_DAYS, ge=1, le=366),
    edit: str | None = Query(None, max_length=MAX_UNIT),
) -> Response:
    return await _page(request, user, idle_days=idle_days, edit=edit)


@router.post("/fleet/rollout", openapi_extra=access(SystemAction.MANAGE_FLEET))
async def plan_borough(request: Request, system: SystemDep, user: FleetAdmin) -> Response:
    """Put a borough in the plan, or change its phase, target date or status."""
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    borough = form.text(
        "borough", required="Name the borough, as officers' units name it.", limit=MAX_UNIT
    )
    phase = form.number("phase", low=1, high=rollout.MAX_PHASE, what="the phase")
    if phase is None and "phase" not in form.errors:
        form.errors["phase"] = "Enter the phase, a number from 1."
    target = None
    typed = form.values.get("target_date", "").strip()
    if not typed:
        form.errors["target_date"] = "Enter the target date."
    else:
        try:
            target = date.fromisoformat(typed)
        except ValueError:
            form.errors["target_date"] = "Enter the target date as a date, like 2026-12-01."
        else:
            if not 1900 <= target.year <= 2999:
                form.errors["target_date"] = "Enter a target date from 1900 to 2999."
                target = None
    status = form.choice("status", STATUSES, "a status")
    if form.ok and borough is not None and phase is not None and target is not None:
        try:
            await run_in_threadpool(
                lambda: rollout.set_phase(
                    system,
                    user,
                    borough,
                    phase=int(phase),
                    target_date=target,
                    status=status,
                    actor=user_actor(request, user),
                )
            )
        except InvalidInput as exc:
            form.errors["borough"] = exc.message[0].upper() + exc.message[1:]
        else:
            flash = f"{borough} is in phase {int(phase)}, by {target.day} {target:%B %Y}."
            return redirect(request, "/fleet/rollout", flash=flash)
    return await _page(request, user, form=form)


@router.post("/fleet/rollout/remove", openapi_extra=access(SystemAction.MANAGE_FLEET))
async def remove_borough(request: Request, system: SystemDep, user: FleetAdmin) -> Response:
    """Take a borough out of the plan (its officers and cameras stay)."""
    data = await request.form()
    form = Form({"borough": str(data.get("borough", ""))})
    borough = form.text("borough", required="Name the borough to remove.", limit=MAX_UNIT)
    if borough is None:
        return await _page(request, user, form=form)
    try:
        await run_in_threadpool(
            lambda: rollout.remove_phase(system, user, borough, actor=user_actor(request, user))
        )
    except NotFound as exc:
        return redirect(
            request, "/fleet/rollout", flash=exc.message[0].upper() + exc.message[1:], kind="error"
        )
    return redirect(request, "/fleet/rollout", flash=f"{borough} is out of the plan.")
