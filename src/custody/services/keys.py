"""The server's Ed25519 signing key: receipts and audit checkpoints are signed with it."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from custody.private import open_private, private_dir

SERVER_KEY_FILE = "server-ed25519.pem"


def server_key_path(keys_dir: Path) -> Path:
    return keys_dir / SERVER_KEY_FILE


def create_server_key(keys_dir: Path) -> Ed25519PrivateKey:
    """Make the server key once; an existing key is kept, never replaced."""
    path = server_key_path(keys_dir)
    if path.exists():
        return load_server_key(keys_dir)
    private_dir(keys_dir)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    temp = path.with_suffix(".tmp")
    fd = open_private(temp, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    return key


def load_server_key(keys_dir: Path) -> Ed25519PrivateKey:
    path = server_key_path(keys_dir)
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise FileNotFoundError(f"no server key at {path}: run `custody init` first") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key
