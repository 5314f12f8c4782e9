"""Speech: a recording's transcript, its versions and corrections, and the words-spoken search
(`services/speech/transcripts.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from custody.domain.access import Action
from custody.domain.errors import Conflict
from custody.domain.speech import MAX_CORRECTION_CHARS, MAX_QUERY_CHARS
from custody.services.speech import transcripts
from custody.services.speech.answers import SpokenHit, TranscriptView
from custody.web.deps import CurrentUser, SystemDep, user_actor
from custody.web.errors import errors_for
from custody.web.guard import access

router = APIRouter(tags=["speech"])

Version = Annotated[int, Field(ge=1, le=1_000_000)]
WordIndex = Annotated[int, Query(ge=0, le=10_000_000)]


class Correction(BaseModel):
    based_on: Version = Field(description="the version corrected (it must still be current)")
    text: str = Field(
        min_length=1, max_length=MAX_CORRECTION_CHARS, description="every word, as said"
    )


class MuteRange(BaseModel):
    start: float = Field(description="seconds: where to start muting")
    end: float = Field(description="seconds: where to stop")


@router.post(
    "/recordings/{recording_id}/transcripts",
    status_code=202,
    response_model=TranscriptView,
    summary="Write down what was said in a recording (a background job)",
    openapi_extra=access(Action.TRANSCRIBE),
    responses=errors_for(Conflict),
)
async def request_transcription(
    recording_id: str, request: Request, system: SystemDep, user: CurrentUser
) -> TranscriptView:
    return await run_in_threadpool(
        transcripts.request_transcription, system, user, recording_id, user_actor(request, user)
    )


@router.get(
    "/recordings/{recording_id}/transcript",
    response_model=TranscriptView,
    summary="A recording's transcript: the current version, or the one asked for",
    openapi_extra=access(Action.STREAM),
)
async def get_transcript(
    recording_id: str,
    request: Request,
    system: SystemDep,
    user: CurrentUser,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> TranscriptView:
    return await run_in_threadpool(
        lambda: transcripts.get_transcript(
            system, user, recording_id, user_actor(request, user), version=version
        )
    )


@router.post(
    "/recordings/{recording_id}/transcript/corrections",
    status_code=201,
    response_model=TranscriptView,
    summary="Correct the current transcript: a new version, naming who made it",
    openapi_extra=access(Action.TRANSCRIBE),
    responses=errors_for(Conflict),
)
async def correct_transcript(
    recording_id: str, body: Correction, request: Request, system: SystemDep, user: CurrentUser
) -> TranscriptView:
    return await run_in_threadpool(
        transcripts.correct_transcript,
        system,
        user,
        recording_id,
        body.text,
        body.based_on,
        user_actor(request, user),
    )


@router.get(
    "/recordings/{recording_id}/transcript/mute-range",
    response_model=MuteRange,
    summary="The span of sound to mute for words first..last, for a redaction's `mute`",
    openapi_extra=access(Action.REDACT),
)
async def mute_range(
    recording_id: str,
    request: Request,
    system: SystemDep,
    user: CurrentUser,
    first: WordIndex | None = None,
    last: WordIndex | None = None,
) -> MuteRange:
    # Words left out are refused by the service, after the door: a stranger to the recording
    # hears "no recording" whatever else is wrong with the question.
    start, end = await run_in_threadpool(
        transcripts.mute_range,
        system,
        user,
        recording_id,
        -1 if first is None else first,
        -1 if last is None else last,
        user_actor(request, user),
    )
    return MuteRange(start=start, end=end)


@router.get(
    "/speech/search",
    response_model=list[SpokenHit],
    summary="Recordings in which these words were said (a phrase), of those you may hear",
    openapi_extra=access(Action.LIST),
)
async def search_spoken(
    request: Request,
    system: SystemDep,
    user: CurrentUser,
    words: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
) -> list[SpokenHit]:
    return await run_in_threadpool(
        transcripts.search_spoken, system, user, words, user_actor(request, user)
    )
