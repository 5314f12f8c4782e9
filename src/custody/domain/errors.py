"""Typed refusals. Each carries a stable code; the web layer maps them to HTTP once."""

from __future__ import annotations

from datetime import timedelta


class CustodyError(Exception):
    """Base of every refusal the system gives on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CustodyError):
    code = "invalid_input"


class BadPage(InvalidInput):
    """A page of a list asked for by a cursor the list never gave, or at an offset deeper
    than a list is paged by offset."""


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

    def __init__(self, message: str, actual_sha256: str | None = None) -> None:
        super().__init__(message)
        # What the bytes did hash to, where the refuser hashed them (a store's put).
        self.actual_sha256 = actual_sha256


class OffsetMismatch(Conflict):
    code = "offset_mismatch"


class RecordingConflict(Conflict):
    """The same recording id arrived with different bytes: refused and flagged."""

    code = "recording_conflict"


class RecordingStored(Conflict):
    """A new upload for a recording the server holds already: fetch its receipt instead."""

    code = "recording_stored"

    def __init__(self, message: str, recording_id: str) -> None:
        super().__init__(message)
        self.recording_id = recording_id


class TooManyUploads(CustodyError):
    """A dock has as many open uploads, or staged bytes, as it may: finish or end some."""

    code = "too_many_uploads"


class Gone(CustodyError):
    """It was here and was deleted for good (a copy deleted with its original, say)."""

    code = "gone"


class UploadGone(CustodyError):
    """The upload was terminated or has expired."""

    code = "upload_gone"


class UploadLocked(CustodyError):
    """Another request is writing to this upload right now."""

    code = "upload_locked"


class ReceiptInvalid(CustodyError):
    code = "receipt_invalid"


class TooManySignIns(CustodyError):
    """Too many recent failed tries at a password, for this account or from this address."""

    code = "too_many_sign_ins"

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        seconds = self.retry_after_seconds
        wait = f"{seconds} second(s)" if seconds < 120 else f"{(seconds + 59) // 60} minute(s)"
        super().__init__(f"too many failed sign-ins: try again in {wait}")

    @property
    def retry_after_seconds(self) -> int:
        """For the Retry-After header: whole seconds, never zero."""
        return max(1, int(self.retry_after.total_seconds() + 0.999))


class ObjectCorrupt(CustodyError):
    """A stored object's bytes fail their authentication tag or their SHA-256: changed at rest."""

    code = "object_corrupt"


class KeyDestroyed(NotFound):
    """The object's data key is gone (its recording was deleted): its bytes are noise for ever."""

    code = "not_found"


class WrongKeyEncryptionKey(CustodyError):
    """The key-encryption key given is not the one that wrapped this installation's data keys."""

    code = "wrong_key_encryption_key"


class StoreUnavailable(CustodyError):
    """The object store did not answer, or answered that it is busy, after every retry."""

    code = "store_unavailable"


class NotReady(CustodyError):
    """This server node cannot serve now (its database does not answer): send elsewhere."""

    code = "not_ready"


class ObjectLocked(CustodyError):
    """The object store refused to delete an object that Object Lock still protects."""

    code = "object_locked"
