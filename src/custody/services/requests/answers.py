"""What the subject access use cases answer."""

from __future__ import annotations

from pydantic import Field

from custody.services.answers import Answer


class RequestView(Answer):
    """A subject access request, its statutory clock as of today, and where it stands."""

    reference: str
    requester_name: str
    requester_email: str
    description: str
    received_on: str
    due_on: str
    days_left: int
    late: bool
    extension_months: int
    extension_reason: str | None
    registered_by: str
    approved_by: str | None
    released_at: str | None
    closed_at: str | None
    closed_by: str | None
    close_record: str | None
    recordings: int
    step: str  # registered, approved, released, closed


class AttachedRecording(Answer):
    """A recording attached to a request, and where its redaction stands."""

    recording_id: str
    officer: str | None
    started_at: str
    ended_at: str
    redaction: str
    marked_by: str | None
    held: bool
    # The approved redaction whose copy is released in place of the original, if attached.
    redaction_id: str | None = None
    redacted_sha256: str | None = None
    # Approved redacted copies of this recording the officer may attach (newest first).
    copies: list[str] = Field(default_factory=list)


class Release(Answer):
    """The share that released the request's footage to the requester, as it stands."""

    share_id: int
    state: str  # active, expired, revoked
    expires_at: str
    items: int
    acknowledged_at: str | None


class RequestDetail(RequestView):
    attached: list[AttachedRecording]
    release: Release | None = None


class Released(Answer):
    """The request as released; the link itself only when it could not be e-mailed."""

    request: RequestDetail
    mailed: bool
    link: str | None
    mail_problem: str | None


class Candidate(Answer):
    """A recording that may show the requester: found by time, officer and place."""

    recording_id: str
    officer: str | None
    started_at: str
    ended_at: str
    attached: bool
