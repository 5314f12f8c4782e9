"""Bearer secrets: shown once, stored only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

DOCK_TOKEN_PREFIX = "cdk_"
USER_TOKEN_PREFIX = "cut_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (no password stretching).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
