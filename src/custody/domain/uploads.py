"""The life of an upload, as rules about its state and offset (tus 1.0 semantics)."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from custody.domain.errors import InvalidInput, OffsetMismatch, UploadGone

# An upload left unfinished this long is expired: the dock starts again, the camera still
# holds the footage. Long enough for a dock that lost its network over a weekend.
UPLOAD_LIFETIME = timedelta(days=7)
# Large enough for 4-hour recordings at high bitrates; anything bigger is a fault.
MAX_UPLOAD_BYTES = 64 * 1024**3


class UploadState(enum.StrEnum):
    RECEIVING = "receiving"
    COMMITTED = "committed"
    FAILED = "failed"
    TERMINATED = "terminated"


def check_length(length: int) -> None:
    """A new upload's declared length must be a credible recording size."""
    if length <= 0:
        raise InvalidInput("Upload-Length must be a positive number of bytes")
    if length > MAX_UPLOAD_BYTES:
        raise InvalidInput("Upload-Length exceeds the largest recording accepted")


def is_expired(expires_at: datetime, now: datetime) -> bool:
    return now >= expires_at


def check_patch(
    state: UploadState,
    expires_at: datetime,
    now: datetime,
    offset: int,
    length: int,
    claimed_offset: int,
    chunk_length: int | None,
) -> None:
    """May a PATCH that claims `claimed_offset` write `chunk_length` bytes now?"""
    if state is UploadState.TERMINATED or state is UploadState.FAILED:
        raise UploadGone("this upload was ended; start a new one")
    if state is UploadState.RECEIVING and is_expired(expires_at, now):
        raise UploadGone("this upload has expired; start a new one")
    if claimed_offset != offset:
        raise OffsetMismatch(f"Upload-Offset {claimed_offset} differs from the server's {offset}")
    if state is UploadState.COMMITTED:
        # Every byte is here: nothing more may be written.
        if chunk_length:
            raise OffsetMismatch("the upload is already complete")
        return
    if chunk_length is not None and offset + chunk_length > length:
        raise InvalidInput("the chunk would run past Upload-Length")


def expiry_for(now: datetime) -> datetime:
    """When an upload touched now expires."""
    return now + UPLOAD_LIFETIME
