"""A recording: the player (HTTP ranges), a strip of frames along its timeline with its
bookmarks, the route walked, its metadata and what people have decided about it.

Every read of footage here goes through the same services as the API and is audited:
the page's view, each viewing of the video (not each of its ranges), each download, the
thumbnail and the strip. The forms post to the same services, each refusal shown beside
the form it came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from custody.domain.access import Action, SystemAction, acts_on_any_footage, may
from custody.domain.audit_words import Happening, readable
from custody.domain.clock import parse_time
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.lifecycle import check_tags
from custody.domain.principal import Principal
from custody.services.audit_trail import trail as audit_trail
from custody.services.disclosure import clips as clip_service
from custody.services.evidence import annotations as annotation_service
from custody.services.evidence import cases, flags, holds
from custody.services.evidence import categories as categorising
from custody.services.recordings import page as recording_page
from custody.services.recordings import previews, reading, search
from custody.services.recordings.answers import TombstoneView
from custody.services.recordings.reading import RangeNotSatisfiable
from custody.web.deps import SystemDep, user_actor
from custody.web.guard import access
from custody.web.media import footage_answer, parse_range
from custody.web.portal import track
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
MOMENT = re.compile(r"^(?:(\d+):)?(\d+)(?:\.(\d+))?$")
IMAGE_HEADERS = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}


def _suffix(user: Principal) -> str:
    """The query that carries the person's stated reason from page to page."""
    return "?" + urlencode({"reason": user.stated_reason}) if user.stated_reason else ""


def _link(recording_id: str, user: Principal, anchor: str = "") -> str:
    return f"/recordings/{recording_id}{_suffix(user)}" + (f"#{anchor}" if anchor else "")


