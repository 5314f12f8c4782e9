"""What the speech use cases answer."""

from __future__ import annotations

from pydantic import Field

from custody.services.answers import Answer


class LineView(Answer):
    """A line of the transcript: words said, or a span with no sound."""

    start: float
    end: float
    text: str
    silent: bool = Field(description="true for a span with no sound (the pre-event buffer)")
    first_word: int = Field(description="index of the line's first word; -1 when silent")
    words: list[tuple[float, float, str]] = Field(description="[start, end, word] in seconds")


class TranscriptView(Answer):
    """One version of a recording's transcript."""

    id: str
    recording_id: str
    version: int
    current: bool
    corrects: int | None = Field(description="the version this correction was made on")
    state: str = Field(description="transcribing, complete, no_sound or failed")
    failure: str | None
    original_sha256: str
    model_name: str
    model_sha256: str
    made_by: str
    made_at: str
    finished_at: str | None
    silent_until: float = Field(description="seconds from the start with no sound")
    audio_seconds: float | None
    compute_seconds: float | None
    text: str
    lines: list[LineView]
    versions: list[int] = Field(description="every version of this recording's transcript")


class SpokenHit(Answer):
    """A recording in which the words were said, and when first."""

    recording_id: str
    version: int
    at_seconds: float | None
    text: str = Field(description="the line the words were said in")
