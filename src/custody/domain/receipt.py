"""The receipt: the server's signed word that it holds a recording's exact bytes.

A dock frees camera space only for a receipt whose signature, SHA-256 and size it
has checked against the camera's own manifest (invariant 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.domain import signing
from custody.domain.clock import isoformat, parse_time
from custody.domain.errors import ReceiptInvalid, SignatureInvalid
from custody.domain.manifest import Manifest

RECEIPT_FORMAT = "custody-receipt/1"


@dataclass(frozen=True)
class Receipt:
    recording_id: str
    sha256: str
    size: int
    stored_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECEIPT_FORMAT,
            "recording_id": self.recording_id,
            "sha256": self.sha256,
            "size": self.size,
            "stored_at": isoformat(self.stored_at),
        }


def issue_receipt(receipt: Receipt, server_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed receipt document the server hands to the dock."""
    return signing.sign(receipt.to_json(), server_key)


def verify_receipt(
    document: Any, manifest: Manifest, server_public_key: Ed25519PublicKey
) -> Receipt:
    """Check a receipt against the server's key and the camera's manifest.

    Raises ReceiptInvalid when anything differs: a dock must then keep the footage.
    """
    if not isinstance(document, dict) or document.get("format") != RECEIPT_FORMAT:
        raise ReceiptInvalid("not a Custody receipt")
    try:
        signing.verify(document, server_public_key)
    except SignatureInvalid as exc:
        raise ReceiptInvalid(f"receipt signature: {exc.message}") from exc
    if document.get("recording_id") != manifest.recording_id:
        raise ReceiptInvalid("receipt is for another recording")
    if document.get("sha256") != manifest.sha256:
        raise ReceiptInvalid("receipt SHA-256 differs from the camera's manifest")
    if document.get("size") != manifest.size:
        raise ReceiptInvalid("receipt size differs from the camera's manifest")
    try:
        stored_at = parse_time(str(document.get("stored_at")))
    except ValueError as exc:
        raise ReceiptInvalid("receipt stored_at is not a time") from exc
    return Receipt(manifest.recording_id, manifest.sha256, manifest.size, stored_at)
