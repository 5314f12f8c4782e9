"""The life of an upload, as rules about its state and offset (tus 1.0 semantics)."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from custody.domain.errors import InvalidInput, OffsetMismatch, TooManyUploads, UploadGone

# An upload left untouched this long is expired: the dock starts again, the camera still
# holds the footage. Long enough for a dock that lost its network over a weekend.
UPLOAD_LIFETIME = timedelta(days=3)
# Every chunk pushes the expiry out, but never past this long after the upload was created:
# a dock trickling a byte a day cannot hold staged bytes for ever.
MAX_UPLOAD_AGE = timedelta(days=7)
# What one dock may hold open at a time: more uploads than its bays ever need at once, and
# the staged bytes of eight full 64 GiB cameras.
MAX_OPEN_UPLOADS_PER_DOCK = 64
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


MAX_STAGED_BYTES_PER_DOCK = 8 * MAX_UPLOAD_BYTES


def expiry_for(now: datetime, created_at: datetime) -> datetime:
    """When an upload created at `created_at` and touched now expires: UPLOAD_LIFETIME
    after its last touch, never later than MAX_UPLOAD_AGE after its creation."""
    return min(now + UPLOAD_LIFETIME, created_at + MAX_UPLOAD_AGE)


def check_dock_capacity(open_uploads: int, staged_bytes: int, length: int) -> None:
    """May a dock holding `open_uploads` uploads of `staged_bytes` declared bytes open one
    more of `length` bytes?"""
    if open_uploads >= MAX_OPEN_UPLOADS_PER_DOCK:
        raise TooManyUploads(
            f"this dock has {MAX_OPEN_UPLOADS_PER_DOCK} uploads open: finish or end one first"
        )
    if staged_bytes + length > MAX_STAGED_BYTES_PER_DOCK:
        raise TooManyUploads(
            f"this dock's open uploads would pass {MAX_STAGED_BYTES_PER_DOCK} bytes: "
            "finish or end one first"
        )
