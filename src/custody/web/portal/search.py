"""Search: footage by officer, unit, camera, time, category, case, reference, tag, evidence
flag and duration, as a grid of thumbnails or a table, a page at a time."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import (
    NO_ACCESS,
    Action,
    SystemAction,
    listing_scope,
    may,
    views_footage,
)
from custody.domain.principal import Principal
from custody.services.answers import Page
from custody.services.cursors import LONGEST
from custody.services.evidence import categories as categorising
from custody.services.recordings import page as pages
from custody.services.recordings.search import Search
from custody.web.deps import SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
PAGE_SIZES = {"grid": 24, "table": 50}
SORTS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "longest": "Longest first",
    "shortest": "Shortest first",
}
LABELS = {
    "reason": "reason for searching",
    "reference": "reference",
    "since": "recorded from",
    "until": "recorded until",
    "case": "case",
    "min_minutes": "shortest duration",
    "max_minutes": "longest duration",
}
FIELDS = (
    "reason",
    "reference",
    "officer",
    "unit",
    "camera",
    "tag",
    "since",
    "until",
    "category",
    "case",
    "evidence",
    "min_minutes",
    "max_minutes",
    "sort",
)


def asks_reason(user: Principal) -> bool:
    """Whether this person may search beyond their cases only by stating a reason."""
    viewer = replace(user.viewer(), stated_reason=False)
    return not may(viewer, SystemAction.SEARCH_FORCE_WIDE) and bool(
        may(replace(viewer, stated_reason=True), SystemAction.SEARCH_FORCE_WIDE)
    )


def _query(form: Form) -> Search:
    since = form.moment("since", "the start")
    until = form.moment("until", "the end")
    if since and until and since >= until:
        form.errors["until"] = "The end must be after the start."
    least = form.number("min_minutes", low=0, high=24 * 60, what="the shortest", whole=False)
    most = form.number("max_minutes", low=0, high=24 * 60, what="the longest", whole=False)
    if least is not None and most is not None and least > most:
        form.errors["max_minutes"] = "The longest must be at least the shortest."
    evidence = {"yes": True, "no": False}.get(form.values.get("evidence", ""))
    return Search(
        officer=form.text("officer", limit=200),
        unit=form.text("unit", limit=120),
        camera=form.text("camera", limit=64),
        since=since,
        until=until,
        category=form.text("category", limit=80),
        case=form.text("case", limit=64),
        reference=form.text("reference", limit=64),
        tag=form.text("tag", limit=40),
        evidence=evidence,
        min_seconds=None if least is None else least * 60,
        max_seconds=None if most is None else most * 60,
        sort=form.choice("sort", SORTS, "an order") or "newest",
    )


def _scope_note(user: Principal, asking: bool) -> str:
    if not views_footage(user.role) and listing_scope(user.viewer()):
        note = NO_ACCESS.get(user.role, "this role opens no footage")
        return (
            f"{note[0].upper()}{note[1:]}: these are the records of what is stored, "
            "without pictures or links to the footage."
        )
    if asking and not user.stated_reason:
        return "Showing footage in your cases. State a reason to search all footage."
    viewer = replace(user.viewer(), stated_reason=True)
    if not may(viewer, SystemAction.SEARCH_FORCE_WIDE):
        # Those whose footage is bounded by who they are, whatever reason they state.
        note = NO_ACCESS.get(user.role, "")
        return note[0].upper() + note[1:] + "." if note else ""
    return ""


@router.get("/search", openapi_extra=access(Action.LIST))
async def search(
    request: Request,
    system: SystemDep,
    user: PortalUser,
    view: str = Query("grid"),
    offset: int = Query(0, ge=0, le=1_000_000),
    after: str | None = Query(None, max_length=LONGEST),
) -> Response:
    # A role that may open no footage sees what it may list as records: no pictures, no
    # links to pages it cannot open (domain.access.views_footage).
    records_only = not views_footage(user.role)
    view = "table" if records_only else (view if view in PAGE_SIZES else "grid")
    form = Form({name: request.query_params.get(name, "") for name in FIELDS})
    query = _query(form)
    asking = asks_reason(user)
    results = None
    if form.ok:
        # Not the search's fault but the page's address (BadPage): a 400 page of its own.
        shown = await run_in_threadpool(
            lambda: pages.search_page(
                system,
                user,
                query,
                user_actor(request, user),
                page=Page(offset, PAGE_SIZES[view], after=after or None),
            )
        )
        results, categories = shown.results, shown.categories
        if shown.refused is not None:
            form.errors["case" if query.case else "reference"] = shown.refused.message
    else:
        categories = await run_in_threadpool(categorising.categories_to_give, system, user)
    return render(
        request,
        "search.html",
        user,
        status=200 if form.ok else 400,
        area="search",
        title="Search",
        results=results,
        values=form.values,
        errors=form.errors,
        labels=LABELS,
        categories=categories,
        sorts=SORTS,
        view=view,
        records_only=records_only,
        asks_reason=asking,
        reason=user.stated_reason or "",
        scope_note=_scope_note(user, asking),
    )
