"""The embedded staging seals an upload as it arrives, and its commit is a rename: the stored
object is the staged file itself, whatever the chunks were, and a request that dies at any
byte, or whose bytes are refused, leaves the upload to resume from its durable offset."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.domain.errors import UploadGone, UploadLocked
from custody.storage.encryption import EncryptedStore
from custody.storage.filesystem import FilesystemStore
from custody.storage.kek import FileKek
from custody.storage.sealed_staging import SealedFilesystemStaging
from custody.storage.segments import HEADER_BYTES, Layout
from custody.storage.staging import FilesystemStaging, StagedMismatch
from tests.unit.test_encryption_store import MemoryKeys

# Small segments, so that a few kilobytes cross many boundaries.
SMALL = Layout(segment=256)
UPLOAD = "0123456789abcdef0123456789abcdef"
# The plaintext offsets where segments begin: where off-by-ones live.
EDGES = [SMALL.plain_start(k) for k in range(1, 12)]


def _installation(root: Path) -> tuple[EncryptedStore, SealedFilesystemStaging]:
    store = EncryptedStore(
        FilesystemStore(root / "objects"), MemoryKeys(), FileKek.create(root / "kek"), SMALL
    )
    return store, SealedFilesystemStaging(root / "uploads", store)


@pytest.fixture
def installation(tmp_path: Path) -> tuple[EncryptedStore, SealedFilesystemStaging]:
    return _installation(tmp_path)


def _patch(staging: SealedFilesystemStaging, data: bytes, offset: int, pieces: list[bytes]) -> int:
    """One PATCH that completes: its pieces sealed, kept; returns the new offset."""
    writer = staging.writer(UPLOAD, offset, len(data), hashlib.sha256(data).hexdigest())
    try:
        for piece in pieces:
            writer.write(piece)
        writer.keep()
        writer.acknowledged()
    finally:
        writer.close()
    return offset + sum(len(p) for p in pieces)


def _upload(staging: SealedFilesystemStaging, data: bytes, cuts: list[int], start: int = 0) -> None:
    offset = start
    for end in [*sorted(c for c in cuts if start < c < len(data)), len(data)]:
        # Each PATCH's body arrives in uneven pieces, as a socket gives them.
        body = data[offset:end]
        pieces = [body[i : i + 97] for i in range(0, len(body), 97)] or [b""]
        offset = _patch(staging, data, offset, pieces)


@settings(max_examples=60, deadline=None)
@given(
    size=st.one_of(st.sampled_from(EDGES), st.integers(1, 11 * SMALL.segment)),
    cuts=st.lists(
        st.one_of(st.sampled_from(EDGES), st.integers(1, 11 * SMALL.segment)), max_size=8
    ),
)
def test_whatever_the_chunks_the_stored_object_is_the_staged_file_moved(
    size: int, cuts: list[int]
) -> None:
    data = os.urandom(size)
    sha = hashlib.sha256(data).hexdigest()
    with tempfile.TemporaryDirectory() as root:
        store, staging = _installation(Path(root))
        staging.create(UPLOAD, size)
        _upload(staging, data, cuts)
        staged = os.stat(staging.sealed_path(UPLOAD))
        stored = staging.move_into(store, UPLOAD, size, sha, verified=True)
        assert stored.sha256 == sha and stored.size == size
        # Moved, not copied: the stored object is the very file the chunks were sealed into.
        assert os.stat(store.inner.path_of(sha)).st_ino == staged.st_ino
        assert b"".join(store.read(sha)) == data
        assert staging.staged_ids() == set()


def test_an_upload_sealed_in_staging_reads_as_one_sealed_by_the_store(
    installation: tuple[EncryptedStore, SealedFilesystemStaging],
) -> None:
    store, staging = installation
    data = os.urandom(5 * SMALL.segment)
    sha = hashlib.sha256(data).hexdigest()
    staging.create(UPLOAD, len(data))
    _upload(staging, data, [700, 701, EDGES[2]])
    # Unfinished, its bytes are no more readable at rest than a stored object's.
    at_rest = staging.sealed_path(UPLOAD).read_bytes()
    assert all(data[i : i + 32] not in at_rest for i in range(0, len(data) - 32, 32))
    staging.move_into(store, UPLOAD, len(data), sha, verified=True)
    # Same format, same size as the store's own sealing; a range read opens it.
    assert store.inner.size(sha) == SMALL.ciphertext_size(len(data))
    assert b"".join(store.read(sha, 300, 900)) == data[300:900]


@pytest.mark.parametrize(
    "durable",
    [0, 5, SMALL.first_plain, EDGES[1] - 1, EDGES[1], EDGES[1] + 1],
    ids=["start", "first segment", "its end", "a byte short", "a boundary", "a byte past"],
)
@pytest.mark.parametrize(
    "fault",
    ["died writing", "died after its fsync", "checksum refused"],
)
@pytest.mark.parametrize("sent", [1, 200, SMALL.segment * 3], ids=["a byte", "some", "segments"])
def test_a_request_that_fails_at_any_byte_resumes_from_the_durable_offset(
    installation: tuple[EncryptedStore, SealedFilesystemStaging],
    durable: int,
    fault: str,
    sent: int,
) -> None:
    store, staging = installation
    data = os.urandom(8 * SMALL.segment)
    sha = hashlib.sha256(data).hexdigest()
    staging.create(UPLOAD, len(data))
    if durable:
        _patch(staging, data, 0, [data[:durable]])
    # The failing request: right bytes that died with it, or wrong ones refused.
    bytes_sent = data[durable : durable + sent]
    if fault == "checksum refused":
        bytes_sent = bytes(b ^ 0xFF for b in bytes_sent)
    dying = staging.writer(UPLOAD, durable, len(data), sha)
    dying.write(bytes_sent)
    if fault == "died after its fsync":
        dying.keep()  # durable, but the offset never moved
    elif fault == "checksum refused":
        dying.drop()
    dying.close()

    _upload(staging, data, [durable + 333], start=durable)
    sealed_header = staging.sealed_path(UPLOAD).read_bytes()[:HEADER_BYTES]
    resealed = staging.reseal_path(UPLOAD).exists()
    staging.move_into(store, UPLOAD, len(data), sha, verified=True)

    assert b"".join(store.read(sha)) == data
    stored_header = b"".join(store.inner.read(sha, 0, HEADER_BYTES))
    sealed_a_segment = SMALL.segment_of(durable + sent) > SMALL.segment_of(durable)
    if fault == "checksum refused" and sealed_a_segment and durable > 0:
        # A segment was sealed with other bytes than those kept, under the nonce the kept
        # ones then took: the object is sealed afresh, under a new salt.
        assert resealed and stored_header != sealed_header
    else:
        # The same bytes sealed again seal the same (or the upload began afresh at 0): the
        # staged file is renamed as it is.
        assert not resealed and stored_header == sealed_header
    assert staging.staged_ids() == set()


def test_an_unverified_commit_opens_and_hashes_every_segment_and_refuses_other_bytes(
    installation: tuple[EncryptedStore, SealedFilesystemStaging],
) -> None:
    store, staging = installation
    data = os.urandom(3 * SMALL.segment)
    other = hashlib.sha256(b"what the manifest promised").hexdigest()
    staging.create(UPLOAD, len(data))
    # Staged as the object the manifest names; the bytes are not that object's.
    offset = 0
    for piece in (data[:500], data[500:]):
        writer = staging.writer(UPLOAD, offset, len(data), other)
        writer.write(piece)
        writer.keep()
        writer.close()
        offset += len(piece)
    with pytest.raises(StagedMismatch) as refused:
        staging.move_into(store, UPLOAD, len(data), other, verified=False)
    assert refused.value.sha256 == hashlib.sha256(data).hexdigest()
    assert not store.exists(other)


def test_an_unverified_commit_of_the_right_bytes_is_still_a_rename(
    installation: tuple[EncryptedStore, SealedFilesystemStaging],
) -> None:
    store, staging = installation
    data = os.urandom(3 * SMALL.segment + 5)
    sha = hashlib.sha256(data).hexdigest()
    staging.create(UPLOAD, len(data))
    _upload(staging, data, [400])
    staged = os.stat(staging.sealed_path(UPLOAD)).st_ino
    staging.move_into(store, UPLOAD, len(data), sha, verified=False)
    assert os.stat(store.inner.path_of(sha)).st_ino == staged
    assert b"".join(store.read(sha)) == data


def test_an_upload_staged_in_plaintext_before_this_staging_carries_on(tmp_path: Path) -> None:
    store, staging = _installation(tmp_path)
    data = os.urandom(4 * SMALL.segment)
    sha = hashlib.sha256(data).hexdigest()
    # A server of the version before staged the first part in plaintext.
    older = FilesystemStaging(tmp_path / "uploads")
    older.create(UPLOAD, len(data))
    writer = older.writer(UPLOAD, 0, len(data), sha)
    writer.write(data[:300])
    writer.keep()
    writer.close()

    _upload(staging, data, [600], start=300)
    assert staging.staged_ids() == {UPLOAD}
    staging.move_into(store, UPLOAD, len(data), sha, verified=False)
    assert b"".join(store.read(sha)) == data
    assert store.inner.size(sha) == SMALL.ciphertext_size(len(data))  # sealed in the store
    assert staging.staged_ids() == set()


def test_one_request_at_a_time_and_an_upload_whose_key_went_starts_again(
    installation: tuple[EncryptedStore, SealedFilesystemStaging],
) -> None:
    store, staging = installation
    data = os.urandom(2 * SMALL.segment)
    sha = hashlib.sha256(data).hexdigest()
    staging.create(UPLOAD, len(data))
    offset = _patch(staging, data, 0, [data[:300]])
    writer = staging.writer(UPLOAD, offset, len(data), sha)
    with pytest.raises(UploadLocked):
        staging.writer(UPLOAD, offset, len(data), sha)
    writer.close()
    # The object's key destroyed meanwhile (its bytes could never be read): start again.
    assert isinstance(store.keys, MemoryKeys)
    store.keys.destroy(sha)
    with pytest.raises(UploadGone):
        staging.writer(UPLOAD, offset, len(data), sha)
    _upload(staging, data, [100])
    staging.move_into(store, UPLOAD, len(data), sha, verified=True)
    assert b"".join(store.read(sha)) == data


def test_an_empty_recording_is_stored_sealed(
    installation: tuple[EncryptedStore, SealedFilesystemStaging],
) -> None:
    store, staging = installation
    sha = hashlib.sha256(b"").hexdigest()
    staging.create(UPLOAD, 0)
    staging.move_into(store, UPLOAD, 0, sha, verified=True)
    assert b"".join(store.read(sha)) == b""
    assert staging.staged_ids() == set()
