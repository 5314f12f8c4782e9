"""Tink's AES-GCM-HKDF streaming AEAD format (`AES256_GCM_HKDF_1MB`), byte for byte.

An object is a header and fixed-size segments, each sealed by AES-256-GCM on its own, so
that a range read opens only the segments it touches. This is the STREAM construction
(Hoang, Reyhanitabar, Rogaway and Vizár, "Online authenticated-encryption and its
nonce-reuse misuse-resistance", 2015) as Tink specifies it:

    header   = length (1 byte: 40) || salt (32 bytes) || nonce prefix (7 bytes)
    key      = HKDF-SHA256(ikm = data key, salt, info = associated data), 32 bytes
    segment i: AES-256-GCM(key, nonce = prefix || i (4 bytes, big-endian) || last (1 byte),
               plaintext, no associated data); ciphertext segments are `SEGMENT` bytes long,
               the first counted from the start of the object (so it holds the header), the
               last one shorter.

The counter stops reordering and the last-segment flag stops truncation; the random salt
gives every encryption of the same data key its own segment key. Tink's Python package
writes and reads this format but only as a sequential stream (no seekable decryption), so
Custody keeps its own reader and writer here and proves them against Tink's
(`tests/unit/test_encryption_format.py`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from custody.domain.errors import ObjectCorrupt

KEY_BYTES = 32
NONCE_PREFIX_BYTES = 7
TAG_BYTES = 16
HEADER_BYTES = 1 + KEY_BYTES + NONCE_PREFIX_BYTES
# Tink's AES256_GCM_HKDF_1MB: big enough that the tags cost 0.0015 %, small enough that a
# player's range request opens at most two extra megabytes.
SEGMENT = 1024 * 1024


@dataclass(frozen=True)
class Layout:
    """Where plaintext and ciphertext bytes sit, for one segment size."""

    segment: int = SEGMENT

    @property
    def plain(self) -> int:
        """Plaintext bytes in every segment but the first (which also holds the header)."""
        return self.segment - TAG_BYTES

    @property
    def first_plain(self) -> int:
        return self.segment - TAG_BYTES - HEADER_BYTES

    def segments(self, plaintext_size: int) -> int:
        if plaintext_size <= self.first_plain:
            return 1
        return 1 + -(-(plaintext_size - self.first_plain) // self.plain)

    def ciphertext_size(self, plaintext_size: int) -> int:
        return HEADER_BYTES + plaintext_size + TAG_BYTES * self.segments(plaintext_size)

    def plaintext_size(self, ciphertext_size: int) -> int:
        if ciphertext_size < HEADER_BYTES + TAG_BYTES:
            raise ObjectCorrupt("the object is shorter than an encrypted object can be")
        count = -(-ciphertext_size // self.segment)
        size = ciphertext_size - HEADER_BYTES - TAG_BYTES * count
        if size < 0 or self.ciphertext_size(size) != ciphertext_size:
            raise ObjectCorrupt("the object's length is not that of an encrypted object")
        return size

    def segment_of(self, plaintext_offset: int) -> int:
        if plaintext_offset < self.first_plain:
            return 0
        return 1 + (plaintext_offset - self.first_plain) // self.plain

    def plain_start(self, index: int) -> int:
        return 0 if index == 0 else self.first_plain + (index - 1) * self.plain

    def cipher_start(self, index: int) -> int:
        return HEADER_BYTES if index == 0 else index * self.segment


def segment_key(data_key: bytes, salt: bytes, associated_data: bytes) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=associated_data
    ).derive(data_key)
    return AESGCM(derived)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def encrypt(
    chunks: Iterable[bytes], data_key: bytes, associated_data: bytes, layout: Layout = Layout()
) -> Iterator[bytes]:
    """Yield the header, then each sealed segment, as the plaintext streams in."""
    salt = os.urandom(KEY_BYTES)
    prefix = os.urandom(NONCE_PREFIX_BYTES)
    aead = segment_key(data_key, salt, associated_data)
    yield bytes([HEADER_BYTES]) + salt + prefix
    buffer = bytearray()
    index = 0
    want = layout.first_plain
    for chunk in chunks:
        buffer += chunk
        # A full segment is sealed only once more bytes follow: the last one says it is last.
        while len(buffer) > want:
            # Sealed straight from the buffer (a view, not a copy), then dropped from it.
            with memoryview(buffer) as view, view[:want] as part:
                sealed = aead.encrypt(_nonce(prefix, index, False), part, None)
            del buffer[:want]
            yield sealed
            index += 1
            want = layout.plain
    yield aead.encrypt(_nonce(prefix, index, True), bytes(buffer), None)


@dataclass(frozen=True)
class Header:
    salt: bytes
    prefix: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Header:
        if len(raw) != HEADER_BYTES or raw[0] != HEADER_BYTES:
            raise ObjectCorrupt("the object's encryption header is not Custody's (Tink's)")
        return cls(raw[1 : 1 + KEY_BYTES], raw[1 + KEY_BYTES :])


def decrypt_segments(
    ciphertext: Iterable[bytes],
    aead: AESGCM,
    header: Header,
    first: int,
    stop: int,
    ciphertext_size: int,
    layout: Layout = Layout(),
) -> Iterator[bytes]:
    """Open segments `first` up to (not including) `stop` of an object `ciphertext_size`
    bytes long, from its ciphertext read from offset `first * segment` (so segment 0's
    bytes come after the header). Reads aligned to the segment size (the filesystem store
    reads 1 MiB blocks) hand each segment over without a copy."""
    last_index = -(-ciphertext_size // layout.segment) - 1
    source = iter(ciphertext)
    carry = b""
    for index in range(first, stop):
        need = min(ciphertext_size, (index + 1) * layout.segment) - index * layout.segment
        if len(carry) >= need:
            piece, carry = carry[:need], carry[need:]
        else:
            parts = [carry] if carry else []
            have = len(carry)
            while have < need:
                chunk = next(source, None)
                if chunk is None:
                    raise ObjectCorrupt(f"the object ends inside segment {index}")
                parts.append(chunk)
                have += len(chunk)
            if len(parts) == 1 and have == need:
                piece, carry = parts[0], b""
            else:
                joined = b"".join(parts)
                piece, carry = joined[:need], joined[need:]
        skip = HEADER_BYTES if index == 0 else 0
        with memoryview(piece) as view, view[skip:] as sealed:
            yield _open(aead, header, index, index == last_index, sealed)


def _open(aead: AESGCM, header: Header, index: int, last: bool, sealed: memoryview) -> bytes:
    try:
        return aead.decrypt(_nonce(header.prefix, index, last), sealed, None)
    except InvalidTag:
        raise ObjectCorrupt(
            f"segment {index} of the object fails its authentication tag: "
            "its bytes were changed at rest, or another key sealed them"
        ) from None
