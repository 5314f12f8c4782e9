"""What was said, in the portal, in process: alice asks for her recording's transcript and
reads it beside the player, every word a moment to jump to, the silent buffer said to be
silent; erin chooses words and is taken to the redaction editor with their span filled in;
bob corrects a word, as a new version; the words-spoken search finds the recording for alice,
not for charlie; audrey, an auditor, reads no words."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from custody.camera.faces import write_face_footage
from custody.domain.speech import NO_SOUND_BUFFER
from custody.services.recordings.media import probe_recording
from custody.services.speech import transcripts
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import RecordedJobs
from tests.people import Force, make_force, store_recording
from tests.speech_clip import PRE_EVENT_SECONDS, Clip, make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("speech"))


@pytest.fixture
def force(sqlite_system: System) -> Force:
    return make_force(sqlite_system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system), follow_redirects=False) as test_client:
        yield test_client


def _run(force: Force) -> None:
    queued = force.system.jobs
    assert isinstance(queued, RecordedJobs)
    while queued.transcripts:
        transcripts.run_transcription(force.system, queued.transcripts.pop(0), threads=2)


def test_read_beside_the_player_mute_chosen_words_correct_and_search(
    client: TestClient, force: Force, clip: Clip
) -> None:
    alice, erin, bob = force.auth("alice"), force.auth("erin"), force.auth("bob")
    rid = store_recording(force, clip.data, pre_event_seconds=PRE_EVENT_SECONDS)
    probe_recording(force.system, rid)
    page = f"/recordings/{rid}"
    assert "No transcript yet" in client.get(page, headers=alice).text

    asked = client.post(f"{page}/transcripts", headers=alice)
    assert asked.status_code == 303
    assert "Writing down what was said" in client.get(page, headers=alice).text
    _run(force)

    shown = client.get(page, headers=alice).text
    assert NO_SOUND_BUFFER in html.unescape(shown)
    words = re.findall(r'data-seek="([\d.]+)" data-word="(\d+)">([^<]+)<', shown)
    assert [w[2] for w in words][:3] == ["Police", "officer,", "stop"]
    assert all(float(at) >= PRE_EVENT_SECONDS for at, _, _ in words)
    # alice may not redact: no form to mute words is offered to her; erin may.
    assert "Mute these words" not in shown
    assert "Mute these words" in client.get(page, headers=erin).text

    knife = next(int(i) for _, i, text in words if text == "knife")
    muted = client.post(f"{page}/transcript/mute", data={"first_word": knife,
                        "last_word": knife + 1}, headers=erin)  # fmt: skip
    assert muted.status_code == 303
    target = urlparse(muted.headers["location"])
    assert target.path == f"{page}/redaction"
    span = parse_qs(target.query)
    start, end = float(span["mute_from"][0]), float(span["mute_to"][0])
    assert PRE_EVENT_SECONDS < start < end
    editor = client.get(f"{target.path}?{target.query}", headers=erin).text
    assert f'name="mute_from" class="short" value="{span["mute_from"][0]}"' in editor
    refused = client.post(f"{page}/transcript/mute", data={"first_word": 1}, headers=erin)
    assert refused.status_code == 303 and "redaction" not in refused.headers["location"]

    # bob corrects: a new version in his name; a correction of nothing is refused.
    corrections = f"{page}/transcript/corrections"
    empty = client.post(corrections, data={"based_on": "1", "text": " "}, headers=bob)
    assert empty.status_code == 400 and "Give the words that were said" in empty.text
    form = re.search(r"<textarea[^>]*>([^<]*)</textarea>",
                     client.get(f"{page}/transcript", headers=bob).text)  # fmt: skip
    assert form is not None
    text = html.unescape(form[1])
    saved = client.post(corrections, data={"based_on": "1",
                        "text": text.replace("knife", "machete")}, headers=bob)  # fmt: skip
    assert saved.status_code == 303
    now = client.get(f"{page}/transcript", headers=bob).text
    assert "Transcript, version 2" in now and "machete" in now and "Corrected from version 1" in now
    assert "knife" in client.get(f"{page}/transcript?version=1", headers=bob).text

    # Found by the words said, by alice; charlie finds nothing; audrey reads no words.
    found = client.get("/search/spoken", params={"words": "machete down"}, headers=alice).text
    assert f"/recordings/{rid}#t=" in found and "1 recording" in found
    nothing = client.get("/search/spoken", params={"words": "machete down"},
                         headers=force.auth("charlie")).text  # fmt: skip
    assert rid not in nothing and "0 recordings" in nothing
    auditor = force.auth("audrey")
    assert "machete" not in client.get(page, headers=auditor).text
    assert client.get(f"{page}/transcript", headers=auditor).status_code == 403


def test_a_recording_with_sound_but_no_words_says_so_and_offers_nothing_to_mute(
    client: TestClient, force: Force, tmp_path: Path
) -> None:
    # The demo's footage (a tone, no speech) showed only its silent buffer: a finished
    # transcript that looked cut short, with a form to mute words that were not there.
    path = tmp_path / "tone.mp4"
    write_face_footage(
        path, started_at=datetime(2026, 10, 1, 9, tzinfo=UTC), duration=1.0,
        serial="BWV-0001", walkers=(), pillar=None, width=320, height=180,
    )  # fmt: skip
    rid = store_recording(force, path.read_bytes(), pre_event_seconds=0)
    probe_recording(force.system, rid)
    erin = force.auth("erin")
    assert client.post(f"/recordings/{rid}/transcripts", headers=erin).status_code == 303
    _run(force)
    page = client.get(f"/recordings/{rid}", headers=erin).text
    assert 'data-speech-state="no_words"' in page and "No words were heard." in page
    assert "Mute these words" not in page
    versions = client.get(f"/recordings/{rid}/transcript", headers=erin).text
    assert "No words were heard." in versions