async def _page(
    request: Request,
    system: SystemDep,
    user: Principal,
    recording_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    actor = user_actor(request, user)
    shown = await run_in_threadpool(
        recording_page.recording_page, system, user, recording_id, actor
    )
    if isinstance(shown, TombstoneView):
        return render(
            request,
            "tombstone.html",
            user,
            area="search",
            title="Deleted recording",
            detail=shown,
            deleted_at=parse_time(shown.deleted_at) if shown.deleted_at else None,
        )
    detail, card = shown.detail, shown.card
    started = parse_time(detail.started_at)
    duration = card.duration_seconds
    return render(
        request,
        "recording.html",
        user,
        status=400 if errors else 200,
        area="footage" if user.officer_id is not None else "search",
        title=detail.title or f"Recording {started:%d %b %Y %H:%M}",
        detail=detail,
        card=card,
        categories=shown.categories,
        open_cases=shown.open_cases,
        track=track.draw(detail.gps_track, started),
        strip_times=previews.strip_times(duration) if duration else [],
        duration=duration,
        errors=errors or {},
        values=values or {},
        reason=user.stated_reason or "",
        suffix=_suffix(user),
        may_view_cases=bool(may(user.viewer(), SystemAction.VIEW_CASES)),
        hold_kinds=hold_kinds(card),
        # Holding all of the officer's footage over a time is for those who may hold anyone's.
        may_hold_officer=bool(card.officer)
        and any(
            acts_on_any_footage(user.viewer(), action)
            for action in (Action.PLACE_HOLD, Action.PLACE_COMPLAINT_HOLD)
        ),
        clips=shown.clips,
        transcript=shown.transcript,
    )


def hold_kinds(card: search.Card) -> dict[str, str]:
    """The holds this person may place on this recording (a complaint hold is professional
    standards' own), as the portal's choices."""
    kinds = {}
    if card.may(Action.PLACE_HOLD):
        kinds["legal"] = "Legal hold (litigation, a civil claim)"
    if card.may(Action.PLACE_COMPLAINT_HOLD):
        kinds["complaint"] = "Complaint hold (professional standards only)"
    return kinds


@router.post("/recordings/{recording_id}/holds", openapi_extra=access(Action.PLACE_HOLD))
async def place_hold(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    form, _ = await _form(request)
    kind = form.choice(
        "hold_kind", {"legal": "legal", "complaint": "complaint"}, "the kind of hold"
    )
    reason = form.text("hold_reason", required="Say why it is held.", limit=1000)
    actor = user_actor(request, user)
    return await _change(
        request,
        system,
        user,
        recording_id,
        form,
        "holds",
        lambda: holds.place_hold(
            system,
            user,
            kind=kind or "legal",
            reason=reason or "",
            actor=actor,
            recording_ids=[recording_id],
        ),
        "Hold placed: the recording is kept until the hold is lifted.",
    )


@router.get("/recordings/{recording_id}", openapi_extra=access(Action.VIEW))
async def recording(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    return await _page(request, system, user, recording_id)


# --- pictures and footage ----------------------------------------------------------------


@router.get("/recordings/{recording_id}/media", openapi_extra=access(Action.STREAM))
async def media(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser, download: bool = False
) -> Response:
    """The original footage: for the player a piece at a time (audited once per viewing), or
    with ?download=true the whole as an attachment, for those who may download it."""
    byte_range = parse_range(request.headers.get("range"))
    try:
        stream = await run_in_threadpool(
            lambda: reading.open_media(
                system, user, recording_id, user_actor(request, user), byte_range, download=download
            )
        )
    except RangeNotSatisfiable as exc:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{exc.size}"})
    return footage_answer(stream, recording_id)


@router.get("/recordings/{recording_id}/thumbnail", openapi_extra=access(Action.VIEW))
async def thumbnail(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    data = await run_in_threadpool(
        reading.open_thumbnail, system, user, recording_id, user_actor(request, user)
    )
    return Response(data, media_type="image/jpeg", headers=IMAGE_HEADERS)


@router.get("/recordings/{recording_id}/strip", openapi_extra=access(Action.VIEW))
async def strip(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    data = await run_in_threadpool(
        previews.open_strip, system, user, recording_id, user_actor(request, user)
    )
    return Response(data, media_type="image/jpeg", headers=IMAGE_HEADERS)


# --- the audit trail ---------------------------------------------------------------------


@router.get("/recordings/{recording_id}/audit", openapi_extra=access(Action.VIEW_AUDIT))
async def audit(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    trail = await run_in_threadpool(
        audit_trail.recording_trail, system, user, recording_id, user_actor(request, user)
    )
    events = []
    for event in trail.events:
        try:
            details = json.loads(event.details or "{}")
        except ValueError:
            details = {"text": event.details}
        events.append(event.model_dump() | {"when": parse_time(event.at), "details": details})
    lines = readable(
        [Happening(e.seq, parse_time(e.at), e.tag, e.actor, e.allowed) for e in trail.events]
    )
    size = await run_in_threadpool(audit_trail.log_size, system)
    return render(
        request,
        "audit.html",
        user,
        area="search",
        title="Audit trail",
        trail=trail,
        events=list(reversed(events)),
        lines=list(reversed(lines)),
        log_size=size,
        recording_id=recording_id,
        suffix=_suffix(user),
    )


# --- changes -----------------------------------------------------------------------------


async def _change(
    request: Request,
    system: SystemDep,
    user: Principal,
    recording_id: str,
    form: Form,
    name: str,
    change: Callable[[], object],
    done: str,
) -> Response:
    """Make a change; show the page again with the refusal beside form `name`, or move on."""
    if form.ok:
        try:
            await run_in_threadpool(change)
        except (InvalidInput, Conflict) as exc:
            form.errors[name] = exc.message[0].upper() + exc.message[1:]
    if not form.ok:
        return await _page(
            request, system, user, recording_id, errors=form.errors, values=form.values
        )
    return redirect(request, _link(recording_id, user, name), flash=done)


async def _form(request: Request) -> tuple[Form, FormData]:
    data = await request.form()
    values = {key: str(value) for key, value in data.items() if key != "csrf_token"}
    return Form(values), data


@router.post("/recordings/{recording_id}/categories", openapi_extra=access(Action.CATEGORISE))
async def categorise(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    form, data = await _form(request)
    chosen = [str(value) for value in data.getlist("category")]
    reason = form.text("reason", limit=1000)
    actor = user_actor(request, user)
    done = "Categories saved." if chosen else "Categories removed: it is uncategorised now."
    return await _change(
        request,
        system,
        user,
        recording_id,
        form,
        "categories",
        lambda: categorising.set_categories(system, user, recording_id, chosen, reason, actor),
        done,
    )


def _tags(text: str) -> list[str]:
    return [tag for tag in re.split(r"[\s,]+", text.strip().lower()) if tag]


@router.post("/recordings/{recording_id}/annotations", openapi_extra=access(Action.ANNOTATE))
async def annotate(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    form, _ = await _form(request)
    title = form.values.get("title", "")
    reference = form.values.get("reference", "")
    typed = form.values.get("tags", "")
    actor = user_actor(request, user)
    try:
        tags: list[str] | None = check_tags(_tags(typed))
    except InvalidInput as exc:
        # A mistake in the tags is the tags' alone: the title and reference are kept, and
        # the mistake is shown beside Tags with what was typed, to be put right.
        tags = None
        form.errors["tags"] = exc.message[0].upper() + exc.message[1:] + "."
    if tags is None:
        values = {"tags": typed}
        try:
            await run_in_threadpool(
                lambda: annotation_service.annotate(
                    system, user, recording_id, actor, title=title, reference=reference
                )
            )
        except (InvalidInput, Conflict) as exc:
            form.errors["annotations"] = exc.message[0].upper() + exc.message[1:]
            values = form.values
        return await _page(request, system, user, recording_id, errors=form.errors, values=values)
    return await _change(
        request,
        system,
        user,
        recording_id,
        form,
        "annotations",
        lambda: annotation_service.annotate(
            system, user, recording_id, actor, title=title, reference=reference, tags=tags
        ),
        "Details saved.",
    )


@router.post("/recordings/{recording_id}/notes", openapi_extra=access(Action.ANNOTATE))
async def add_note(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    form, _ = await _form(request)
    text = form.text("note", required="Write the note first.", limit=4000)
    actor = user_actor(request, user)
    return await _change(
        request,
        system,
        user,
        recording_id,
        form,
        "notes",
        lambda: annotation_service.add_note(system, user, recording_id, text or "", actor),
        "Note added.",
    )


def _moment(form: Form, name: str) -> float | None:
    """Seconds into the recording, typed as 75, 75.5 or 1:15."""
    value = form.values.get(name, "").strip()
    match = MOMENT.match(value)
    if not value or match is None:
        form.errors[name] = "Enter the moment as seconds (75) or minutes and seconds (1:15)."
        return None
    minutes, seconds, fraction = match.groups()
    return int(minutes or 0) * 60 + int(seconds) + float(f"0.{fraction or 0}")


@router.post("/recordings/{recording_id}/bookmarks", openapi_extra=access(Action.ANNOTATE))
async def add_bookmark(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    form, _ = await _form(request)
    at = _moment(form, "at")
    label = form.text("label", required="Say what happens at this moment.", limit=200)
    actor = user_actor(request, user)
    return await _change(
        request,
        system,
        user,
        recording_id,
        form,
        "bookmarks",
        lambda: annotation_service.add_bookmark(
            system, user, recording_id, at or 0.0, label or "", actor
        ),
        "Bookmark added.",
    )


@router.post(
    "/recordings/{recording_id}/bookmarks/{bookmark_id}/remove",
    openapi_extra=access(Action.ANNOTATE),
)
async def remove_bookmark(
    recording_id: str, bookmark_id: int, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    form, _ = await _form(request)
    actor = user_actor(request, user)
    return await _change(
        request,
        system,
        user,
        recording_id,
        form,
        "bookmarks",
        lambda: annotation_service.remove_bookmark(system, user, recording_id, bookmark_id, actor),
        "Bookmark removed.",
    )


@router.post("/recordings/{recording_id}/evidence", openapi_extra=access(Action.FLAG_EVIDENCE))
async def flag_evidence(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    form, _ = await _form(request)
    reason = form.text("flag_reason", required="Say why it is evidence.", limit=1000)
    actor = user_actor(request, user)
    return await _change(
        request,
        system,
        user,
        recording_id,
        form,
        "evidence",
        lambda: flags.flag_evidence(system, user, recording_id, reason or "", actor),
        "Flagged as evidence: it is kept until the flag is cleared.",
    )


@router.post(
    "/recordings/{recording_id}/evidence/{flag_id}/clear",
    openapi_extra=access(Action.FLAG_EVIDENCE),
)
async def clear_evidence(
    recording_id: str, flag_id: int, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    form, _ = await _form(request)
    reason = form.text("clear_reason", required="Say why the flag is cleared.", limit=1000)
    actor = user_actor(request, user)
    return await _change(
        request,
        system,
        user,
        recording_id,
        form,
        "evidence",
        lambda: flags.clear_evidence_flag(system, user, recording_id, flag_id, reason or "", actor),
        "Evidence flag cleared.",
    )


@router.post("/recordings/{recording_id}/cases", openapi_extra=access(Action.ADD_TO_CASE))
async def add_to_case(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    form, _ = await _form(request)
    case_id = form.number("case_id", low=1, high=2**62, what="the case")
    if case_id is None and "case_id" not in form.errors:
        form.errors["case_id"] = "Choose a case."
    reason = form.text("case_reason", limit=1000)
    actor = user_actor(request, user)
    return await _change(
        request,
        system,
        user,
        recording_id,
        form,
        "cases",
        lambda: cases.add_to_case(system, user, int(case_id or 0), recording_id, reason, actor),
        "Added to the case: it is kept while the case is open.",
    )


@router.post("/recordings/{recording_id}/clips", openapi_extra=access(Action.CLIP))
async def cut_clip(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    """Cut a clip between the in and out points (set from the player or typed): a new object;
    the page of the clip follows."""
    form, _ = await _form(request)
    points = {}
    for name, what in (("clip_in", "the in point"), ("clip_out", "the out point")):
        points[name] = form.number(name, low=0, high=1e7, what=what, whole=False)
        if points[name] is None and name not in form.errors:
            form.errors[name] = f"Set {what}: play to it and press the button, or type it."
    title = form.text("clip_title", limit=200)
    actor = user_actor(request, user)
    made = None
    if form.ok:
        try:
            made = await run_in_threadpool(
                lambda: clip_service.cut_clip(
                    system,
                    user,
                    recording_id,
                    points["clip_in"] or 0.0,
                    points["clip_out"] or 0.0,
                    actor,
                    title=title or "",
                )
            )
        except (InvalidInput, Conflict) as exc:
            form.errors["clips"] = exc.message[0].upper() + exc.message[1:]
    if made is None:
        return await _page(
            request, system, user, recording_id, errors=form.errors, values=form.values
        )
    return redirect(request, f"/clips/{made.id}", flash="Clip cut: the original is unchanged.")
