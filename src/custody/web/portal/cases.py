"""Cases: the list, a case with its recordings and who works on it, opening one."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action, SystemAction, may
from custody.domain.disclosure import USE_LABELS
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.services.answers import Page, Paged
from custody.services.cursors import LONGEST
from custody.services.disclosure import schedule as disclosure_schedule
from custody.services.evidence import cases, holds
from custody.services.evidence.answers import CaseView
from custody.services.recordings import search
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render
from custody.web.portal.recording import hold_kinds

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
CaseViewer = Annotated[Principal, Depends(Permit(SystemAction.VIEW_CASES))]
CaseManager = Annotated[Principal, Depends(Permit(SystemAction.MANAGE_CASES))]
Marker = Annotated[Principal, Depends(Permit(SystemAction.MARK_SCHEDULE))]
LABELS = {
    "reference": "crime reference",
    "title": "title",
    "members": "team",
    "disposal": "disposal",
}


async def _list(
    request: Request,
    system: SystemDep,
    user: Principal,
    status: str | None,
    *,
    before: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    page = Page(limit=cases.CASES_PAGE.limit, after=before)
    found = await run_in_threadpool(
        lambda: cases.list_cases(system, user, user_actor(request, user), status=status, page=page)
    )
    return render(
        request,
        "cases.html",
        user,
        status=400 if errors else 200,
        area="cases",
        title="Cases",
        cases=found.items,
        listing=found,
        newest=f"/cases?{urlencode({'status': status})}" if status else "/cases",
        older=_older(found, status),
        status_filter=status or "",
        may_manage=bool(may(user.viewer(), SystemAction.MANAGE_CASES)),
        errors=errors or {},
        values=values or {},
        labels=LABELS,
    )


def _older(found: Paged[CaseView], status: str | None) -> str | None:
    """The address of the page of older cases, if there is one."""
    if found.next_cursor is None:
        return None
    asked = {"before": found.next_cursor} | ({"status": status} if status else {})
    return f"/cases?{urlencode(asked)}"


@router.get("/cases", openapi_extra=access(SystemAction.VIEW_CASES))
async def list_cases(
    request: Request,
    system: SystemDep,
    user: CaseViewer,
    status: str | None = Query(None),
    before: str | None = Query(None, max_length=LONGEST),
) -> Response:
    chosen = status if status in ("open", "closed") else None
    return await _list(request, system, user, chosen, before=before or None)


def _usernames(text: str) -> list[str]:
    return [name for name in re.split(r"[\s,]+", text.strip()) if name]


@router.post("/cases", openapi_extra=access(SystemAction.MANAGE_CASES))
async def open_case(request: Request, system: SystemDep, user: CaseManager) -> Response:
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    reference = form.text("reference", required="Enter the case's crime reference.", limit=64)
    title = form.text("title", required="Give the case a title.", limit=200)
    disposal = form.number("disposal", low=7, high=36600, what="the days to keep after closure")
    members = _usernames(form.values.get("members", ""))
    created: CaseView | None = None
    if form.ok:
        try:
            created = await run_in_threadpool(
                lambda: cases.create_case(
                    system,
                    user,
                    reference=reference or "",
                    title=title or "",
                    actor=user_actor(request, user),
                    disposal_days=None if disposal is None else int(disposal),
                    members=members,
                )
            )
        except (InvalidInput, Conflict) as exc:
            field = "members" if "user" in exc.message else "reference"
            form.errors[field] = exc.message[0].upper() + exc.message[1:]
    if created is None:
        return await _list(request, system, user, None, errors=form.errors, values=form.values)
    return redirect(request, f"/cases/{created.id}", flash=f"Case {created.reference} opened.")


async def _case_page(
    request: Request,
    system: SystemDep,
    user: Principal,
    case_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    case = await run_in_threadpool(cases.get_case, system, user, case_id, user_actor(request, user))
    cards = await run_in_threadpool(search.case_cards, system, user, case_id)
    held = await run_in_threadpool(
        lambda: holds.list_holds(system, user, user_actor(request, user), case_id=case_id)
    )
    schedule = await run_in_threadpool(
        disclosure_schedule.get_schedule, system, user, case_id, user_actor(request, user)
    )
    return render(
        request,
        "case.html",
        user,
        status=400 if errors else 200,
        area="cases",
        title=f"Case {case.reference}",
        case=case,
        cards=cards,
        hidden=len(case.recordings) - len(cards),
        may_manage=bool(may(user.viewer(), SystemAction.MANAGE_CASES)),
        may_remove=case.status == "open" and any(c.may(Action.ADD_TO_CASE) for c in cards),
        may_mark=bool(may(user.viewer(), SystemAction.MARK_SCHEDULE)),
        holds=held,
        hold_kinds=_hold_kinds(cards, len(case.recordings) - len(cards)),
        may_lift={card.id for card in cards if card.may(Action.LIFT_HOLD)},
        held_cards={card.id: card for card in cards},
        schedule=schedule,
        uses={use.value: label for use, label in USE_LABELS.items()},
        errors=errors or {},
        values=values or {},
    )


def _hold_kinds(cards: list[search.Card], hidden: int) -> dict[str, str]:
    """The holds this person may place on the whole case: those they may place on every
    recording of it (a hold on part of a case is made from each recording's page)."""
    if not cards or hidden:
        return {}
    each = [hold_kinds(card) for card in cards]
    return {kind: label for kind, label in each[0].items() if all(kind in e for e in each)}


@router.get("/cases/{case_id}", openapi_extra=access(SystemAction.VIEW_CASES))
async def case(case_id: int, request: Request, system: SystemDep, user: CaseViewer) -> Response:
    return await _case_page(request, system, user, case_id)


@router.post("/cases/{case_id}/members", openapi_extra=access(SystemAction.MANAGE_CASES))
async def add_member(
    case_id: int, request: Request, system: SystemDep, user: CaseManager
) -> Response:
    data = await request.form()
    username = str(data.get("username", "")).strip()
    if not username:
        return await _case_page(
            request, system, user, case_id, errors={"username": "Enter a username."}
        )
    try:
        await run_in_threadpool(
            cases.add_case_member, system, user, case_id, username, user_actor(request, user)
        )
    except (InvalidInput, Conflict) as exc:
        message = exc.message[0].upper() + exc.message[1:]
        return await _case_page(request, system, user, case_id, errors={"username": message})
    return redirect(request, f"/cases/{case_id}", flash=f"{username} now works on this case.")


async def _case_change(
    request: Request,
    system: SystemDep,
    user: Principal,
    case_id: int,
    where: str,
    change: Callable[[str], object],
    done: str,
) -> Response:
    """A change to a case from its page: a reason is required; a refusal shows beside it."""
    data = await request.form()
    reason = str(data.get("reason", "")).strip()
    if not reason:
        return await _case_page(request, system, user, case_id, errors={where: "Give a reason."})
    try:
        await run_in_threadpool(change, reason[:1000])
    except (InvalidInput, Conflict, NotFound) as exc:
        message = exc.message[0].upper() + exc.message[1:]
        return await _case_page(request, system, user, case_id, errors={where: message})
    return redirect(request, f"/cases/{case_id}", flash=done)


@router.post("/cases/{case_id}/close", openapi_extra=access(SystemAction.MANAGE_CASES))
async def close_case(
    case_id: int, request: Request, system: SystemDep, user: CaseManager
) -> Response:
    data = await request.form()
    form = Form({"disposal": str(data.get("disposal", ""))})
    disposal = form.number("disposal", low=7, high=36600, what="the days to keep after closure")
    if not form.ok:
        return await _case_page(
            request, system, user, case_id, errors={"status": form.errors["disposal"]}
        )
    actor = user_actor(request, user)
    return await _case_change(
        request,
        system,
        user,
        case_id,
        "status",
        lambda reason: cases.close_case(
            system,
            user,
            case_id,
            reason,
            actor,
            **({} if disposal is None else {"disposal_days": int(disposal)}),
        ),
        "Case closed: its footage is kept as its disposal rule says, then its categories decide.",
    )


@router.post("/cases/{case_id}/reopen", openapi_extra=access(SystemAction.MANAGE_CASES))
async def reopen_case(
    case_id: int, request: Request, system: SystemDep, user: CaseManager
) -> Response:
    actor = user_actor(request, user)
    return await _case_change(
        request,
        system,
        user,
        case_id,
        "status",
        lambda reason: cases.reopen_case(system, user, case_id, reason, actor),
        "Case reopened: its footage is kept while it is open.",
    )


@router.post("/cases/{case_id}/remove", openapi_extra=access(Action.ADD_TO_CASE))
async def remove_recording(
    case_id: int, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    data = await request.form()
    recording_id = str(data.get("recording_id", "")).strip()[:64]
    actor = user_actor(request, user)
    return await _case_change(
        request,
        system,
        user,
        case_id,
        "remove",
        lambda reason: cases.remove_from_case(system, user, case_id, recording_id, reason, actor),
        "Removed from the case: its other rules decide how long it is kept.",
    )


@router.post("/cases/{case_id}/holds", openapi_extra=access(Action.PLACE_HOLD))
async def hold_case(
    case_id: int, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    """Hold every recording of the case (legal, or complaint for professional standards)."""
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    kind = form.choice(
        "hold_kind", {"legal": "legal", "complaint": "complaint"}, "the kind of hold"
    )
    reason = form.text("hold_reason", required="Say why the footage is held.", limit=1000)
    placed = None
    if form.ok:
        try:
            placed = await run_in_threadpool(
                lambda: holds.hold_case(
                    system,
                    user,
                    case_id,
                    kind=kind or "legal",
                    reason=reason or "",
                    actor=user_actor(request, user),
                )
            )
        except (InvalidInput, Conflict) as exc:
            form.errors["hold_reason"] = exc.message[0].upper() + exc.message[1:]
    if placed is None:
        return await _case_page(
            request, system, user, case_id, errors=form.errors, values=form.values
        )
    count = len(placed)
    return redirect(
        request,
        f"/cases/{case_id}#holds",
        flash=f"Hold placed on {count} recording{'' if count == 1 else 's'} of the case: "
        "kept until the hold is lifted.",
    )


@router.post("/cases/{case_id}/schedule", openapi_extra=access(SystemAction.MARK_SCHEDULE))
async def mark(case_id: int, request: Request, system: SystemDep, user: Marker) -> Response:
    """Mark one recording or clip of the case on its disclosure schedule."""
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    item = form.text("item", required="Choose what to mark.", limit=80) or ""
    kind, _, item_id = item.partition(":")
    if form.ok and (kind not in ("recording", "clip", "redaction") or not item_id):
        form.errors["item"] = "Choose what to mark."
    use = form.text("use", required="Choose how it is used.", limit=32)
    reference = form.text("reference", limit=32)
    description = form.text("description", limit=1000)
    if form.ok:
        try:
            await run_in_threadpool(
                lambda: disclosure_schedule.mark(
                    system,
                    user,
                    case_id,
                    user_actor(request, user),
                    use=use or "",
                    recording_id=item_id if kind == "recording" else None,
                    clip_id=item_id if kind == "clip" else None,
                    redaction_id=item_id if kind == "redaction" else None,
                    reference=reference if use == "exhibit" else None,
                    description=description,
                )
            )
        except (InvalidInput, Conflict) as exc:
            form.errors["schedule"] = exc.message[0].upper() + exc.message[1:]
    if not form.ok:
        message = next(iter(form.errors.values()))
        values = form.values | {"marking": item}
        return await _case_page(
            request, system, user, case_id, errors={"schedule": message}, values=values
        )
    return redirect(request, f"/cases/{case_id}#schedule", flash="Schedule updated.")
