"""What ingest answers a dock: where a declared recording stands, receipts, the server's key."""

from __future__ import annotations

from pydantic import Field

from custody.services.answers import Answer, When


class SignedReceipt(Answer):
    """The server's signed word that it holds a recording's exact bytes (custody-receipt/1).

    A dock frees camera space only once the signature, SHA-256 and size check out against
    the camera's own manifest.
    """

    format: str = Field(description="custody-receipt/1")
    recording_id: str
    sha256: str
    signature: str = Field(
        description="Ed25519, base64, over the RFC 8785 JSON of the other fields"
    )
    size: int
    stored_at: When


class UploadInProgress(Answer):
    """An open tus upload of a declared recording, to resume from its offset."""

    upload_id: str
    offset: int
    length: int
    url: str


class ManifestStatus(Answer):
    """What the server already holds of a declared recording."""

    recording_id: str
    stored: bool
    receipt: SignedReceipt | None = Field(description="the receipt, once it is stored")
    uploads: list[UploadInProgress] = Field(description="open uploads, furthest first")


class ServerKey(Answer):
    """The key receipts and audit checkpoints are signed with."""

    algorithm: str = "Ed25519"
    public_key: str = Field(description="base64 of the raw 32-byte public key")
