"""The redaction editor of a recording: find the faces, tick whom to blur, add a manual box
and muted audio, render, preview the copy, and approve another person's copy.

Every read and change goes through `custody.services.redaction` (the door, the audit);
the page only turns forms into choices and refusals into sentences.
"""

from __future__ import annotations

import base64
import re

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.principal import Principal
from custody.services.recordings.reading import RangeNotSatisfiable
from custody.services.redaction import planning, preview, redactions, scans
from custody.services.redaction.records import Choices, ManualBox
from custody.web.deps import SystemDep, user_actor
from custody.web.guard import access
from custody.web.media import footage_answer, parse_range
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
PIXELS = 100_000
SECONDS = 1e6


def _sentence(message: str) -> str:
    return message[0].upper() + message[1:]


ROW_FIELDS = ("label", "from", "to", "x1", "y1", "x2", "y2", "ex1", "ey1", "ex2", "ey2")
ROW_KEY = re.compile(r"^box-(\d{1,3})-(" + "|".join(ROW_FIELDS) + r")$")
# The preview is shown in the page itself: an image the page carries, never a stored file.
PREVIEW_CSP = ("img-src 'self';", "img-src 'self' data:;")


def _rows(values: dict[str, str]) -> list[int]:
    """The numbers of the manual box rows the form holds (at least one, empty)."""
    found = sorted({int(m.group(1)) for key in values if (m := ROW_KEY.match(key))})
    return [n for n in found if 1 <= n <= planning.MAX_MANUAL][: planning.MAX_MANUAL] or [1]


