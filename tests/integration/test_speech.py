"""Searchable speech (issue 15, point 5), told as the people would see it through the services.

alice's camera heard her say "Police officer, stop where you are. Put the knife down now."
after its two-second pre-event buffer, which has no sound. She asks for a transcript; the
job writes down every word with its time and says the buffer had no sound. alice finds the
recording by the words "knife down"; charlie (another team) and audrey (an auditor, who
reads records, not footage) find nothing. bob, her supervisor, corrects a word: a new
version naming him, the old one kept; the search follows the correction. Footage with no
sound gets "no sound", footage that does not decode a clear failure, and a model file whose
hash differs is refused.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import jiwer
import pytest
from sqlalchemy import func, select, text

from custody.db.models.speech import Transcript
from custody.domain.actor import Actor
from custody.domain.clock import ManualClock
from custody.domain.errors import Conflict, InvalidInput, NotFound, NotPermitted
from custody.domain.speech import NO_SOUND, NO_SOUND_BUFFER, tokens
from custody.services.identity.users import principal_named
from custody.services.recordings.media import probe_recording
from custody.services.retention import sweep
from custody.services.speech import transcripts
from custody.services.speech.answers import TranscriptView
from custody.services.speech.model import MODEL_SHA256, ModelMismatch, model_path, verified_model
from custody.services.system import System
from tests.conftest import RecordedJobs
from tests.people import Force, make_force, store_recording
from tests.speech_clip import PRE_EVENT_SECONDS, Clip, make_clip, silent_film


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("speech"))


def _as(force: Force, name: str) -> tuple[Any, Actor]:
    return principal_named(force.system, name), Actor(f"user:{name}")


def _run_jobs(force: Force) -> None:
    """Run the transcriptions the requests queued, as a worker would."""
    queued = force.system.jobs
    assert isinstance(queued, RecordedJobs)
    while queued.transcripts:
        transcripts.run_transcription(force.system, queued.transcripts.pop(0), threads=2)


def _transcribed(force: Force, recording_id: str, who: str = "alice") -> TranscriptView:
    person, actor = _as(force, who)
    asked = transcripts.request_transcription(force.system, person, recording_id, actor)
    assert asked.state == "transcribing" and asked.version == 1 and not asked.current
    _run_jobs(force)
    return transcripts.get_transcript(force.system, person, recording_id, actor)


def _words(view: TranscriptView) -> list[tuple[float, float, str]]:
    return [word for line in view.lines for word in line.words]


def test_what_was_said_is_written_down_found_and_corrected(
    system: System, clip: Clip, clock: ManualClock
) -> None:
    force = make_force(system)
    rid = store_recording(force, clip.data, pre_event_seconds=PRE_EVENT_SECONDS)
    probe_recording(system, rid)
    view = _transcribed(force, rid)

    assert view.state == "complete", view.failure
    assert view.current and view.version == 1 and view.versions == [1]
    assert view.model_sha256 == MODEL_SHA256 == verified_model().sha256
    # The buffer is said to have no sound, and no word is written in it.
    assert view.lines[0].silent and view.lines[0].text == NO_SOUND_BUFFER
    assert view.lines[0].end == PRE_EVENT_SECONDS
    words = _words(view)
    assert words and all(start >= PRE_EVENT_SECONDS for start, _, _ in words)
    # The words, against the ground truth beside the footage.
    error = jiwer.wer(" ".join(tokens(clip.truth["text"])), " ".join(tokens(view.text)))
    assert error <= 0.2, (error, view.text)
    knife = next(w for w in words if tokens(w[2]) == ["knife"])
    said = next(p for p in clip.truth["phrases"] if "knife" in p["text"])
    assert said["start"] - 0.5 <= knife[0] <= said["end"]

    # Found by the words, by whom may hear it, and by no one else.
    alice, alice_actor = _as(force, "alice")
    hits = transcripts.search_spoken(system, alice, "Knife, down!", alice_actor)
    assert [hit.recording_id for hit in hits] == [rid]
    assert hits[0].at_seconds == knife[0] and "knife" in hits[0].text
    assert transcripts.search_spoken(system, alice, "firearm", alice_actor) == []
    for outsider in ("charlie", "audrey"):
        person, actor = _as(force, outsider)
        assert transcripts.search_spoken(system, person, "knife down", actor) == []
    audrey, audrey_actor = _as(force, "audrey")
    with pytest.raises(NotPermitted):
        transcripts.get_transcript(system, audrey, rid, audrey_actor)
    charlie, charlie_actor = _as(force, "charlie")
    with pytest.raises(NotFound):
        transcripts.get_transcript(system, charlie, rid, charlie_actor)

    # bob corrects a word: a new version in his name; the old one is kept as it was.
    bob, bob_actor = _as(force, "bob")
    corrected = view.text.replace(knife[2], "machete")
    fixed = transcripts.correct_transcript(system, bob, rid, corrected, 1, bob_actor)
    assert (fixed.version, fixed.corrects, fixed.current, fixed.made_by) == (2, 1, True, "user:bob")
    machete = next(w for w in _words(fixed) if w[2].startswith("machete"))
    assert machete[:2] == knife[:2]
    old = transcripts.get_transcript(system, alice, rid, alice_actor, version=1)
    assert not old.current and "knife" in old.text and old.versions == [1, 2]
    assert [
        h.recording_id for h in transcripts.search_spoken(system, alice, "machete", alice_actor)
    ] == [rid]
    assert transcripts.search_spoken(system, alice, "knife", alice_actor) == []

    # A correction of a version no longer current, or of nothing, changes nothing.
    with pytest.raises(Conflict):
        transcripts.correct_transcript(system, alice, rid, "something else", 1, alice_actor)
    with pytest.raises(InvalidInput):
        transcripts.correct_transcript(system, alice, rid, "   ", 2, alice_actor)
    with pytest.raises(NotFound):
        transcripts.correct_transcript(system, charlie, rid, "nothing", 2, charlie_actor)
    with pytest.raises(NotPermitted):
        transcripts.correct_transcript(system, audrey, rid, "nothing", 2, audrey_actor)
    assert transcripts.get_transcript(system, alice, rid, alice_actor).version == 2

    # Chosen words become a span of sound to mute in the redaction editor.
    erin, erin_actor = _as(force, "erin")
    index = [w[2] for w in _words(fixed)].index(machete[2])
    start, end = transcripts.mute_range(system, erin, rid, index, index, erin_actor)
    assert start == round(machete[0] - 0.1, 2) and end == round(machete[1] + 0.1, 2)
    with pytest.raises(InvalidInput):
        transcripts.mute_range(system, erin, rid, index, 10_000, erin_actor)

    # When the footage is deleted under the 31-day rule, what was said in it goes too.
    clock.advance(timedelta(days=40))
    assert sweep.sweep(system).deleted == [rid]
    with system.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Transcript)) == 0
        if system.engine.dialect.name == "sqlite":
            assert uow.session.scalar(text("SELECT count(*) FROM transcript_search")) == 0
    assert transcripts.search_spoken(system, erin, "machete", erin_actor) == []


def test_footage_with_no_sound_track_is_said_to_have_none(
    sqlite_system: System, tmp_path: Path
) -> None:
    force = make_force(sqlite_system)
    rid = store_recording(force, silent_film(tmp_path / "silent.mp4"), pre_event_seconds=0)
    view = _transcribed(force, rid)
    assert view.state == "no_sound" and view.failure is None
    assert [line.text for line in view.lines] == [NO_SOUND]
    assert view.text == ""


def test_footage_that_does_not_decode_fails_with_why(sqlite_system: System) -> None:
    force = make_force(sqlite_system)
    rid = store_recording(force, b"\x00\x01 not an mp4 at all" * 100)
    alice, actor = _as(force, "alice")
    asked = transcripts.request_transcription(sqlite_system, alice, rid, actor)
    # One job at a time per recording.
    with pytest.raises(Conflict):
        transcripts.request_transcription(sqlite_system, alice, rid, actor)
    _run_jobs(force)
    view = transcripts.get_transcript(sqlite_system, alice, rid, actor)
    assert view.id == asked.id and view.state == "failed" and not view.current
    assert view.failure and view.failure.startswith("the footage does not decode")
    assert view.lines == [] and view.text == ""
    # Nothing half-made is searchable.
    assert transcripts.search_spoken(sqlite_system, alice, "not an", actor) == []


def test_a_transcription_whose_worker_died_can_be_asked_for_again(
    sqlite_system: System, clock: ManualClock
) -> None:
    force = make_force(sqlite_system)
    rid = store_recording(force, b"footage")
    alice, actor = _as(force, "alice")
    lost = transcripts.request_transcription(sqlite_system, alice, rid, actor)
    clock.advance(timedelta(hours=1))
    with pytest.raises(Conflict):
        transcripts.request_transcription(sqlite_system, alice, rid, actor)
    clock.advance(transcripts.STALLED_AFTER)
    again = transcripts.request_transcription(sqlite_system, alice, rid, actor)
    assert (again.version, again.state) == (2, "transcribing")
    first = transcripts.get_transcript(sqlite_system, alice, rid, actor, version=1)
    assert first.id == lost.id and first.state == "failed"
    assert first.failure and "did not finish" in first.failure


def test_a_model_file_whose_hash_differs_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    copy.mkdir()
    for found in model_path().iterdir():
        if found.name == "vocabulary.txt":
            shutil.copyfile(found, copy / found.name)
        else:
            (copy / found.name).symlink_to(found)
    assert verified_model(copy).sha256 == MODEL_SHA256
    with (copy / "vocabulary.txt").open("a") as handle:
        handle.write("tampered\n")
    with pytest.raises(ModelMismatch, match=r"vocabulary\.txt .* has SHA-256"):
        verified_model(copy)
    (copy / "model.bin").unlink()
    with pytest.raises(ModelMismatch, match="cannot be read"):
        verified_model(copy)
