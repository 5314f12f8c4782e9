"""Speech in a recording, as plain rules: words with their times, the pre-event buffer that
has no sound, lines to read, a person's correction laid over the machine's times, where a
phrase is said and the span of sound to mute for chosen words.

A body-worn camera keeps a buffer of video from before the officer pressed record, without
sound. Nothing was heard there, so nothing may be written there: the transcript says so.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

NO_SOUND_BUFFER = "[no sound: pre-event buffer]"
NO_SOUND = "[no sound: the recording has no sound track]"
# A correction is a person's typing, not a book.
MAX_CORRECTION_CHARS = 20_000
MAX_QUERY_CHARS = 200
# Whisper's word times are rough by a frame or two: a mute reaches a little past each end.
MUTE_MARGIN_SECONDS = 0.1
# A new line after a sentence ends, or a pause, or this many words.
LINE_WORDS = 14
LINE_PAUSE_SECONDS = 1.0

_TOKEN = re.compile(r"[\w']+")


@dataclass(frozen=True)
class Word:
    """A word heard from `start` to `end` seconds into the recording."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Line:
    """A line of the transcript as a person reads it: its words (by index) or a silent span."""

    start: float
    end: float
    text: str
    first: int  # index of its first word (-1 for a silent span)
    words: tuple[Word, ...] = ()
    silent: bool = False


def tokens(text: str) -> list[str]:
    """The words of `text` as search and word error compare them: lower case, no punctuation."""
    return [token.strip("'") for token in _TOKEN.findall(text.lower()) if token.strip("'")]


def full_text(words: Sequence[Word]) -> str:
    """The words as one text (what the full-text index holds)."""
    return " ".join(word.text for word in words)


def heard_after(pre_event_seconds: float, duration: float | None) -> float:
    """Where sound starts: the end of the pre-event buffer, never past the recording's end."""
    start = max(0.0, float(pre_event_seconds))
    return min(start, duration) if duration is not None and duration >= 0 else start


def keep_heard(words: Sequence[Word], sound_from: float) -> list[Word]:
    """The words that lie where there was sound: nothing may be written in the silent buffer
    (a word a model placed there is invented), and times are clamped to be ordered."""
    kept: list[Word] = []
    for word in words:
        text = word.text.strip()
        if not text or not (math.isfinite(word.start) and math.isfinite(word.end)):
            continue
        if word.end <= sound_from:
            continue
        start = max(word.start, sound_from)
        kept.append(Word(round(start, 3), round(max(start, word.end), 3), text))
    return kept


def lines(words: Sequence[Word], sound_from: float) -> list[Line]:
    """The transcript as lines: first the silent buffer (if any), then words grouped at
    sentence ends and pauses, each line knowing its words' indexes for click-to-seek."""
    found: list[Line] = []
    if sound_from > 0:
        found.append(Line(0.0, sound_from, NO_SOUND_BUFFER, -1, silent=True))
    current: list[Word] = []
    first = 0
    for index, word in enumerate(words):
        if current and (
            len(current) >= LINE_WORDS or word.start - current[-1].end >= LINE_PAUSE_SECONDS
        ):
            found.append(_line(current, first))
            current, first = [], index
        current.append(word)
        if word.text[-1:] in ".?!":
            found.append(_line(current, first))
            current, first = [], index + 1
    if current:
        found.append(_line(current, first))
    return found


def _line(words: list[Word], first: int) -> Line:
    return Line(words[0].start, words[-1].end, full_text(words), first, tuple(words))


