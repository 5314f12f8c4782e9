"""What the audit trail answers: a recording's events, signed checkpoints, and proofs.

Every field a third party checks is given exactly as it was hashed or signed: times as
the ISO 8601 text that was hashed, an event's details as the JSON text that was hashed.
"""

from __future__ import annotations

from pydantic import Field

from custody.services.answers import Answer, When


class LoggedEvent(Answer):
    """An audit event as the log hashed it (the fields of `custody.audit.log.HASHED_FIELDS`)."""

    seq: int
    at: When
    tag: str = Field(description="source:subject:action, e.g. user:recording:view")
    actor: str
    object_type: str | None
    object_id: str | None
    allowed: bool
    reason: str | None
    address: str | None
    user_agent: str | None
    details: str = Field(description="the JSON text as stored and hashed")
    prev_hash: str
    hash: str = Field(description="SHA-256 of the RFC 8785 JSON of the fields above")


class TrailEvent(LoggedEvent):
    """An event in a recording's trail, with whether its fields still hash to its hash."""

    hash_ok: bool


class TrailRecording(Answer):
    """The recording a trail is about."""

    id: str
    sha256: str
    size: int
    camera: str | None
    officer: str | None
    started_at: When
    ended_at: When
    stored_at: When
    state: str


class SignedCheckpoint(Answer):
    """The size and Merkle root of the log, signed with the server's key."""

    log: str = Field(description="custody-audit")
    size: int
    root: str = Field(description="RFC 6962 Merkle tree hash, hex")
    signed_at: When
    signature: str = Field(description="Ed25519, base64, over the RFC 8785 JSON of the rest")


class PublishedCheckpoint(Answer):
    """A signed checkpoint with the id it is published under."""

    id: int
    log: str
    size: int
    root: str
    signed_at: When
    signature: str


class RecordingTrail(Answer):
    """Every audit event about a recording that the reader may see, and how to check them."""

    recording: TrailRecording
    events: list[TrailEvent]
    generated_at: When
    generated_by: str
    checkpoint: SignedCheckpoint | None = Field(description="the latest, if any is published")
    server_public_key: str
    how_to_check: list[str]


class InclusionProof(Answer):
    """Proof that an event is in the log under a signed checkpoint (RFC 6962)."""

    format: str = Field(description="custody-audit-inclusion-proof/1")
    event: LoggedEvent
    leaf_index: int
    audit_path: list[str]
    checkpoint: SignedCheckpoint
    server_public_key: str
    how_to_check: list[str]


class ConsistencyProof(Answer):
    """Proof that a newer checkpoint extends an older one (RFC 6962)."""

    format: str = Field(description="custody-audit-consistency-proof/1")
    old: SignedCheckpoint
    new: SignedCheckpoint
    path: list[str]
    server_public_key: str
    how_to_check: list[str]


class FoundEvent(LoggedEvent):
    """An event found by the auditor's search, with what it means in plain English."""

    what: str
    who: str


class FoundEvents(Answer):
    """One page of the auditor's search, newest first. `next_before` asks for the next
    page (events before that sequence number); null when this is the last."""

    items: list[FoundEvent]
    limit: int
    next_before: int | None


class VerificationView(Answer):
    """A check of the whole log asked for in the portal: how far it has got, what it found."""

    id: int
    requested_by: str
    requested_at: When
    started_at: When | None
    finished_at: When | None
    checked: int
    total: int
    checkpoints: int
    intact: bool | None = Field(description="null while it runs")
    fault: str | None
