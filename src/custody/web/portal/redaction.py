"""The redaction editor of a recording: find the faces, tick whom to blur, add a manual box
and muted audio, render, preview the copy, and approve another person's copy.

Every read and change goes through `custody.services.redaction` (the door, the audit);
the page only turns forms into choices and refusals into sentences.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.principal import Principal
from custody.services.recordings.reading import RangeNotSatisfiable
from custody.services.redaction import redactions, scans
from custody.services.redaction.records import Choices, ManualBox
from custody.web.deps import SystemDep, user_actor
from custody.web.guard import access
from custody.web.media import footage_answer, parse_range
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
PIXELS = 100_000
FRAMES = 10_000_000


def _sentence(message: str) -> str:
    return message[0].upper() + message[1:]


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
    found = await run_in_threadpool(scans.list_scans, system, user, recording_id, actor)
    copies = await run_in_threadpool(redactions.list_redactions, system, user, recording_id, actor)
    latest = next((scan for scan in found if scan.state == scans.COMPLETE), None)
    return render(
        request,
        "redaction.html",
        user,
        status=400 if errors else 200,
        area="search",
        title="Redaction",
        recording_id=recording_id,
        scans=found,
        scan=latest,
        copies=list(reversed(copies)),
        errors=errors or {},
        values=values or {},
    )


@router.get("/recordings/{recording_id}/redaction", openapi_extra=access(Action.REDACT))
async def redaction_page(
    recording_id: str,
    request: Request,
    system: SystemDep,
    user: PortalUser,
    mute_from: str = Query("", max_length=20),
    mute_to: str = Query("", max_length=20),
) -> Response:
    # Words chosen in the transcript arrive as a span to mute, filled in for review.
    values = {"mute_from": mute_from, "mute_to": mute_to} if mute_from or mute_to else None
    return await _page(request, system, user, recording_id, values=values)


@router.post("/recordings/{recording_id}/face-scans", openapi_extra=access(Action.REDACT))
async def find_faces(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    try:
        await run_in_threadpool(
            scans.request_scan, system, user, recording_id, user_actor(request, user)
        )
    except Conflict as exc:
        return await _page(request, system, user, recording_id,
                           errors={"scan": _sentence(exc.message)})  # fmt: skip
    done = "Finding faces: this page shows the people when the job is done."
    return redirect(request, f"/recordings/{recording_id}/redaction", flash=done)


def _choices(form: Form, tracks: list[str]) -> tuple[Choices, str | None]:
    chosen: list[int] = []
    for value in tracks:
        if not value.isdigit() or len(value) > 9:
            form.errors["tracks"] = "Choose people from the list."
            break
        chosen.append(int(value))
    manual: tuple[ManualBox, ...] = ()
    label = form.text("box_label", limit=80)
    if label:
        numbers = [
            form.number(f"box_{name}", low=0, high=high, what=what)
            for name, high, what in (
                ("from", FRAMES, "the first frame"), ("to", FRAMES, "the last frame"),
                ("x1", PIXELS, "the left edge"), ("y1", PIXELS, "the top edge"),
                ("x2", PIXELS, "the right edge"), ("y2", PIXELS, "the bottom edge"),
            )
        ]  # fmt: skip
        if any(n is None for n in numbers) and not form.errors:
            form.errors["box_label"] = "Give the box's frames and edges, or leave its label empty."
        if form.ok:
            first, last, x1, y1, x2, y2 = (int(n or 0) for n in numbers)
            manual = (ManualBox(label, ((first, x1, y1, x2, y2), (last, x1, y1, x2, y2))),)
    mute: tuple[tuple[float, float], ...] = ()
    start = form.number("mute_from", low=0, high=1e6, what="seconds", whole=False)
    end = form.number("mute_to", low=0, high=1e6, what="seconds", whole=False)
    if start is not None or end is not None:
        if start is None or end is None:
            form.errors["mute_from"] = "Give both ends of the sound to mute."
        else:
            mute = ((start, end),)
    scan_id = form.text("scan_id", limit=36)
    return (
        Choices(
            blur_tracks=tuple(chosen),
            manual=manual,
            mute=mute,
            everything=form.values.get("everything") == "on",
            remove_audio=form.values.get("remove_audio") == "on",
        ),
        scan_id,
    )


@router.post("/recordings/{recording_id}/redactions", openapi_extra=access(Action.REDACT))
async def render_copy(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    data = await request.form()
    tracks = [str(value) for value in data.getlist("track")]
    form = Form({key: str(value) for key, value in data.items()
                 if key not in ("csrf_token", "track")})  # fmt: skip
    choices, scan_id = _choices(form, tracks)
    if form.ok:
        try:
            await run_in_threadpool(
                lambda: redactions.request_redaction(
                    system, user, recording_id, choices, user_actor(request, user),
                    scan_id=scan_id,
                )
            )  # fmt: skip
        except (InvalidInput, Conflict) as exc:
            form.errors["render"] = _sentence(exc.message)
    if not form.ok:
        return await _page(request, system, user, recording_id, errors=form.errors,
                           values=form.values)  # fmt: skip
    return redirect(request, f"/recordings/{recording_id}/redaction",
                    flash="Rendering the redacted copy: the original is unchanged.")  # fmt: skip


@router.post("/redactions/{redaction_id}/approval", openapi_extra=access(Action.APPROVE_REDACTION))
async def approve(
    redaction_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    actor = user_actor(request, user)
    try:
        done = await run_in_threadpool(
            redactions.approve_redaction, system, user, redaction_id, actor
        )
    except Conflict as exc:
        view = await run_in_threadpool(redactions.get_redaction, system, user, redaction_id, actor)
        return await _page(request, system, user, view.recording_id,
                           errors={"approve": _sentence(exc.message)})  # fmt: skip
    return redirect(request, f"/recordings/{done.recording_id}/redaction",
                    flash="Approved for release.")  # fmt: skip


@router.get("/redactions/{redaction_id}/media", openapi_extra=access(Action.STREAM))
async def media(
    redaction_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    """The redacted copy for the player, a piece at a time."""
    byte_range = parse_range(request.headers.get("range"))
    try:
        stream = await run_in_threadpool(
            lambda: redactions.open_copy_media(
                system, user, redaction_id, user_actor(request, user), byte_range
            )
        )
    except RangeNotSatisfiable as exc:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{exc.size}"})
    return footage_answer(stream, f"redacted-{redaction_id}")


@router.get(
    "/face-scans/{scan_id}/tracks/{track_id}/thumbnail", openapi_extra=access(Action.REDACT)
)
async def thumbnail(
    scan_id: str, track_id: int, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    data = await run_in_threadpool(
        scans.thumbnail, system, user, scan_id, track_id, user_actor(request, user)
    )
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})
