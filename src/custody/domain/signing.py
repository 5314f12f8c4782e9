"""Signed documents (manifests, receipts): Ed25519 over the RFC 8785 canonical JSON.

Canonical JSON makes a signature independent of key order and white space, so any
language with a JCS library can check a manifest or a receipt.
"""

from __future__ import annotations

import base64
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from custody.domain.errors import SignatureInvalid

SIGNATURE_FIELD = "signature"


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the document without its signature, canonicalised."""
    unsigned = {k: v for k, v in document.items() if k != SIGNATURE_FIELD}
    return rfc8785.dumps(unsigned)


def sign(document: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Return a copy of the document with its `signature` field set."""
    signature = key.sign(canonical_bytes(document))
    return {**document, SIGNATURE_FIELD: b64encode(signature)}


def verify(document: dict[str, Any], public_key: Ed25519PublicKey) -> None:
    """Raise SignatureInvalid unless the document's signature is the key's over its contents."""
    encoded = document.get(SIGNATURE_FIELD)
    if not isinstance(encoded, str):
        raise SignatureInvalid("the document carries no signature")
    try:
        public_key.verify(b64decode(encoded), canonical_bytes(document))
    except (InvalidSignature, ValueError) as exc:
        raise SignatureInvalid("the signature does not verify against the key") from exc


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as base64 of its 32 raw bytes: the form in device.json and the database."""
    return b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def load_public_key(text: str) -> Ed25519PublicKey:
    """Parse a base64 raw Ed25519 public key; SignatureInvalid if it is not one."""
    try:
        raw = b64decode(text)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise SignatureInvalid("not an Ed25519 public key") from exc


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
