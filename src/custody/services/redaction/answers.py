"""What the redaction use cases answer."""

from __future__ import annotations

from pydantic import Field

from custody.services.answers import Answer, When


class TrackView(Answer):
    """One person followed through a recording."""

    id: int
    first_frame: int
    last_frame: int
    first_seconds: float
    last_seconds: float
    detections: int
    best_score: float
    thumbnail_sha256: str | None = Field(description="the JPEG of the best detection's face")
    may_merge_into: list[int] = Field(
        default=[], description="tracks that ended before this one began: it may be one of them"
    )
    likely_same_as: int | None = Field(
        default=None,
        description="the track this one likely continues (found again soon after, where that "
        "one was heading); a suggestion only: merging is the reviewer's choice",
    )


class ScanView(Answer):
    """A face scan of a recording: waiting, done with its tracks, or failed with why."""

    id: str
    recording_id: str
    original_sha256: str
    state: str
    model_name: str
    model_sha256: str
    requested_by: str
    requested_at: When
    finished_at: When | None
    failure: str | None
    frame_count: int | None
    fps: float | None
    tracks: list[TrackView]


class RedactionView(Answer):
    """A redacted copy: a new object linked to its original by hash, with its record."""

    id: str
    recording_id: str
    scan_id: str | None
    original_sha256: str
    state: str
    requested_by: str
    requested_at: When
    finished_at: When | None
    failure: str | None
    sha256: str | None
    size: int | None
    record_sha256: str | None
    approved_by: str | None
    approved_at: When | None
    released: bool = Field(description="rendered and approved by a second person")
