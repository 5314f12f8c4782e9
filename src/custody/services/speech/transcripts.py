"""Transcripts: a job writes down what was said in a recording; people read, correct and
search it.

Asking for a transcript passes the door (TRANSCRIBE: whoever may annotate or redact the
recording) and is audited; the job decodes the original's sound (PyAV, 16 kHz mono) after
the camera's pre-event buffer, which has no sound and so gets no words, and runs the model
whose files' hashes Custody recorded. A recording with no sound track gets the answer
`no_sound`; footage that does not decode, or a model that is not the recorded one, leaves
the row `failed` with why. Reading a transcript is hearing the recording (the door's
STREAM) and is audited; a correction is a new version naming who made it, and becomes the
one searched.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, literal_column, select, text, update

from custody.db import search_index
from custody.db.models import Recording
from custody.db.models.speech import Transcript
from custody.domain import speech
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.domain.retention import DELETED
from custody.services.access import Sight, check_sight, open_recording, visible_recordings
from custody.services.recordings import search as finding
from custody.services.recordings.media import StoreReader
from custody.services.speech.answers import LineView, SpokenHit, TranscriptView
from custody.services.speech.audio import RATE, FootageUnreadable, decode_sound
from custody.services.speech.model import (
    MODEL_NAME,
    MODEL_SHA256,
    ModelMismatch,
    SpeechModel,
    load,
    verified_model,
)
from custody.services.system import System, UnitOfWork

REQUEST = "user:speech:transcribe"
VIEW = "user:speech:view"
CORRECT = "user:speech:correct"
SEARCH = "user:speech:search"
TRANSCRIBED = "system:speech:transcribed"
TRANSCRIBING, COMPLETE, NO_SOUND, FAILED = "transcribing", "complete", "no_sound", "failed"
# A transcription still running this long after it was asked for has lost its worker: the
# job takes well under real time, and no recording is longer than a camera's battery lasts.
STALLED_AFTER = timedelta(hours=6)
# A search answers this many recordings at most, newest first.
SEARCH_LIMIT = 50


def _words(row: Transcript) -> list[speech.Word]:
    return [speech.Word(w[0], w[1], w[2]) for w in json.loads(row.words or "[]")]


def _versions(uow: UnitOfWork, recording_id: str) -> list[int]:
    return list(
        uow.session.scalars(
            select(Transcript.version)
            .where(Transcript.recording_id == recording_id)
            .order_by(Transcript.version)
        )
    )


def _view(row: Transcript, versions: list[int]) -> TranscriptView:
    words = _words(row)
    if row.state == NO_SOUND:
        shown = [LineView(start=0.0, end=0.0, text=speech.NO_SOUND, silent=True, first_word=-1,
                          words=[])]  # fmt: skip
    elif row.state == COMPLETE:
        shown = [
            LineView(
                start=line.start,
                end=line.end,
                text=line.text,
                silent=line.silent,
                first_word=line.first,
                words=[(w.start, w.end, w.text) for w in line.words],
            )
            for line in speech.lines(words, row.silent_until)
        ]
    else:
        shown = []
    return TranscriptView(
        id=row.id,
        recording_id=row.recording_id,
        version=row.version,
        current=row.current,
        corrects=row.corrects,
        state=row.state,
        failure=row.failure,
        original_sha256=row.original_sha256,
        model_name=row.model_name,
        model_sha256=row.model_sha256,
        made_by=row.made_by,
        made_at=isoformat(row.made_at),
        finished_at=isoformat(row.finished_at) if row.finished_at else None,
        silent_until=row.silent_until,
        audio_seconds=row.audio_seconds,
        compute_seconds=row.compute_seconds,
        text=row.text or "",
        lines=shown,
        versions=versions,
    )


def request_transcription(
    system: System, principal: Principal, recording_id: str, actor: Actor
) -> TranscriptView:
    """Ask for what was said in a recording to be written down; the job runs after commit."""
    with system.unit_of_work() as uow:
        sight = open_recording(uow, principal, recording_id, Action.TRANSCRIBE, actor, REQUEST,
                               lock=True)  # fmt: skip
        recording = sight.recording
        busy = uow.session.scalars(
            select(Transcript).where(
                Transcript.recording_id == recording_id, Transcript.state == TRANSCRIBING
            )
        ).first()
        if busy is not None:
            if uow.now() - busy.made_at < STALLED_AFTER:
                raise Conflict(f"recording {recording_id} is being transcribed already")
            # Its worker died with it (a queue without leases): it will never finish.
            busy.state, busy.finished_at = FAILED, uow.now()
            busy.failure = "stopped: its worker did not finish it, and it was asked for again"
        versions = _versions(uow, recording_id)
        row = Transcript(
            id=str(uuid.uuid4()),
            recording_id=recording_id,
            version=(versions[-1] if versions else 0) + 1,
            corrects=None,
            current=False,
            original_sha256=recording.sha256,
            state=TRANSCRIBING,
            silent_until=speech.heard_after(
                recording.pre_event_seconds, recording.duration_seconds
            ),
            model_name=MODEL_NAME,
            model_sha256=MODEL_SHA256,
            made_by=actor.name,
            made_at=uow.now(),
        )
        uow.session.add(row)
        uow.session.flush()
        uow.audit(REQUEST, actor, object_type="recording", object_id=recording_id,
                  details={"transcript": row.id, "version": row.version,
                           "model_sha256": MODEL_SHA256})  # fmt: skip
        row_id = row.id
        uow.after_commit(lambda: system.jobs.transcribe(row_id))
        uow.commit()
        return _view(row, [*versions, row.version])


@functools.lru_cache(maxsize=2)
def _loaded(model: SpeechModel, threads: int | None) -> Any:
    # Loading takes a second or two; a worker keeps the model it has checked.
    return load(model, threads=threads)


def run_transcription(system: System, transcript_id: str, *, threads: int | None = None) -> None:
    """The job: decode the sound after the pre-event buffer, transcribe it word by word, and
    finish the row (complete, no_sound or failed with why)."""
    with system.unit_of_work() as uow:
        row = uow.session.get(Transcript, transcript_id)
        if row is None or row.state != TRANSCRIBING:
            return
        original, silent_until = row.original_sha256, row.silent_until
    began = time.perf_counter()
    try:
        model = verified_model()
        samples = decode_sound(StoreReader(system.store, original), skip_seconds=silent_until)
        if samples is None:
            _finish(system, transcript_id, NO_SOUND, None, [], 0.0, 0.0)
            return
        words = transcribe_sound(_loaded(model, threads), samples, silent_until)
    except ModelMismatch as exc:
        _finish(system, transcript_id, FAILED, str(exc), [], None, None)
        return
    except FootageUnreadable as exc:
        _finish(system, transcript_id, FAILED, f"the footage does not decode: {exc}", [],
                None, None)  # fmt: skip
        return
    except NotFound:
        _finish(system, transcript_id, FAILED, "the original is not in the store", [], None, None)
        return
    seconds = len(samples) / RATE
    _finish(system, transcript_id, COMPLETE, None, words, seconds, time.perf_counter() - began)


def transcribe_sound(model: Any, samples: Any, offset: float) -> list[speech.Word]:
    """The words heard in `samples` (16 kHz mono, starting `offset` seconds into the
    recording), with their times in the recording; none where there was no sound."""
    if len(samples) < RATE // 10:
        return []
    segments, _ = model.transcribe(
        samples,
        language="en",
        word_timestamps=True,
        # A beam of five (faster-whisper's default): a little slower than greedy, and it
        # hears short phrases of a synthetic voice far better (benchmarks/transcribe.py).
        beam_size=5,
        # Silero's voice detector (its weights inside faster-whisper's wheel) keeps Whisper
        # from hearing words in wind, engines and a camera's hum; each window is decoded
        # alone, so one misheard phrase is not carried into the next.
        vad_filter=True,
        condition_on_previous_text=False,
    )
    heard = [
        speech.Word(offset + float(word.start), offset + float(word.end), word.word.strip())
        for segment in segments
        for word in segment.words or ()
    ]
    return speech.keep_heard(heard, offset)


def _finish(
    system: System,
    transcript_id: str,
    state: str,
    failure: str | None,
    words: Sequence[speech.Word],
    audio_seconds: float | None,
    compute_seconds: float | None,
) -> None:
    with system.unit_of_work() as uow:
        row = uow.session.get(Transcript, transcript_id, with_for_update=True)
        if row is None or row.state != TRANSCRIBING:
            return
        row.state, row.failure, row.finished_at = state, failure, uow.now()
        row.audio_seconds = round(audio_seconds, 3) if audio_seconds is not None else None
        row.compute_seconds = round(compute_seconds, 3) if compute_seconds is not None else None
        if state in (COMPLETE, NO_SOUND):
            row.words = json.dumps([[w.start, w.end, w.text] for w in words],
                                   separators=(",", ":"))  # fmt: skip
            row.text = speech.full_text(words)
            _make_current(uow, row)
        uow.audit(
            TRANSCRIBED,
            Actor.system(),
            object_type="recording",
            object_id=row.recording_id,
            details={"transcript": row.id, "version": row.version, "state": state,
                     "words": len(words), "failure": failure},
        )  # fmt: skip
        uow.commit()


def _make_current(uow: UnitOfWork, row: Transcript) -> None:
    """This version becomes the one read and searched; the one before stays, not current."""
    uow.session.execute(
        update(Transcript)
        .where(Transcript.recording_id == row.recording_id, Transcript.id != row.id)
        .values(current=False)
    )
    row.current = True
    uow.session.flush()
    search_index.keep_sqlite(uow.session.connection(), row.recording_id, row.text)


def _open(
    uow: UnitOfWork,
    principal: Principal,
    recording_id: str,
    actor: Actor,
    action: Action,
    tag: str,
    version: int | None,
    *,
    lock: bool = False,
) -> Transcript:
    """A version of the transcript (the current one, else the newest) once the door lets the
    person do `action` to the recording (`lock`: and holds its row, for a change); "no
    transcript" otherwise."""
    open_recording(uow, principal, recording_id, action, actor, tag, lock=lock)
    row = _newest(uow, recording_id, version)
    if row is None:
        which = f" version {version}" if version is not None else ""
        raise NotFound(f"recording {recording_id} has no transcript{which}")
    return row


