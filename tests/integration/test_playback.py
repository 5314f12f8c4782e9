"""Playing is not downloading, and a viewing is one audited event (issue 11, points 6 and 7).

Told as the people would see it over HTTP: alice may play her own footage but not copy it;
bob, her supervisor, may download the team's. A player's hundreds of range requests are one
viewing in the audit trail; each download is its own event.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from custody.domain.clock import ManualClock
from custody.services.identity.users import principal_named
from custody.services.recordings import reading, viewings
from custody.services.recordings.reading import PLAY_PIECE
from custody.services.recordings.viewings import VIEWING
from custody.services.system import System
from tests.apps import app_for
from tests.people import Force, make_force, store_recording
from tests.snapshots import world_of

CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@pytest.fixture
def force(system: System, request: pytest.FixtureRequest) -> Force:
    if "footage" in request.fixturenames:
        # A test of stored footage: its force is the one the footage was stored by.
        played: tuple[Force, str, bytes] = request.getfixturevalue("stored")
        return played[0]
    return make_force(system)


def _stored(system: System) -> tuple[Force, str, bytes]:
    force = make_force(system)
    data = os.urandom(2 * PLAY_PIECE + 12_345)
    return force, store_recording(force, data), data


@pytest.fixture
def stored(system: System) -> tuple[Force, str, bytes]:
    """A force and its stored footage, built once per test process and copied."""
    return world_of(_stored, system)


@pytest.fixture
def footage(stored: tuple[Force, str, bytes]) -> tuple[str, bytes]:
    """alice's recording, bigger than one piece a player is given."""
    return stored[1], stored[2]


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system)) as test_client:
        yield test_client


def _events(client: TestClient, force: Force, recording: str, tag: str) -> list[str]:
    """Who did `tag` to the recording, as its audit trail shows professional standards."""
    answer = client.get(f"/api/v1/recordings/{recording}/audit", headers=force.auth("erin"))
    assert answer.status_code == 200, answer.text
    return [event["actor"] for event in answer.json()["events"] if event["tag"] == tag]


@pytest.mark.parametrize("media", ["/api/v1/recordings/{id}/media", "/recordings/{id}/media"])
def test_a_role_that_may_play_but_not_download_never_gets_the_whole_original(
    client: TestClient, force: Force, footage: tuple[str, bytes], media: str
) -> None:
    recording, data = footage
    url = media.format(id=recording)
    asks = [{}, {"Range": "bytes=0-"}, {"Range": f"bytes=0-{len(data) - 1}"}]
    asks += [{"Range": f"bytes=-{len(data)}"}, {"Range": f"bytes={PLAY_PIECE}-"}]
    for ask in asks:
        answer = client.get(url, headers={**force.auth("alice"), **ask})
        assert answer.status_code == 206, (ask, answer.status_code)
        assert 0 < len(answer.content) <= PLAY_PIECE < len(data)
        assert answer.headers["content-disposition"].startswith("inline")
        found = CONTENT_RANGE.match(answer.headers["content-range"])
        assert found is not None and int(found.group(3)) == len(data)
        start, last = int(found.group(1)), int(found.group(2))
        assert answer.content == data[start : last + 1]
    # Asking for a copy is a download, which is not hers to do.
    refused = client.get(url, params={"download": "true"}, headers=force.auth("alice"))
    assert refused.status_code == 403


@pytest.mark.parametrize("media", ["/api/v1/recordings/{id}/media", "/recordings/{id}/media"])
def test_a_download_is_the_whole_original_as_an_attachment_for_those_who_may(
    client: TestClient, force: Force, footage: tuple[str, bytes], media: str
) -> None:
    recording, data = footage
    url = media.format(id=recording)
    copy = client.get(url, params={"download": "true"}, headers=force.auth("bob"))
    assert copy.status_code == 200 and copy.content == data
    assert copy.headers["content-disposition"] == f'attachment; filename="{recording}.mp4"'
    # Playing is playing for bob too: a piece, inline.
    played = client.get(url, headers=force.auth("bob"))
    assert played.status_code == 206 and len(played.content) == PLAY_PIECE


def test_the_portal_offers_a_download_button_only_to_those_who_may(
    client: TestClient, force: Force, footage: tuple[str, bytes]
) -> None:
    recording, _ = footage
    button = f'href="/recordings/{recording}/media?download=true"'
    bobs = client.get(f"/recordings/{recording}", headers=force.auth("bob"))
    alices = client.get(f"/recordings/{recording}", headers=force.auth("alice"))
    assert bobs.status_code == alices.status_code == 200
    assert button in bobs.text and "Download the original" in bobs.text
    assert "download=true" not in alices.text