async def _page(
    request: Request,
    system: SystemDep,
    user: Principal,
    recording_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    rows: list[int] | None = None,
    shown: preview.Preview | None = None,
) -> Response:
    actor = user_actor(request, user)
    found = await run_in_threadpool(scans.list_scans, system, user, recording_id, actor)
    copies = await run_in_threadpool(redactions.list_redactions, system, user, recording_id, actor)
    latest = next((scan for scan in found if scan.state == scans.COMPLETE), None)
    rate: float | None = latest.fps if latest else None
    if rate is None:
        try:
            rate = await run_in_threadpool(
                preview.editor_rate, system, user, recording_id, actor, None
            )
        except Conflict:
            rate = None
    response = render(
        request,
        "redaction.html",
        user,
        status=400 if errors else 200,
        area="search",
        title="Redaction",
        recording_id=recording_id,
        scans=found,
        scan=latest,
        rate=rate,
        copies=list(reversed(copies)),
        errors=errors or {},
        values=values or {},
        rows=rows or _rows(values or {}),
        preview=shown,
        preview_src=(
            "data:image/jpeg;base64," + base64.b64encode(shown.jpeg).decode() if shown else None
        ),
    )
    if shown is not None:
        policy = response.headers["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = policy.replace(*PREVIEW_CSP)
    return response


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


def _box(form: Form, n: int, prefix: str, required: bool) -> tuple[int, int, int, int] | None:
    edges = [
        form.number(f"box-{n}-{prefix}{edge}", low=0, high=PIXELS, what=what)
        for edge, what in (("x1", "the left edge"), ("y1", "the top edge"),
                           ("x2", "the right edge"), ("y2", "the bottom edge"))
    ]  # fmt: skip
    if all(e is None for e in edges) and not required:
        return None
    if any(e is None for e in edges):
        form.errors.setdefault(f"box-{n}-label", f"Box {n}: give all four edges of the box.")
        return None
    x1, y1, x2, y2 = (int(e or 0) for e in edges)
    return x1, y1, x2, y2


def _manual(form: Form, rows: list[int], rate: float) -> tuple[ManualBox, ...]:
    """One moving box per row: from a start box at one moment to an end box at another
    (the end box left empty: held still), in seconds turned into frames at `rate`."""
    boxes: list[ManualBox] = []
    for n in rows:
        typed = [form.values.get(f"box-{n}-{name}", "").strip() for name in ROW_FIELDS]
        if not any(typed):
            continue
        label = form.text(f"box-{n}-label", limit=80)
        if not label:
            form.errors[f"box-{n}-label"] = f"Box {n}: say what it hides, or empty its row."
            continue
        start = form.number(f"box-{n}-from", low=0, high=SECONDS, what="seconds", whole=False)
        end = form.number(f"box-{n}-to", low=0, high=SECONDS, what="seconds", whole=False)
        if start is None or end is None or end < start:
            form.errors.setdefault(
                f"box-{n}-label", f"Box {n}: give when it starts and ends, in seconds."
            )
            continue
        first = _box(form, n, "", True)
        last = _box(form, n, "e", False) or first
        if first is None or last is None:
            continue
        keys = ((round(start * rate), *first), (round(end * rate), *last))
        boxes.append(ManualBox(label, keys))
    return tuple(boxes)


def _choices(form: Form, tracks: list[str], rows: list[int], rate: float) -> Choices:
    chosen: list[int] = []
    for value in tracks:
        if not value.isdigit() or len(value) > 9:
            form.errors["tracks"] = "Choose people from the list."
            break
        chosen.append(int(value))
    merge: list[tuple[int, int]] = []
    for key, value in form.values.items():
        if key.startswith("same-") and value.strip():
            absorb, keep = key.removeprefix("same-"), value.strip()
            if not (absorb.isdigit() and keep.isdigit() and len(absorb + keep) < 18):
                form.errors["tracks"] = "Choose the same person from the list."
                break
            merge.append((int(keep), int(absorb)))
    # Folded latest first, so a chain (3 is 2, 2 is 1) ends as one track.
    merge.sort(key=lambda pair: -pair[1])
    # Ticking either part of one person blurs the whole person.
    into = {absorb: keep for keep, absorb in merge}
    chosen = sorted({_root(t, into) for t in chosen})
    mute: tuple[tuple[float, float], ...] = ()
    start = form.number("mute_from", low=0, high=SECONDS, what="seconds", whole=False)
    end = form.number("mute_to", low=0, high=SECONDS, what="seconds", whole=False)
    if start is not None or end is not None:
        if start is None or end is None:
            form.errors["mute_from"] = "Give both ends of the sound to mute."
        else:
            mute = ((start, end),)
    return Choices(
        blur_tracks=tuple(chosen),
        manual=_manual(form, rows, rate),
        mute=mute,
        everything=form.values.get("everything") == "on",
        remove_audio=form.values.get("remove_audio") == "on",
        merge=tuple(merge),
    )


def _root(track: int, into: dict[int, int]) -> int:
    """The track a merged track ends up in (a chain followed to its first)."""
    seen = set()
    while track in into and track not in seen:
        seen.add(track)
        track = into[track]
    return track


@router.post("/recordings/{recording_id}/redactions", openapi_extra=access(Action.REDACT))
async def render_copy(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    """Render (the default), preview a still, or add or remove a row of manual boxes: one
    form, so that nothing typed is lost between a preview and the render."""
    data = await request.form()
    tracks = [str(value) for value in data.getlist("track")]
    form = Form({key: str(value) for key, value in data.items()
                 if key not in ("csrf_token", "track")})  # fmt: skip
    action = form.values.pop("action", "render")
    rows = _rows(form.values)
    # So that the page shown again keeps who was ticked (a fresh page ticks everyone).
    form.values["tracks_sent"] = "1"
    form.values.update({f"track-{value[:9]}": "on" for value in tracks})
    if action == "add" and len(rows) < planning.MAX_MANUAL:
        return await _page(request, system, user, recording_id, values=form.values,
                           rows=[*rows, rows[-1] + 1])  # fmt: skip
    if action.startswith("remove-"):
        left = [n for n in rows if str(n) != action.removeprefix("remove-")]
        return await _page(request, system, user, recording_id, values=form.values,
                           rows=left or [1])  # fmt: skip
    scan_id = form.text("scan_id", limit=36)
    actor = user_actor(request, user)
    shown: preview.Preview | None = None
    try:
        rate = await run_in_threadpool(
            preview.editor_rate, system, user, recording_id, actor, scan_id
        )
        choices = _choices(form, tracks, rows, rate)
        if action == "preview":
            at = form.number("preview_at", low=0, high=SECONDS, what="seconds", whole=False)
            if form.ok:
                shown = await run_in_threadpool(
                    lambda: preview.preview_redaction(
                        system, user, recording_id, choices, actor, seconds=at or 0.0,
                        scan_id=scan_id,
                    )
                )  # fmt: skip
        elif form.ok:
            await run_in_threadpool(
                lambda: redactions.request_redaction(
                    system, user, recording_id, choices, actor, scan_id=scan_id
                )
            )
    except (InvalidInput, Conflict) as exc:
        form.errors["preview" if action == "preview" else "render"] = _sentence(exc.message)
    if not form.ok or shown is not None:
        return await _page(request, system, user, recording_id, errors=form.errors,
                           values=form.values, rows=rows, shown=shown)  # fmt: skip
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
