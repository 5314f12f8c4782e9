"""What was said: a recording's transcript page (its versions and the correction form), the
forms that ask for a transcript and turn chosen words into a muted span in the redaction
editor, and the words-spoken search.

Every read and change goes through `custody.services.speech.transcripts` (the door, the
audit); the recording page shows the current transcript beside the player itself.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action
from custody.domain.errors import Conflict, InvalidInput
from custody.domain.principal import Principal
from custody.domain.speech import MAX_CORRECTION_CHARS, MAX_QUERY_CHARS
from custody.services.recordings import search as finding
from custody.services.speech import transcripts
from custody.web.deps import SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.forms import Form
from custody.web.portal.pages import PortalRoute, PortalUser, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


def _sentence(message: str) -> str:
    return message[0].upper() + message[1:]


async def _page(
    request: Request,
    system: SystemDep,
    user: Principal,
    recording_id: str,
    *,
    version: int | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    actor = user_actor(request, user)
    shown = await run_in_threadpool(
        lambda: transcripts.get_transcript(system, user, recording_id, actor, version=version)
    )
    card = (await run_in_threadpool(finding.cards, system, user, [recording_id]))[0]
    return render(
        request,
        "transcript.html",
        user,
        status=400 if errors else 200,
        area="search",
        title=f"Transcript, version {shown.version}",
        recording_id=recording_id,
        transcript=shown,
        may_correct=card.may(Action.TRANSCRIBE),
        limit=MAX_CORRECTION_CHARS,
        errors=errors or {},
        values=values or {},
    )


@router.get("/recordings/{recording_id}/transcript", openapi_extra=access(Action.STREAM))
async def transcript_page(
    recording_id: str,
    request: Request,
    system: SystemDep,
    user: PortalUser,
    version: int | None = Query(None, ge=1, le=1_000_000),
) -> Response:
    return await _page(request, system, user, recording_id, version=version)


@router.post("/recordings/{recording_id}/transcripts", openapi_extra=access(Action.TRANSCRIBE))
async def transcribe(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    try:
        await run_in_threadpool(
            transcripts.request_transcription, system, user, recording_id,
            user_actor(request, user),
        )  # fmt: skip
    except Conflict as exc:
        return redirect(request, f"/recordings/{recording_id}#speech",
                        flash=_sentence(exc.message), kind="error")  # fmt: skip
    done = "Writing down what was said: the transcript appears here when the job is done."
    return redirect(request, f"/recordings/{recording_id}#speech", flash=done)


@router.post(
    "/recordings/{recording_id}/transcript/corrections", openapi_extra=access(Action.TRANSCRIBE)
)
async def correct(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    text = form.text("text", required="Give the words that were said.",
                     limit=MAX_CORRECTION_CHARS)  # fmt: skip
    based_on = form.number("based_on", low=1, high=1_000_000, what="the version")
    if form.ok and text is not None and based_on is not None:
        try:
            fixed = await run_in_threadpool(
                transcripts.correct_transcript, system, user, recording_id, text,
                int(based_on), user_actor(request, user),
            )  # fmt: skip
        except (InvalidInput, Conflict) as exc:
            form.errors["text"] = _sentence(exc.message)
        else:
            return redirect(request, f"/recordings/{recording_id}/transcript",
                            flash=f"Saved as version {fixed.version}.")  # fmt: skip
    return await _page(request, system, user, recording_id, errors=form.errors,
                       values=form.values)  # fmt: skip


@router.post("/recordings/{recording_id}/transcript/mute", openapi_extra=access(Action.REDACT))
async def mute_words(
    recording_id: str, request: Request, system: SystemDep, user: PortalUser
) -> Response:
    """Chosen words become a muted span, filled in on the redaction editor to review."""
    data = await request.form()
    form = Form({key: str(value) for key, value in data.items() if key != "csrf_token"})
    first = form.number("first_word", low=0, high=10_000_000, what="the first word")
    last = form.number("last_word", low=0, high=10_000_000, what="the last word")
    try:
        span = await run_in_threadpool(
            transcripts.mute_range, system, user, recording_id,
            -1 if first is None else int(first), -1 if last is None else int(last),
            user_actor(request, user),
        )  # fmt: skip
    except InvalidInput as exc:
        return redirect(request, f"/recordings/{recording_id}#speech",
                        flash=_sentence(exc.message), kind="error")  # fmt: skip
    query = urlencode({"mute_from": f"{span[0]:.2f}", "mute_to": f"{span[1]:.2f}"})
    told = "The chosen words are filled in as sound to mute: review and render."
    return redirect(request, f"/recordings/{recording_id}/redaction?{query}#choose", flash=told)


@router.get("/search/spoken", openapi_extra=access(Action.LIST))
async def spoken(
    request: Request,
    system: SystemDep,
    user: PortalUser,
    words: str = Query("", max_length=MAX_QUERY_CHARS),
) -> Response:
    hits = None
    error = ""
    if words.strip():
        try:
            hits = await run_in_threadpool(
                transcripts.search_spoken, system, user, words, user_actor(request, user)
            )
        except InvalidInput as exc:
            error = _sentence(exc.message)
    found = {}
    if hits:
        cards = await run_in_threadpool(finding.cards, system, user, [h.recording_id for h in hits])
        found = {card.id: card for card in cards}
    return render(
        request,
        "spoken.html",
        user,
        status=400 if error else 200,
        area="search",
        title="Words spoken",
        words=words,
        hits=hits,
        cards=found,
        error=error,
    )