def test_a_viewing_is_one_audited_event_however_many_ranges_it_asks_for(
    client: TestClient, force: Force, footage: tuple[str, bytes], clock: ManualClock
) -> None:
    recording, _ = footage
    url = f"/api/v1/recordings/{recording}/media"
    # A player seeking back and forth: 60 ranges in one viewing, through the API and portal.
    for n in range(60):
        path = url if n % 2 else f"/recordings/{recording}/media"
        ask = {"Range": f"bytes={n * 10_000}-{n * 10_000 + 9_999}"}
        assert client.get(path, headers={**force.auth("alice"), **ask}).status_code == 206
    assert _events(client, force, recording, "user:recording:stream") == ["user:alice"]
    # Another person's viewing is theirs.
    assert client.get(url, headers=force.auth("bob")).status_code == 206
    assert _events(client, force, recording, "user:recording:stream") == [
        "user:alice",
        "user:bob",
    ]
    # Within the window it is the same viewing; after it, a new one.
    clock.advance(VIEWING - timedelta(seconds=1))
    assert client.get(url, headers=force.auth("alice")).status_code == 206
    assert _events(client, force, recording, "user:recording:stream") == [
        "user:alice",
        "user:bob",
    ]
    clock.advance(timedelta(seconds=2))
    assert client.get(url, headers=force.auth("alice")).status_code == 206
    assert _events(client, force, recording, "user:recording:stream") == [
        "user:alice",
        "user:bob",
        "user:alice",
    ]


def test_each_download_is_its_own_event_and_resuming_one_is_not_another(
    client: TestClient, force: Force, footage: tuple[str, bytes]
) -> None:
    recording, data = footage
    url = f"/api/v1/recordings/{recording}/media"
    for _ in range(2):
        copy = client.get(url, params={"download": "true"}, headers=force.auth("bob"))
        assert copy.status_code == 200
    # The second copy broke off; the browser resumes it from where it stopped.
    resumed = client.get(
        url, params={"download": "true"}, headers={**force.auth("bob"), "Range": "bytes=5000-"}
    )
    assert resumed.status_code == 206 and resumed.content == data[5000:]
    assert _events(client, force, recording, "user:recording:download") == [
        "user:bob",
        "user:bob",
    ]
    # Playing is not downloading: it is audited as a viewing, not as a copy.
    client.get(url, headers=force.auth("bob"))
    assert _events(client, force, recording, "user:recording:stream") == ["user:bob"]
    assert len(_events(client, force, recording, "user:recording:download")) == 2


@pytest.mark.postgres
def test_two_first_ranges_racing_on_two_nodes_open_one_viewing(
    force: Force,
    footage: tuple[str, bytes],
    client: TestClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A browser opens a video with several requests at once, and behind a load balancer they
    # reach different nodes. Made deterministic: the first request has looked for an open
    # viewing and found none when the second one opens (and commits) a viewing of its own.
    # (SQLite's write transactions take the lock at their start, so there it cannot happen.)
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises write transactions from their start")
    recording, _ = footage
    alice = principal_named(force.system, "alice")
    looked, other_done = threading.Event(), threading.Event()
    real = viewings._opened

    def first_looks_then_waits(*args: object) -> bool:
        found = real(*args)  # type: ignore[arg-type]
        if threading.current_thread().name == "first" and not looked.is_set():
            looked.set()
            assert other_done.wait(timeout=30)
        return found

    monkeypatch.setattr(viewings, "_opened", first_looks_then_waits)

    def play(n: int) -> None:
        stream = reading.open_media(
            force.system, alice, recording, alice.actor("192.0.2.1"), (n * 1000, n * 1000 + 999)
        )
        assert len(b"".join(stream.chunks)) == 1000

    first = threading.Thread(target=play, args=(0,), name="first")
    first.start()
    assert looked.wait(timeout=30)
    play(1)
    other_done.set()
    first.join(timeout=30)
    assert not first.is_alive()
    assert _events(client, force, recording, "user:recording:stream") == ["user:alice"]


def test_a_new_stated_reason_is_a_new_viewing(
    client: TestClient, force: Force, footage: tuple[str, bytes]
) -> None:
    # dana, an investigator, plays footage she found by a search with a stated reason; the
    # reason is what the trail must record, so playing it for another reason is audited anew.
    recording, _ = footage
    url = f"/api/v1/recordings/{recording}/media"

    def play(reason: str) -> None:
        ask = {**force.auth("dana"), "Custody-Reason": reason, "Range": "bytes=0-999"}
        assert client.get(url, headers=ask).status_code == 206

    play("CAD 4411: assault on Mare Street")
    play("CAD 4411: assault on Mare Street")
    play("CAD 4412: robbery")
    answer = client.get(f"/api/v1/recordings/{recording}/audit", headers=force.auth("erin"))
    reasons = [
        event["reason"]
        for event in answer.json()["events"]
        if event["tag"] == "user:recording:stream" and event["actor"] == "user:dana"
    ]
    assert reasons == ["CAD 4411: assault on Mare Street", "CAD 4412: robbery"]