def _newest(uow: UnitOfWork, recording_id: str, version: int | None) -> Transcript | None:
    """A version of the recording's transcript: the one asked for, else the current one,
    else the newest."""
    query = select(Transcript).where(Transcript.recording_id == recording_id)
    if version is not None:
        query = query.where(Transcript.version == version)
    else:
        query = query.order_by(Transcript.current.desc(), Transcript.version.desc()).limit(1)
    return uow.session.scalars(query).first()


def get_transcript(
    system: System,
    principal: Principal,
    recording_id: str,
    actor: Actor,
    *,
    version: int | None = None,
) -> TranscriptView:
    """A recording's transcript (the current version, or the one asked for); reading what was
    said is hearing the recording, so the door's STREAM, and the reading is audited."""
    with system.unit_of_work() as uow:
        row = _open(uow, principal, recording_id, actor, Action.STREAM, VIEW, version)
        view = _read(uow, row, actor)
        uow.commit()
        return view


def current_transcript_heard(uow: UnitOfWork, sight: Sight, actor: Actor) -> TranscriptView | None:
    """The current transcript of a recording already opened in this unit of work (`sight`),
    if the door lets the person hear it: its reading audited there as `get_transcript`
    audits it; None if it has none."""
    check_sight(uow, sight, Action.STREAM, actor, VIEW)
    row = _newest(uow, sight.recording.id, None)
    return None if row is None else _read(uow, row, actor)


