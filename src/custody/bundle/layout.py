"""The files of a court bundle, by name, and the few text formats they are written in.

The layout is documented for people who write their own verifier in docs/disclosure.md,
section "Court bundles"; this module and that section change together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

BUNDLE_FORMAT = "custody-bundle/1"
TRAIL_FORMAT = "custody-bundle-audit-trail/1"
BAGIT_VERSION = "1.0"

# Tag files, at the bag's root.
BAGIT_TXT = "bagit.txt"
BAG_INFO = "bag-info.txt"
MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"
# The server's Ed25519 signature (64 raw bytes) over the exact bytes of the tag manifest,
# which holds the SHA-256 of the payload manifest: one signature seals the whole bag.
TAGMANIFEST_SIGNATURE = "tagmanifest-sha256.txt.sig"

# Payload files, under data/.
DATA = "data/"
README = "data/README.txt"
INDEX = "data/bundle.json"
SERVER_KEY = "data/server-public-key.pem"
CONTINUITY = "data/continuity-statement.pdf"
SCHEDULE_CSV = "data/schedule.csv"
EXPORT_EVENTS = "data/export-events.json"

# A signed JSON document is stored three ways: as issued (with its base64 signature), the
# exact bytes the signature covers (RFC 8785 canonical JSON without the signature), and
# the raw 64-byte signature, so that `openssl pkeyutl -verify -rawin` can check it.
SIGNED = ".json"
CANONICAL = ".canonical.json"
SIGNATURE = ".sig"

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def recording_dir(recording_id: str) -> str:
    return f"data/recordings/{recording_id}/"


def clip_dir(clip_id: str) -> str:
    return f"data/clips/{clip_id}/"


# A redacted copy's folder: the copy, its redaction record (byte for byte as stored beside
# the copy) and its index entry.
REDACTED_COPY = "redacted.mp4"
REDACTION_RECORD = "redaction-record.json"
REDACTION_ENTRY = "redaction.json"
REDACTION_RECORD_FORMAT = "custody-redaction-record/1"


def redaction_dir(redaction_id: str) -> str:
    return f"data/redactions/{redaction_id}/"


def checkpoint_stem(size: int) -> str:
    return f"data/checkpoints/checkpoint-{size}"


def consistency_path(old_size: int, new_size: int) -> str:
    return f"data/checkpoints/consistency-{old_size}-{new_size}.json"


def signed_triple(stem: str) -> tuple[str, str, str]:
    """The document, its canonical bytes and its raw signature, for a stem."""
    return stem + SIGNED, stem + CANONICAL, stem + SIGNATURE


def is_safe_name(name: str) -> bool:
    """A payload path a bundle may hold: relative, under data/, no '..', no odd characters."""
    if not name.startswith(DATA) or name.endswith("/"):
        return False
    parts = name.split("/")
    return all(part not in ("", ".", "..") for part in parts) and not any(
        ch in name for ch in "\r\n\\%"
    )


def manifest_text(entries: Iterable[tuple[str, str]]) -> bytes:
    """A BagIt manifest (the same text `sha256sum -c` reads): `<sha256>  <path>` per line."""
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(entries)).encode("utf-8")


def parse_manifest(text: bytes) -> list[tuple[str, str]]:
    """(path, sha256) per line of a BagIt manifest; ValueError naming the line that is not one."""
    entries: list[tuple[str, str]] = []
    for number, line in enumerate(text.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, separator, path = line.partition("  ")
        if not separator or not SHA256_HEX.match(digest) or not path:
            raise ValueError(f"line {number} is not '<sha256>  <path>'")
        entries.append((path.lstrip("*"), digest))
    return entries


def bagit_txt() -> bytes:
    return f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n".encode()


def bag_info(fields: Iterable[tuple[str, str]]) -> bytes:
    """bag-info.txt: `Label: value` lines (values on one line)."""
    lines = []
    for label, value in fields:
        flat = " ".join(str(value).split())
        lines.append(f"{label}: {flat}\n")
    return "".join(lines).encode("utf-8")


def looks_like_uuid(text: str) -> bool:
    return bool(_UUID.match(text))
