"""What the recordings area answers: a recording in a list, one recording, its tombstone.

The parts of a recording that people decide (categories, notes, bookmarks, evidence flags,
cases, holds, retention) come from `services.evidence.categories.lifecycle_view`, which
has already passed them through the access door; the models below only give them a shape.
Signed documents (the camera's manifest, the server's receipt, a deletion certificate)
and the GPS track copied from the manifest are shown exactly as stored: `Document`.
"""

from __future__ import annotations

from pydantic import Field

from custody.services.answers import Answer, When

# A JSON object kept as it was signed or stored, handed on unchanged.
Document = dict[str, object]


def _absent(value: object) -> bool:
    """A part the person may not know of is left out of the answer, not sent as null."""
    return value is None


class RecordingSummary(Answer):
    """A recording as a list shows it: what the camera recorded and what the server holds."""

    id: str
    camera: str = Field(description="the camera's serial")
    officer: str | None = Field(description="the officer's warrant number")
    started_at: When
    ended_at: When
    pre_event_seconds: int
    sha256: str
    size: int
    stored_at: When
    state: str = Field(description="stored, playable, unplayable or deleted")
    duration_seconds: float | None
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    has_thumbnail: bool
    media_error: str | None


class Note(Answer):
    """A note someone wrote on the recording."""

    id: int
    text: str
    author: str
    created_at: When


class Bookmark(Answer):
    """A moment of the recording someone marked."""

    id: int
    at_seconds: float
    label: str
    author: str
    created_at: When


class EvidenceFlag(Answer):
    """A standing evidence flag on the recording."""

    id: int
    reason: str
    flagged_by: str
    flagged_at: When


class EvidenceStatus(Answer):
    """Whether the recording is flagged as evidence, and by whom and why."""

    flagged: bool
    flags: list[EvidenceFlag]


class RetentionStatus(Answer):
    """When the recording may go and why, as this person may know it."""

    delete_due_at: When | None
    pending_deletion: bool
    rule: str
    reason: str
    review_due_at: When | None
    last_reviewed_at: When | None


class CaseRef(Answer):
    """A case the recording is in."""

    id: int
    reference: str
    title: str
    status: str


class Hold(Answer):
    """A legal or complaint hold that keeps the recording."""

    id: int
    recording_id: str
    kind: str
    reason: str
    concerns_officer_id: int | None
    placed_by: str
    placed_at: When
    lifted_at: When | None
    lifted_by: str | None
    lift_reason: str | None


class RecordingView(RecordingSummary):
    """One live recording: its documents, and what people decided about it."""

    receipt: Document = Field(description="the server's signed receipt, as stored")
    gps_track: list[Document] = Field(description="the manifest's GPS points")
    manifest: Document = Field(description="the camera's signed manifest, as stored")
    title: str | None
    reference: str | None
    tags: list[str]
    notes: list[Note]
    bookmarks: list[Bookmark]
    categories: list[str]
    access_class: str
    evidence: EvidenceStatus
    delete_due_at: When | None
    pending_deletion: bool
    retention: RetentionStatus
    cases: list[CaseRef] | None = Field(
        default=None,
        exclude_if=_absent,
        description="the cases it is in that you work on; absent if you may not see cases",
    )
    holds: list[Hold] | None = Field(
        default=None,
        exclude_if=_absent,
        description="the holds on it you may see; absent if you may not see holds",
    )


class TombstoneView(RecordingSummary):
    """What remains of a deleted recording: its record and the signed deletion certificate."""

    receipt: Document = Field(description="the server's signed receipt, as stored")
    deleted_at: When | None
    objects_removed_at: When | None
    deletion_certificate: Document | None
