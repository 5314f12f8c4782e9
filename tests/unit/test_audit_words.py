"""The audit trail in plain English, and one line per viewing rather than per byte range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custody.domain.audit_words import Happening, describe, readable, who

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_tags_read_as_plain_english_and_refusals_say_so() -> None:
    assert describe("user:recording:stream") == "played the footage"
    assert describe("user:recording:view", allowed=False) == "was refused: opened the recording"
    # A tag without words of its own is read from its parts, never dropped.
    assert describe("user:widget:polish") == "polish (widget)"


def test_actors_read_as_people_and_machines() -> None:
    assert who("user:dana") == "dana"
    assert who("dock:Hackney-1") == "dock Hackney-1"
    assert who("system") == "Custody"


def test_a_viewing_is_one_line_however_many_ranges_the_player_asked_for() -> None:
    events = [
        Happening(1, at(0), "dock:recording:ingest", "dock:Hackney-1", True),
        Happening(2, at(60), "user:recording:view", "user:dana", True),
        *(
            Happening(3 + i, at(60 + i), "user:recording:stream", "user:dana", True)
            for i in range(5)
        ),
        # Someone else's event in between does not split dana's viewing.
        Happening(8, at(63), "user:recording:view", "user:erin", True),
        Happening(9, at(64.5), "user:recording:stream", "user:dana", True),
        # An hour later is another viewing.
        Happening(10, at(130), "user:recording:stream", "user:dana", True),
        Happening(11, at(131), "user:recording:stream", "user:dana", False),
    ]
    lines = readable(events)
    assert [(line.who, line.what, line.requests) for line in lines] == [
        ("dock Hackney-1", "stored the footage, its hash checked against the camera's manifest", 1),
        ("dana", "opened the recording", 1),
        ("dana", "played the footage", 6),
        ("erin", "opened the recording", 1),
        ("dana", "played the footage", 1),
        ("dana", "was refused: played the footage", 1),
    ]
    viewing = lines[2]
    assert (viewing.first_seq, viewing.last_seq) == (3, 9)
    assert (viewing.started, viewing.ended) == (at(60), at(64.5))