def _read(uow: UnitOfWork, row: Transcript, actor: Actor) -> TranscriptView:
    """A version of a transcript as read, the reading audited."""
    uow.audit(VIEW, actor, object_type="recording", object_id=row.recording_id,
              details={"transcript": row.id, "version": row.version})  # fmt: skip
    return _view(row, _versions(uow, row.recording_id))


def correct_transcript(
    system: System,
    principal: Principal,
    recording_id: str,
    corrected: str,
    based_on: int,
    actor: Actor,
) -> TranscriptView:
    """A person's correction of the current version: the next version, with the machine's
    times kept for the words kept, naming who made it. Correcting a version that is no longer
    current (someone corrected it meanwhile) is refused, so no one's work is lost silently."""
    with system.unit_of_work() as uow:
        # The recording's row lock keeps two corrections of one version from both landing.
        base = _open(uow, principal, recording_id, actor, Action.TRANSCRIBE, CORRECT, None,
                     lock=True)  # fmt: skip
        if base.state != COMPLETE or not base.current:
            raise Conflict(f"recording {recording_id} has no finished transcript to correct")
        if base.version != based_on:
            raise Conflict(
                f"version {based_on} is no longer the current transcript (version "
                f"{base.version} is): read it and correct that"
            )
        try:
            words = speech.realign(_words(base), corrected)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        versions = _versions(uow, recording_id)
        row = Transcript(
            id=str(uuid.uuid4()),
            recording_id=recording_id,
            version=versions[-1] + 1,
            corrects=base.version,
            current=False,
            original_sha256=base.original_sha256,
            state=COMPLETE,
            silent_until=base.silent_until,
            model_name=base.model_name,
            model_sha256=base.model_sha256,
            made_by=actor.name,
            made_at=uow.now(),
            finished_at=uow.now(),
            words=json.dumps([[w.start, w.end, w.text] for w in words], separators=(",", ":")),
            text=speech.full_text(words),
        )
        uow.session.add(row)
        uow.session.flush()
        _make_current(uow, row)
        uow.audit(CORRECT, actor, object_type="recording", object_id=recording_id,
                  details={"transcript": row.id, "version": row.version,
                           "corrects": base.version, "words": len(words)})  # fmt: skip
        view = _view(row, [*versions, row.version])
        uow.commit()
        return view


