"""Holds: the list of holds a person may see, holding an officer's footage over a time
window, and lifting a hold (from the list or from a recording's page)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action, acts_on_any_footage
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.principal import Principal
from custody.services.evidence import holds
from custody.services.recordings import search
from custody.web.deps import SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import LOCAL_HINT, Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
LABELS = {
    "officer": "officer",
    "since": "from",
    "until": "to",
    "kind": "kind",
    "reason": "reason",
}


def _kinds(user: Principal) -> dict[str, str]:
    """The holds this person may place on anyone's footage, unnamed (over a window)."""
    viewer = user.viewer()
    kinds = {}
    if acts_on_any_footage(viewer, Action.PLACE_HOLD):
        kinds["legal"] = "Legal hold"
    if acts_on_any_footage(viewer, Action.PLACE_COMPLAINT_HOLD):
        kinds["complaint"] = "Complaint hold"
    return kinds


async def _list(
    request: Request,
    system: SystemDep,
    user: Principal,
    active: bool,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    found = await run_in_threadpool(
        lambda: holds.list_holds(system, user, user_actor(request, user), active=active)
    )
    # Which recording each hold is on, as a person knows it (officer and time), and
    # whether they may lift it: in a fixed number of queries, whatever the holds' number.
    cards = await run_in_threadpool(
        search.cards, system, user, [hold.recording_id for hold in found]
    )
    return render(
        request,
        "holds.html",
        user,
        status=400 if errors else 200,
        area="holds",
        title="Holds",
        holds=found,
        held_cards={card.id: card for card in cards},
        may_lift={card.id for card in cards if card.may(Action.LIFT_HOLD)},
        active=active,
        kinds=_kinds(user),
        errors=errors or {},
        values=values or {},
        labels=LABELS,
        local_hint=LOCAL_HINT,
    )


@router.get("/holds", openapi_extra=access(Action.VIEW_HOLDS))
async def list_holds(
    request: Request,
    system: SystemDep,
    user: PortalUser,
    lifted: bool = Query(False),
    officer: str | None = Query(None, max_length=32),
) -> Response:
    """The holds; `officer` fills in the form for an officer's footage (from their
    recording's page), for those who may hold anyone's."""
    values = {"officer": officer.strip()} if officer and _kinds(user) else None
    return await _list(request, system, user, not lifted, values=values)


@router.post("/holds", openapi_extra=access(Action.PLACE_HOLD))
async def hold_officer(request: Request, system: SystemDep, user: PortalUser) -> Response:
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    officer = form.text("officer", required="Enter the officer's warrant number.", limit=32)
    since = form.moment("since", "the start of the window")
    until = form.moment("until", "the end of the window")
    for name, value in (("since", since), ("until", until)):
        if value is None and name not in form.errors:
            form.errors[name] = "Enter a date and time."
    kind = form.choice("kind", {"legal": "legal", "complaint": "complaint"}, "the kind of hold")
    reason = form.text("reason", required="Say why the footage is held.", limit=1000)
    placed = None
    if form.ok:
        try:
            placed = await run_in_threadpool(
                lambda: holds.place_hold(
                    system,
                    user,
                    kind=kind or "legal",
                    reason=reason or "",
                    actor=user_actor(request, user),
                    officer=officer,
                    since=since,
                    until=until,
                )
            )
        except (InvalidInput, Conflict) as exc:
            field = "officer" if "officer" in exc.message else "until"
            form.errors[field] = exc.message[0].upper() + exc.message[1:]
    if placed is None:
        return await _list(request, system, user, True, errors=form.errors, values=form.values)
    count = len(placed)
    return redirect(
        request,
        "/holds",
        flash=f"{count} recording{'' if count == 1 else 's'} of {officer} held.",
    )


@router.post("/holds/{hold_id}/lift", openapi_extra=access(Action.LIFT_HOLD))
async def lift_hold(
    hold_id: int, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    data = await request.form()
    reason = str(data.get("reason", "")).strip()[:1000]
    back = str(data.get("recording_id", "")).strip()
    case = str(data.get("case_id", "")).strip()
    if case.isascii() and case.isdigit() and len(case) <= 12:
        target = f"/cases/{case}#holds"
    elif back and len(back) <= 36:
        target = f"/recordings/{back}#holds"
    else:
        target = "/holds"
    try:
        await run_in_threadpool(
            holds.lift_hold, system, user, hold_id, reason, user_actor(request, user)
        )
    except (InvalidInput, Conflict) as exc:
        message = exc.message[0].upper() + exc.message[1:]
        return redirect(request, target, flash=message, kind="error")
    return redirect(request, target, flash="Hold lifted: the recording's other rules decide again.")
