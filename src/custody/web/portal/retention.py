"""Retention: what is pending deletion and when, restoring it, and the review queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action, SystemAction, may
from custody.domain.clock import parse_time
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.principal import Principal
from custody.domain.retention import days_left as days_before_deletion
from custody.services.cursors import LONGEST
from custody.services.recordings import search
from custody.services.retention import page as retention_page
from custody.services.retention import review
from custody.services.retention.answers import RetentionEntry
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
Reviewer = Annotated[Principal, Depends(Permit(SystemAction.REVIEW_QUEUE))]
PAGE = 50


@dataclass(frozen=True)
class Standing:
    """What the person may do to a listed recording they may see, and when it goes: all a
    retention list's row shows beside its entry."""

    actions: frozenset[Action]
    delete_due_at: datetime | None

    def may(self, action: str) -> bool:
        return Action(action) in self.actions

    def days_left(self, now: datetime) -> int | None:
        """Whole days before the sweep would delete it (None: it is kept)."""
        return days_before_deletion(self.delete_due_at, now)


def _with_cards(
    items: list[RetentionEntry], allowed: dict[str, frozenset[Action]]
) -> list[tuple[RetentionEntry, Standing | None]]:
    """Each entry with what the person may do to it (none: not theirs to see), decided in
    two queries: a card each, read whole, took a dozen."""
    return [
        (
            item,
            Standing(
                allowed[item.id],
                parse_time(item.delete_due_at) if item.delete_due_at else None,
            )
            if item.id in allowed
            else None,
        )
        for item in items
    ]


async def _pending_page(
    request: Request,
    system: SystemDep,
    user: Principal,
    offset: int = 0,
    after: str | None = None,
    *,
    errors: dict[str, str] | None = None,
) -> Response:
    shown = await run_in_threadpool(
        lambda: retention_page.pending_page(
            system, user, user_actor(request, user), limit=PAGE, offset=offset, cursor=after
        )
    )
    answer, categories = shown.answer, shown.categories
    rows = _with_cards(answer.items, shown.actions)
    return render(
        request,
        "retention.html",
        user,
        status=400 if errors else 200,
        area="retention",
        title="Retention",
        tab="pending",
        answer=answer,
        rows=rows,
        categories=categories,
        may_review=bool(may(user.viewer(), SystemAction.REVIEW_QUEUE)),
        errors=errors or {},
    )


@router.get("/retention", openapi_extra=access(Action.LIST))
async def pending(
    request: Request,
    system: SystemDep,
    user: PortalUser,
    offset: int = Query(0, ge=0, le=1_000_000),
    after: str | None = Query(None, max_length=LONGEST, description="the page after this"),
) -> Response:
    # Paged by cursor (each page's "Next page"), as the API pages it: an offset makes the
    # database walk every row before the page; an old link's offset is still honoured.
    return await _pending_page(request, system, user, offset, after or None)


@router.post("/retention/{recording_id}/restore", openapi_extra=access(Action.RESTORE))
async def restore(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    category = form.text("category", required="Choose a category.", limit=80)
    reason = form.text("reason", required="Say why it should be kept.", limit=1000)
    if form.ok:
        try:
            answer = await run_in_threadpool(
                review.restore,
                system,
                user,
                recording_id,
                category or "",
                reason or "",
                user_actor(request, user),
            )
        except (InvalidInput, Conflict) as exc:
            form.errors["category"] = exc.message[0].upper() + exc.message[1:]
        else:
            message = f"Restored under {answer.category}."
            if not answer.extended:
                message += " Its deletion date did not move: that category is not evidence."
            return redirect(request, "/retention", flash=message)
    first = next(iter(form.errors.values()))
    return await _pending_page(request, system, user, errors={recording_id: first})


@router.get("/retention/review", openapi_extra=access(SystemAction.REVIEW_QUEUE))
async def review_queue(
    request: Request,
    system: SystemDep,
    user: Reviewer,
    offset: int = Query(0, ge=0, le=1_000_000),
    after: str | None = Query(None, max_length=LONGEST, description="the page after this"),
) -> Response:
    return await _review_page(request, system, user, offset, after or None)


async def _review_page(
    request: Request,
    system: SystemDep,
    user: Principal,
    offset: int = 0,
    after: str | None = None,
    *,
    errors: dict[str, str] | None = None,
) -> Response:
    answer = await run_in_threadpool(
        lambda: review.review_queue(
            system, user, user_actor(request, user), limit=PAGE, offset=offset, cursor=after
        )
    )
    allowed = await run_in_threadpool(
        search.actions_on_each, system, user, [item.id for item in answer.items]
    )
    rows = _with_cards(answer.items, allowed)
    return render(
        request,
        "review.html",
        user,
        status=400 if errors else 200,
        area="retention",
        title="Review queue",
        tab="review",
        answer=answer,
        rows=rows,
        may_review=True,
        errors=errors or {},
    )


@router.post("/retention/review/{recording_id}", openapi_extra=access(SystemAction.REVIEW_QUEUE))
async def mark_reviewed(
    recording_id: str, request: Request, system: SystemDep, user: Reviewer
) -> Response:
    data = await request.form()
    note = str(data.get("note", "")).strip()
    if not note:
        return await _review_page(
            request, system, user, errors={recording_id: "Say why it is still kept."}
        )
    try:
        await run_in_threadpool(
            review.mark_reviewed, system, user, recording_id, note, user_actor(request, user)
        )
    except (InvalidInput, Conflict) as exc:
        message = exc.message[0].upper() + exc.message[1:]
        return await _review_page(request, system, user, errors={recording_id: message})
    return redirect(request, "/retention/review", flash="Reviewed: kept until its next review.")
