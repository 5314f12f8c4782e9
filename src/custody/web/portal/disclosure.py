"""A clip's page: its player (HTTP ranges, starting at the in point asked), what a court
checks of it (the original's SHA-256, in, out, where the cut really starts, the method,
its own SHA-256), and the form that puts it on a case's disclosure schedule.

Cutting a clip is a form of the recording's page (`recording.py`); the schedule is shown
and marked on the case's page (`cases.py`). Every read here goes through the services of
`custody.services.disclosure`, audited there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action, SystemAction
from custody.domain.disclosure import USE_LABELS
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.principal import Principal
from custody.services.disclosure import clips, schedule
from custody.services.recordings.reading import RangeNotSatisfiable
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.media import footage_answer, parse_range
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
Marker = Annotated[Principal, Depends(Permit(SystemAction.MARK_SCHEDULE))]


async def _page(
    request: Request,
    system: SystemDep,
    user: Principal,
    clip_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    actor = user_actor(request, user)
    clip = await run_in_threadpool(clips.get_clip, system, user, clip_id, actor)
    cases = await run_in_threadpool(
        schedule.cases_to_mark, system, user, clip.recording_id, clip.id
    )
    return render(
        request,
        "clip.html",
        user,
        status=400 if errors else 200,
        area="search",
        title=clip.title or "Clip",
        clip=clip,
        cases=cases,
        uses={use.value: label for use, label in USE_LABELS.items()},
        errors=errors or {},
        values=values or {},
    )


@router.get("/clips/{clip_id}", openapi_extra=access(Action.VIEW))
async def clip_page(
    clip_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    return await _page(request, system, user, clip_id)


@router.get("/clips/{clip_id}/media", openapi_extra=access(Action.STREAM))
async def clip_media(
    clip_id: str, request: Request, system: SystemDep, user: PortalUser, download: bool = False
) -> Response:
    """The clip's footage for the player, a piece at a time (or a copy with ?download=true)."""
    byte_range = parse_range(request.headers.get("range"))
    try:
        stream = await run_in_threadpool(
            lambda: clips.open_clip_media(
                system, user, clip_id, user_actor(request, user), byte_range, download=download
            )
        )
    except RangeNotSatisfiable as exc:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{exc.size}"})
    return footage_answer(stream, f"clip-{clip_id}")


@router.post("/clips/{clip_id}/schedule", openapi_extra=access(SystemAction.MARK_SCHEDULE))
async def mark_clip(clip_id: str, request: Request, system: SystemDep, user: Marker) -> Response:
    """Put the clip on a case's schedule (an exhibit with its reference, or unused)."""
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    case_id = form.number("case_id", low=1, high=2**62, what="the case")
    if case_id is None and "case_id" not in form.errors:
        form.errors["case_id"] = "Choose a case."
    use = form.text("use", required="Choose how the clip is used.", limit=32)
    reference = form.text("reference", limit=32)
    description = form.text("description", limit=1000)
    if form.ok:
        try:
            await run_in_threadpool(
                lambda: schedule.mark(
                    system,
                    user,
                    int(case_id or 0),
                    user_actor(request, user),
                    use=use or "",
                    clip_id=clip_id,
                    reference=reference,
                    description=description,
                )
            )
        except (InvalidInput, Conflict) as exc:
            form.errors["schedule"] = exc.message[0].upper() + exc.message[1:]
    if not form.ok:
        return await _page(request, system, user, clip_id, errors=form.errors, values=form.values)
    return redirect(
        request, f"/cases/{int(case_id or 0)}#schedule", flash="The clip is on the schedule."
    )
