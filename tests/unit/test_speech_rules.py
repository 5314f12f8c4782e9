"""The rules of a transcript: nothing written where there was no sound, lines to read, a
person's correction over the machine's times, where a phrase is said, what to mute, and who
may transcribe."""

from __future__ import annotations

import random
import time

import pytest

from custody.domain.access import (
    AccessClass,
    Action,
    RecordingFacts,
    Viewer,
    permitted,
)
from custody.domain.speech import (
    NO_SOUND_BUFFER,
    Word,
    check_correction,
    find_phrase,
    heard_after,
    keep_heard,
    lines,
    mute_span,
    realign,
    search_terms,
    tokens,
)

SAID = [
    Word(2.0, 2.5, "Police"),
    Word(2.5, 3.0, "officer,"),
    Word(3.0, 3.4, "stop."),
    Word(5.0, 5.2, "Put"),
    Word(5.2, 5.4, "the"),
    Word(5.4, 5.8, "knife"),
    Word(5.8, 6.1, "down."),
]


def test_words_placed_in_the_silent_buffer_are_not_kept() -> None:
    heard = keep_heard([Word(0.5, 1.2, "you"), Word(1.8, 2.4, "Police"), Word(3, 3.5, " ")], 2.0)
    assert heard == [Word(2.0, 2.4, "Police")]


def test_sound_starts_after_the_buffer_but_never_past_the_end() -> None:
    assert heard_after(30, 120.0) == 30
    assert heard_after(30, 12.5) == 12.5
    assert heard_after(0, None) == 0


def test_the_transcript_says_the_buffer_had_no_sound_then_reads_in_sentences() -> None:
    found = lines(SAID, 2.0)
    assert found[0].silent and found[0].text == NO_SOUND_BUFFER and found[0].end == 2.0
    assert [line.text for line in found[1:]] == ["Police officer, stop.", "Put the knife down."]
    assert [line.first for line in found[1:]] == [0, 3]
    assert lines(SAID, 0.0)[0].text == "Police officer, stop."


def test_a_long_pause_starts_a_new_line() -> None:
    found = lines([Word(0, 0.5, "Stop"), Word(3.0, 3.5, "there")], 0.0)
    assert [line.text for line in found] == ["Stop", "there"]


def test_a_corrected_word_keeps_the_time_of_the_word_it_replaces() -> None:
    fixed = realign(SAID, "Police officer, stop. Put the machete down.")
    assert [w.text for w in fixed] == ["Police", "officer,", "stop.", "Put", "the", "machete",
                                       "down."]  # fmt: skip
    assert fixed[5] == Word(5.4, 5.8, "machete")
    assert fixed[:5] == SAID[:5]


def test_words_put_in_place_of_one_share_its_span_and_added_words_sit_between() -> None:
    fixed = realign(SAID, "Police officer, stop. Put the big knife down right now.")
    texts = [w.text for w in fixed]
    assert texts == ["Police", "officer,", "stop.", "Put", "the", "big", "knife", "down",
                     "right", "now."]  # fmt: skip
    starts = [w.start for w in fixed]
    assert starts == sorted(starts)
    big = fixed[5]
    assert big.start >= 5.4 - 1e-9 and fixed[-1].end == 6.1


def test_a_correction_needs_words_and_holds_no_nul() -> None:
    with pytest.raises(ValueError, match="needs the words"):
        check_correction(" \n ")
    with pytest.raises(ValueError, match="NUL"):
        check_correction("stop\x00")
    with pytest.raises(ValueError, match="at most"):
        check_correction("word " * 5000)
    assert check_correction("  stop \n there ") == "stop there"


def test_a_phrase_is_found_where_it_is_first_said_whatever_its_punctuation() -> None:
    assert find_phrase(SAID, "KNIFE, down!") == 5.4
    assert find_phrase(SAID, "officer stop") == 2.5
    assert find_phrase(SAID, "knife up") is None
    assert tokens("Don't   stop, officer!") == ["don't", "stop", "officer"]


def test_search_terms_are_words_only() -> None:
    assert search_terms('"knife" OR down*') == ["knife", "or", "down"]
    with pytest.raises(ValueError, match="give a word"):
        search_terms("?! --")
    with pytest.raises(ValueError, match="at most"):
        search_terms("x" * 201)


def test_the_span_to_mute_covers_the_chosen_words_with_a_margin() -> None:
    assert mute_span(SAID, 5, 6) == (5.3, 6.2)
    assert mute_span(SAID, 0, 0) == (1.9, 2.6)
    assert mute_span(SAID, 6, 6, duration=6.15) == (5.7, 6.15)
    with pytest.raises(ValueError):
        mute_span(SAID, 3, 2)
    with pytest.raises(ValueError):
        mute_span(SAID, 0, 7)


@pytest.mark.parametrize(
    ("viewer", "may"),
    [
        (Viewer("officer", "Hackney", 2), True),  # her own footage: she annotates it
        (Viewer("supervisor", "Hackney", None), True),  # his team's: he annotates it
        (Viewer("disclosure", None, None, case_ids=frozenset({7})), True),  # redacts it
        (Viewer("investigator", None, None, case_ids=frozenset({7})), True),  # case work
        (Viewer("investigator", None, None, stated_reason=True), False),  # watches only
        (Viewer("auditor", None, None), False),  # records, not footage
        (Viewer("officer", "Camden", 1), False),  # someone else's footage
    ],
)
def test_whoever_may_annotate_or_redact_may_transcribe(viewer: Viewer, may: bool) -> None:
    recording = RecordingFacts(2, "Hackney", AccessClass.NORMAL, frozenset({7}))
    actions = permitted(viewer, recording)
    assert (Action.TRANSCRIBE in actions) is may
    assert (Action.TRANSCRIBE in actions) == bool(actions & {Action.ANNOTATE, Action.REDACT})


def test_a_correction_of_words_said_many_times_is_aligned_in_a_moment() -> None:
    # Exact matching took 36 s here (minutes for a full-length correction), holding the
    # recording's row: a person could stall the transcript for everyone with one form.
    said = [Word(i * 0.3, i * 0.3 + 0.2, w) for i, w in enumerate(("a the a a " * 525).split())]
    began = time.perf_counter()
    fixed = realign(said, "a " * 2000)
    assert time.perf_counter() - began < 5
    assert len(fixed) == 2000
    starts = [w.start for w in fixed]
    assert starts == sorted(starts)


def test_in_a_long_transcript_every_word_kept_keeps_its_time() -> None:
    pick = random.Random(5)
    said = [Word(i * 0.5, i * 0.5 + 0.4, f"w{pick.randrange(60)}") for i in range(2100)]
    typed = [w.text for w in said]
    typed[3], typed[1000], typed[2098] = "first", "middle", "last"
    fixed = realign(said, " ".join(typed))
    assert [w.text for w in fixed] == typed
    assert all(fixed[i] == said[i] for i in range(2100) if i not in (3, 1000, 2098))
    assert fixed[1000] == Word(500.0, 500.4, "middle")
