"""What the disclosure area answers: clips, and a case's disclosure schedule."""

from __future__ import annotations

from pydantic import Field

from custody.services.answers import Answer, When


class ClipView(Answer):
    """A clip cut from a recording: a new object that names its original by its SHA-256."""

    id: str
    recording_id: str
    original_sha256: str = Field(description="the original's SHA-256 when the clip was cut")
    in_seconds: float = Field(description="the in point asked for, from the original's start")
    out_seconds: float = Field(description="the out point asked for, from the original's start")
    cut_start_seconds: float = Field(
        description="where the clip really starts in the original: the keyframe at or before "
        "the in point (a player starts at in_seconds - cut_start_seconds into the clip)"
    )
    starts_playing_at: float = Field(description="seconds into the clip where 'in' falls")
    method: str = Field(description="stream-copy: the original's own packets, not re-encoded")
    sha256: str
    size: int
    duration_seconds: float
    title: str
    made_by: str
    made_at: When
    deleted_at: When | None


class ScheduleLine(Answer):
    """One line of a case's disclosure schedule: a recording, a clip or an approved redacted
    copy, and how it is used.

    `use` is null for material nobody has marked yet; `suggested_reference` is the next free
    exhibit reference of its producer (the officer who recorded it) in the case."""

    item_id: int | None = Field(description="the schedule item; null until it is marked")
    kind: str = Field(description="recording, clip or redaction (an approved redacted copy)")
    recording_id: str
    clip_id: str | None
    redaction_id: str | None = Field(
        default=None, description="a redacted copy's id (its original is `recording_id`)"
    )
    use: str | None = Field(description="exhibit, unused_not_sensitive or unused_sensitive")
    use_label: str
    reference: str | None
    suggested_reference: str
    description: str
    officer: str | None = Field(description="the officer who recorded it: name (warrant)")
    started_at: When = Field(description="when the recording started")
    ended_at: When
    in_seconds: float | None = Field(description="a clip's in point in its recording")
    out_seconds: float | None
    sha256: str
    marked_by: str | None
    marked_at: When | None


class Schedule(Answer):
    """A case's disclosure schedule: exhibits by reference (LJ/2 before LJ/10), then unused
    material, not sensitive and sensitive, then what nobody has marked yet."""

    case_id: int
    case_reference: str
    case_title: str
    lines: list[ScheduleLine]
    printed_at: When


class CaseToMark(Answer):
    """An open case of a recording that the person may mark a clip of it on, and the
    reference the clip would be offered there."""

    case_id: int
    reference: str
    title: str
    suggested_reference: str
    use: str | None = Field(description="how the clip is marked there already, if it is")
