"""The speech API: dana has a recording of her case transcribed over HTTP, reads it, finds it
by the words said; bob, the officer's supervisor, corrects it. Another recording, not in her
case, says the same words: once erin (professional standards) has it transcribed, dana's
search answers exactly as before, and its transcript is, for her, exactly what an unknown id
gets. Bad input gets a clear 4xx and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from custody.domain.actor import Actor
from custody.services.evidence import cases
from custody.services.identity.users import principal_named
from custody.services.speech import transcripts
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import RecordedJobs
from tests.people import Force, make_force, store_recording
from tests.speech_clip import PRE_EVENT_SECONDS, Clip, make_clip

API = "/api/v1"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("speech"))


@pytest.fixture
def force(sqlite_system: System) -> Force:
    return make_force(sqlite_system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system)) as test_client:
        yield test_client


def _run(force: Force) -> None:
    queued = force.system.jobs
    assert isinstance(queued, RecordedJobs)
    while queued.transcripts:
        transcripts.run_transcription(force.system, queued.transcripts.pop(0), threads=2)


def _transcribe(client: TestClient, force: Force, rid: str, who: str) -> dict[str, Any]:
    asked = client.post(f"{API}/recordings/{rid}/transcripts", headers=force.auth(who))
    assert asked.status_code == 202, asked.text
    assert asked.json()["state"] == "transcribing"
    again = client.post(f"{API}/recordings/{rid}/transcripts", headers=force.auth(who))
    assert again.status_code == 409 and again.json()["error"]["code"]
    _run(force)
    done = client.get(f"{API}/recordings/{rid}/transcript", headers=force.auth(who))
    assert done.status_code == 200, done.text
    answer: dict[str, Any] = done.json()
    return answer


def test_transcribe_read_search_and_correct_over_http_and_nothing_leaks(
    client: TestClient, force: Force, clip: Clip
) -> None:
    dana, erin = force.auth("dana"), force.auth("erin")
    mine = store_recording(force, clip.data, pre_event_seconds=PRE_EVENT_SECONDS)
    theirs = store_recording(force, clip.data, pre_event_seconds=PRE_EVENT_SECONDS)
    investigator = principal_named(force.system, "dana")
    case = cases.create_case(force.system, investigator, reference="01/2345/26",
                             title="Assault", actor=Actor("user:dana"))  # fmt: skip
    cases.add_to_case(force.system, investigator, case.id, mine, None, Actor("user:dana"))

    transcript = _transcribe(client, force, mine, "dana")
    assert transcript["state"] == "complete" and transcript["version"] == 1
    assert transcript["lines"][0]["silent"] and transcript["lines"][0]["end"] == PRE_EVENT_SECONDS
    search = f"{API}/speech/search"
    before = client.get(search, params={"words": "stop where you are"}, headers=dana)
    assert before.status_code == 200
    assert [hit["recording_id"] for hit in before.json()] == [mine]

    # The other recording, with the same words, transcribed at erin's asking.
    assert _transcribe(client, force, theirs, "erin")["state"] == "complete"
    both = client.get(search, params={"words": "stop where you are"}, headers=erin)
    assert sorted(hit["recording_id"] for hit in both.json()) == sorted([mine, theirs])
    after = client.get(search, params={"words": "stop where you are"}, headers=dana)
    assert after.status_code == 200 and after.json() == before.json()
    for path in ("/recordings/{}/transcript", "/recordings/{}/transcript?version=1"):
        hidden = client.get(API + path.format(theirs), headers=dana)
        unknown = client.get(API + path.format(UNKNOWN), headers=dana)
        assert hidden.status_code == unknown.status_code == 404
        assert (
            hidden.json()["error"]["message"].replace(theirs, UNKNOWN)
            == (unknown.json()["error"]["message"])
        )
    hidden = client.post(f"{API}/recordings/{theirs}/transcript/corrections",
                         json={"based_on": 1, "text": "nothing"}, headers=dana)  # fmt: skip
    assert hidden.status_code == 404 and "nothing" not in hidden.text

    # bob, her supervisor, corrects; audrey, an auditor, may not; the old version stays.
    fixed = client.post(f"{API}/recordings/{mine}/transcript/corrections",
                        json={"based_on": 1, "text": transcript["text"] + " Thank you."},
                        headers=force.auth("bob"))  # fmt: skip
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["version"] == 2 and fixed.json()["made_by"] == "user:bob"
    auditor = force.auth("audrey")
    refused = client.post(f"{API}/recordings/{mine}/transcript/corrections",
                          json={"based_on": 2, "text": "x"}, headers=auditor)  # fmt: skip
    assert refused.status_code == 403
    first = client.get(f"{API}/recordings/{mine}/transcript?version=1", headers=dana)
    assert first.json()["text"] == transcript["text"] and first.json()["versions"] == [1, 2]

    # Words chosen become a span to mute: for those who may redact (erin), not alice.
    span = client.get(f"{API}/recordings/{mine}/transcript/mute-range",
                      params={"first": 0, "last": 1}, headers=erin)  # fmt: skip
    assert span.status_code == 200 and 0 < span.json()["start"] < span.json()["end"]
    denied = client.get(f"{API}/recordings/{mine}/transcript/mute-range",
                        params={"first": 0, "last": 1}, headers=force.auth("alice"))  # fmt: skip
    assert denied.status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/speech/search?words=", None),
        ("get", "/speech/search?words=%3F%21", None),
        ("get", "/speech/search", None),
        ("get", "/recordings/{rid}/transcript?version=0", None),
        ("get", "/recordings/{rid}/transcript?version=x", None),
        ("get", "/recordings/{rid}/transcript", None),  # none made yet
        ("get", "/recordings/{rid}/transcript/mute-range?first=-1&last=2", None),
        ("post", "/recordings/{rid}/transcript/corrections", {"based_on": 1, "text": ""}),
        ("post", "/recordings/{rid}/transcript/corrections", {"based_on": "one", "text": "a"}),
        ("post", "/recordings/{rid}/transcript/corrections", {"based_on": 1, "text": "a"}),
    ],
)
def test_bad_input_gets_a_clear_refusal_and_changes_nothing(
    client: TestClient, force: Force, method: str, path: str, body: dict[str, Any] | None
) -> None:
    rid = store_recording(force, b"not footage")
    answer = client.request(method, API + path.format(rid=rid), json=body,
                            headers=force.auth("erin"))  # fmt: skip
    assert 400 <= answer.status_code < 500 and answer.status_code != 401, answer.text
    assert answer.json()["error"]["message"]
    assert (
        client.get(f"{API}/recordings/{rid}/transcript", headers=force.auth("erin")).status_code
        == 404
    )