def _opcodes(old: list[str], new: list[str]) -> list[tuple[str, int, int, int, int]]:
    """How `old` becomes `new` (difflib's opcodes), in time bounded by their lengths.

    difflib's exact matching (no junk) takes minutes on words repeated many times, such as a
    correction of "a a a …" against a transcript rich in "a" (benchmarked: 36 s for 2,100
    words against 2,000), and a correction is typed by a person, holding the recording's
    row. So the longer side is difflib's `b`, where its own heuristic treats a word more
    common than one in a hundred as junk (matched only beside a rarer word); the words
    common to both ends, the whole of a usual correction, are matched first and exactly."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    middle_old, middle_new = old[head : len(old) - tail], new[head : len(new) - tail]
    swapped = len(middle_old) > len(middle_new)
    a, b = (middle_new, middle_old) if swapped else (middle_old, middle_new)
    found: list[tuple[str, int, int, int, int]] = []
    if head:
        found.append(("equal", 0, head, 0, head))
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(a=a, b=b, autojunk=True).get_opcodes():
        tag: str = op
        if swapped:
            tag = {"insert": "delete", "delete": "insert"}.get(op, op)
            a1, a2, b1, b2 = b1, b2, a1, a2
        found.append((tag, head + a1, head + a2, head + b1, head + b2))
    if tail:
        found.append(("equal", len(old) - tail, len(old), len(new) - tail, len(new)))
    return found


def check_correction(text: str) -> str:
    """A person's corrected text, or ValueError saying why it cannot be a transcript."""
    if "\x00" in text:
        raise ValueError("a transcript cannot hold a NUL character")
    if len(text) > MAX_CORRECTION_CHARS:
        raise ValueError(f"a correction is at most {MAX_CORRECTION_CHARS} characters")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ValueError("a correction needs the words that were said")
    return cleaned


def realign(old: Sequence[Word], corrected: str) -> list[Word]:
    """The corrected text's words with times taken from the machine's: a word kept keeps its
    time; words put in place of others share those others' span evenly; a word added where
    none was heard takes the moment between its neighbours. Times never go backwards."""
    new_texts = check_correction(corrected).split(" ")
    old_keys = [_key(word.text) for word in old]
    new_keys = [_key(text) for text in new_texts]
    placed: list[Word] = []
    for tag, a1, a2, b1, b2 in _opcodes(old_keys, new_keys):
        if tag == "equal":
            placed.extend(
                Word(old[a].start, old[a].end, new_texts[b])
                for a, b in zip(range(a1, a2), range(b1, b2), strict=True)
            )
            continue
        if tag == "delete":
            continue
        if a2 > a1:
            start, end = old[a1].start, old[a2 - 1].end
        else:
            start = old[a1 - 1].end if a1 > 0 else (old[0].start if old else 0.0)
            end = old[a1].start if a1 < len(old) else start
            end = max(start, end)
        count = b2 - b1
        step = (end - start) / count
        placed.extend(
            Word(round(start + i * step, 3), round(start + (i + 1) * step, 3), new_texts[b1 + i])
            for i in range(count)
        )
    return placed


def _key(text: str) -> str:
    return " ".join(tokens(text))


def find_phrase(words: Sequence[Word], query: str) -> float | None:
    """When the phrase `query` is first said (the start of its first word), or None."""
    wanted = tokens(query)
    if not wanted:
        return None
    said = [" ".join(tokens(word.text)) for word in words]
    for index in range(len(said) - len(wanted) + 1):
        if said[index : index + len(wanted)] == wanted:
            return words[index].start
    return None


def search_terms(query: str) -> list[str]:
    """The words to look for, or ValueError if there are none or too many characters."""
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"words to find are at most {MAX_QUERY_CHARS} characters")
    found = tokens(query)
    if not found:
        raise ValueError("give a word that was said")
    return found


def mute_span(
    words: Sequence[Word], first: int, last: int, duration: float | None = None
) -> tuple[float, float]:
    """The span of sound to silence for words `first`..`last` (indexes, inclusive), with a
    margin each side; ValueError if they are not words of this transcript."""
    if not (0 <= first <= last < len(words)):
        raise ValueError("choose words of this transcript, the first before the last")
    start = max(0.0, words[first].start - MUTE_MARGIN_SECONDS)
    end = words[last].end + MUTE_MARGIN_SECONDS
    if duration is not None:
        end = min(end, duration)
    if end <= start:
        end = start + MUTE_MARGIN_SECONDS
    return round(start, 2), round(end, 2)
