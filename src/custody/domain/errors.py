"""Typed refusals. Each carries a stable code; the web layer maps them to HTTP once."""

from __future__ import annotations


class CustodyError(Exception):
    """Base of every refusal the system gives on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CustodyError):
    code = "invalid_input"


class NotFound(CustodyError):
    code = "not_found"


class Conflict(CustodyError):
    code = "conflict"


class NotAuthenticated(CustodyError):
    code = "not_authenticated"


class NotPermitted(CustodyError):
    code = "not_permitted"


class UnknownCamera(CustodyError):
    code = "unknown_camera"


class UnknownDock(CustodyError):
    code = "unknown_dock"


class SignatureInvalid(CustodyError):
    code = "signature_invalid"


class ManifestInvalid(InvalidInput):
    code = "manifest_invalid"


class ChecksumMismatch(CustodyError):
    """A chunk's checksum did not match its bytes (tus answers 460)."""

    code = "checksum_mismatch"


class ContentMismatch(CustodyError):
    """A whole file's SHA-256 or size differs from what its manifest promised."""

    code = "content_mismatch"


class OffsetMismatch(Conflict):
    code = "offset_mismatch"


class RecordingConflict(Conflict):
    """The same recording id arrived with different bytes: refused and flagged."""

    code = "recording_conflict"


class UploadGone(CustodyError):
    """The upload was terminated or has expired."""

    code = "upload_gone"


class UploadLocked(CustodyError):
    """Another request is writing to this upload right now."""

    code = "upload_locked"


class ReceiptInvalid(CustodyError):
    code = "receipt_invalid"
