"""What the share use cases answer: to the disclosure officer, and to the recipient."""

from __future__ import annotations

from custody.services.answers import Answer, When


class SharedItem(Answer):
    """One exhibit of a share, as the officer sees it."""

    id: int
    reference: str | None
    description: str
    kind: str  # recording | clip | redaction
    recording_id: str
    clip_id: str | None
    redaction_id: str | None = None
    sha256: str
    size: int
    downloads: int


class ShareSummary(Answer):
    id: int
    case_id: int | None
    case_reference: str
    recipient_name: str
    recipient_email: str
    recipient_kind: str
    state: str  # active | expired | revoked
    downloads_allowed: bool
    download_limit: int | None
    created_by: str
    created_at: When
    expires_at: When
    revoked_at: When | None
    revoked_by: str | None
    items: int
    acknowledged_at: When | None


class ShareEvent(Answer):
    """Something done with a share: by the officer, the mail server or the recipient."""

    at: When
    what: str  # the audit tag, e.g. recipient:recording:stream
    actor: str
    allowed: bool
    item: str | None  # the exhibit's reference (or recording id) it concerned
    address: str | None
    user_agent: str | None
    reason: str | None


class ReceiptSummary(Answer):
    id: int
    acknowledged_at: When
    items: int


class ShareDetail(ShareSummary):
    message: str
    revoke_reason: str | None
    shared_items: list[SharedItem]
    receipts: list[ReceiptSummary]
    activity: list[ShareEvent]


class ShareCreated(Answer):
    """A new share. `link` is given only when it was not e-mailed: the officer sends it
    another way (it is shown once; only its hash is kept)."""

    share: ShareDetail
    mailed: bool
    link: str | None
    mail_problem: str | None


class IssuedCode(Answer):
    """A one-time code for the officer to pass on by another channel (no mail set up)."""

    code: str
    expires_at: When


class RecipientItem(Answer):
    id: int
    reference: str | None
    description: str
    kind: str
    sha256: str
    size: int
    may_download: bool
    downloads_left: int | None


class RecipientView(Answer):
    """What the recipient sees once they proved the code: their items and nothing else."""

    recipient_name: str
    case_reference: str
    case_title: str
    shared_by: str
    expires_at: When
    downloads_allowed: bool
    download_limit: int | None
    items: list[RecipientItem]
    receipt_id: int | None
    acknowledged_at: When | None
    # Footage released to the person it shows (a subject access request), not a case's.
    subject_access: bool = False


class LinkView(Answer):
    """What a live link tells whoever holds it, before the code: where the code goes."""

    masked_address: str
    mail: bool
    code_sent: bool


class StartedSession(Answer):
    secret: str
    expires_at: When


class ScheduleChoice(Answer):
    """A line of the case's schedule as the share form offers it."""

    id: int
    reference: str | None
    description: str
    kind: str
    recording_id: str
    use: str
    use_label: str
    may_leave: bool


class ReceiptCase(Answer):
    reference: str
    title: str


class ReceiptRecipient(Answer):
    name: str
    email: str
    kind: str


class ReceiptItem(Answer):
    reference: str | None
    description: str
    kind: str
    recording_id: str
    clip_id: str | None
    redaction_id: str | None = None
    sha256: str
    size: int
    downloads: int


class DeliveryReceiptDocument(Answer):
    """A delivery receipt as signed: Ed25519 (`server_key`) over the RFC 8785 canonical
    JSON of every field but `signature`."""

    kind: str
    version: int
    receipt: int
    share: int
    case: ReceiptCase
    recipient: ReceiptRecipient
    shared_by: str
    shared_at: When
    acknowledged_at: When
    address: str | None
    user_agent: str | None
    items: list[ReceiptItem]
    server_key: str
    signature: str