def mute_range(
    system: System,
    principal: Principal,
    recording_id: str,
    first: int,
    last: int,
    actor: Actor,
    *,
    version: int | None = None,
) -> tuple[float, float]:
    """The span of sound (seconds) to mute for words `first`..`last` of the transcript, for
    the redaction editor's choices; muting is redaction, so the door's REDACT."""
    with system.unit_of_work() as uow:
        row = _open(uow, principal, recording_id, actor, Action.REDACT, VIEW, version)
        recording = uow.session.get(Recording, recording_id)
        duration = recording.duration_seconds if recording is not None else None
        try:
            return speech.mute_span(_words(row), first, last, duration)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None


def search_spoken(
    system: System, principal: Principal, words: str, actor: Actor
) -> list[SpokenHit]:
    """The recordings in whose current transcript the words were said (as a phrase), newest
    first, of those the person may hear: the listing filter in SQL, then the door's STREAM
    for each, so no one learns what was said in footage they may not play."""
    try:
        terms = speech.search_terms(words)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    with system.unit_of_work() as uow:
        query = (
            select(Transcript.recording_id, Transcript.version, Transcript.words)
            .join(Recording, Recording.id == Transcript.recording_id)
            .where(
                # As the partial GIN index says it (WHERE current), so the planner can use it.
                Transcript.current,
                Recording.state != DELETED,
                visible_recordings(uow, principal),
            )
            .order_by(Recording.started_at.desc(), Recording.id)
            .limit(SEARCH_LIMIT * 2)
        )
        if uow.session.get_bind().dialect.name == "sqlite":
            # An FTS5 phrase of the words alone: nothing a person types is query syntax.
            fts = search_index.FTS_TABLE
            matching: Select[tuple[Any]] = (
                select(literal_column("recording_id"))
                .select_from(text(fts))
                .where(text(f"{fts} MATCH :phrase").bindparams(phrase=f'"{" ".join(terms)}"'))
            )
            query = query.where(Transcript.recording_id.in_(matching))
        else:
            query = query.where(
                text(
                    f"transcripts.{search_index.PG_COLUMN} @@ "
                    f"phraseto_tsquery('{search_index.CONFIG}', :phrase)"
                ).bindparams(phrase=" ".join(terms))
            )
        rows = list(uow.session.execute(query))
    playable = {
        card.id for card in finding.cards(system, principal, [r.recording_id for r in rows])
        if card.may(Action.STREAM)
    }  # fmt: skip
    hits: list[SpokenHit] = []
    for recording_id, version, stored in rows:
        if recording_id not in playable or len(hits) >= SEARCH_LIMIT:
            continue
        said = [speech.Word(w[0], w[1], w[2]) for w in json.loads(stored or "[]")]
        at = speech.find_phrase(said, " ".join(terms))
        line = next((ln.text for ln in speech.lines(said, 0.0)
                     if at is not None and ln.start <= at <= ln.end), "")  # fmt: skip
        hits.append(SpokenHit(recording_id=recording_id, version=version, at_seconds=at,
                              text=line))  # fmt: skip
    with system.unit_of_work() as uow:
        uow.audit(SEARCH, actor, object_type="search", object_id=None,
                  details={"words": " ".join(terms), "found": len(hits)})  # fmt: skip
        uow.commit()
    return hits
