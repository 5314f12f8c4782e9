"""Custody's sealed objects are Tink's AES256_GCM_HKDF_1MB streaming AEAD, byte for byte.

Tink (Google's library, its C++ core behind the Python package) reads what Custody writes
and Custody reads what Tink writes: the format is the library's, not ours.
"""

from __future__ import annotations

import io
import os

import pytest

from custody.storage import segments

tink = pytest.importorskip("tink")
from tink import secret_key_access, streaming_aead  # noqa: E402
from tink.proto import aes_gcm_hkdf_streaming_pb2, common_pb2, tink_pb2  # noqa: E402

TYPE_URL = "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey"


def _tink(data_key: bytes) -> streaming_aead.StreamingAead:
    """Tink's streaming AEAD over the same data key, as a one-key keyset."""
    streaming_aead.register()
    key = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKey(
        version=0,
        key_value=data_key,
        params=aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingParams(
            ciphertext_segment_size=segments.SEGMENT,
            derived_key_size=segments.KEY_BYTES,
            hkdf_hash_type=common_pb2.SHA256,
        ),
    )
    keyset = tink_pb2.Keyset(
        primary_key_id=1,
        key=[
            tink_pb2.Keyset.Key(
                key_data=tink_pb2.KeyData(
                    type_url=TYPE_URL,
                    value=key.SerializeToString(),
                    key_material_type=tink_pb2.KeyData.SYMMETRIC,
                ),
                status=tink_pb2.ENABLED,
                key_id=1,
                output_prefix_type=tink_pb2.RAW,
            )
        ],
    )
    handle = tink.proto_keyset_format.parse(keyset.SerializeToString(), secret_key_access.TOKEN)
    return handle.primitive(streaming_aead.StreamingAead)


class _Kept(io.BytesIO):
    """A destination whose bytes outlive Tink closing it."""

    value = b""

    def close(self) -> None:
        self.value = self.getvalue()
        super().close()


@pytest.mark.parametrize("size", [0, 17, segments.Layout().first_plain, 3 * segments.SEGMENT + 5])
def test_tink_and_custody_read_each_others_objects(size: int) -> None:
    data_key, name = os.urandom(32), b"custody object 00ff"
    data = os.urandom(size)
    primitive = _tink(data_key)

    ours = b"".join(segments.encrypt([data], data_key, name))
    with primitive.new_decrypting_stream(io.BytesIO(ours), name) as opened:
        assert opened.read() == data

    kept = _Kept()
    with primitive.new_encrypting_stream(kept, name) as sealing:
        sealing.write(data)
    theirs = kept.value
    assert len(theirs) == len(ours) == segments.Layout().ciphertext_size(size)
    header = segments.Header.parse(theirs[: segments.HEADER_BYTES])
    aead = segments.segment_key(data_key, header.salt, name)
    count = segments.Layout().segments(size)
    body = [theirs]
    opened_ours = segments.decrypt_segments(body, aead, header, 0, count, len(theirs))
    assert b"".join(opened_ours) == data
