"""My footage: an officer's recordings from the latest docking first, categorised in bulk."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action, lists_team
from custody.domain.errors import InvalidInput
from custody.domain.principal import Principal
from custody.services.answers import Page
from custody.services.recordings import page as pages
from custody.services.recordings import search
from custody.web.deps import SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
PAGE = 60


async def _page(
    request: Request,
    system: SystemDep,
    user: Principal,
    *,
    team: bool,
    offset: int,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    shown = await run_in_threadpool(
        lambda: pages.footage_page(system, user, team=team, page=Page(offset, PAGE))
    )
    found, categories = shown.footage, shown.categories
    return render(
        request,
        "footage.html",
        user,
        status=400 if errors else 200,
        area="footage",
        title="My team's footage" if team else "My footage",
        footage=found,
        team=team,
        can_team=lists_team(user.viewer()),
        categories=categories,
        errors=errors or {},
        values=values or {},
    )


@router.get("/footage", openapi_extra=access(Action.LIST))
async def my_footage(
    request: Request,
    system: SystemDep,
    user: PortalUser,
    team: bool = Query(False),
    offset: int = Query(0, ge=0),
) -> Response:
    return await _page(request, system, user, team=team, offset=offset)


@router.post("/footage/categorise", openapi_extra=access(Action.CATEGORISE))
async def categorise(
    request: Request, system: SystemDep, user: PortalUser, team: bool = Query(False)
) -> Response:
    data = await request.form()
    form = Form({"category": str(data.get("category", ""))})
    chosen = [str(value) for value in data.getlist("recording")]
    category = form.text("category", required="Choose a category.", limit=80)
    if not chosen:
        form.errors["recording"] = "Select at least one recording (tick the box by its time)."
    if not form.ok or category is None:
        return await _page(
            request, system, user, team=team, offset=0, errors=form.errors, values=form.values
        )
    try:
        outcomes = await run_in_threadpool(
            search.add_category, system, user, chosen, category, user_actor(request, user)
        )
    except InvalidInput as exc:
        form.errors["category"] = exc.message
        return await _page(
            request, system, user, team=team, offset=0, errors=form.errors, values=form.values
        )
    done = sum(1 for outcome in outcomes if outcome.ok)
    refused = [outcome for outcome in outcomes if not outcome.ok]
    message = f"{done} recording{'s' if done != 1 else ''} categorised as {category}."
    if refused:
        message += f" {len(refused)} not changed: {refused[0].message}."
    target = "/footage?team=1" if team else "/footage"
    return redirect(request, target, flash=message, kind="error" if refused else "ok")
