"""tus staging in the bucket (S3Staging) on a real S3 server: parts and tails, requests that
die at any point before their offset moves, nodes that share nothing but the bucket.

Each writer here is what one PATCH opens at the database's offset; `keep` is the chunk
made durable, `acknowledged` the offset moved. A request that dies simply never calls
them. Writers made from separate S3Store objects stand for separate server nodes.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from custody.domain.errors import UploadGone, UploadLocked
from custody.storage.s3 import MIN_PART, S3Staging, S3Store
from custody.storage.staging import StagedMismatch

PART = MIN_PART
UPLOAD = "0123456789abcdef0123456789abcdef"
# The S3 staging keeps bytes as they come, whatever object they are meant to be.
ANY_SHA = "0" * 64


def _node(s3_url: str) -> S3Staging:
    store = S3Store.from_url(s3_url)
    store.part_size = PART
    return store.staging()


def _chunk(staging: S3Staging, offset: int, data: bytes, length: int) -> int:
    """One PATCH that completes: its bytes kept, its offset moved."""
    writer = staging.writer(UPLOAD, offset, length, ANY_SHA)
    try:
        writer.write(data)
        writer.keep()
        writer.acknowledged()
    finally:
        writer.close()
    return offset + len(data)


def _keys(staging: S3Staging) -> list[str]:
    return sorted(k.rsplit("/", 1)[1] for k in staging._keys(staging._key(UPLOAD, "")))


def test_an_upload_through_two_nodes_with_requests_dying_mid_part(s3_url: str) -> None:
    first, second = _node(s3_url), _node(s3_url)
    data = os.urandom(2 * PART + 1_234_567)
    length = len(data)
    sha = hashlib.sha256(data).hexdigest()
    first.create(UPLOAD, length)

    offset = _chunk(first, 0, data[: 3 << 20], length)  # 3 MiB: a tail, no part yet
    assert _keys(first) == ["info", "tail-0"]

    # A request crosses the first part boundary, sends part 1, then dies: no offset moved.
    dying = second.writer(UPLOAD, offset, length, ANY_SHA)
    dying.write(data[offset : offset + (4 << 20)])
    dying.close()
    # Another dies after making its bytes durable, before the offset moved: tail-0 grew.
    grown = first.writer(UPLOAD, offset, length, ANY_SHA)
    grown.write(data[offset : offset + 1000])
    grown.keep()
    grown.close()

    # The dock resumes at the database's offset, on the other node: the tail is read up to
    # the offset only, part 1 is sent again, and the old tail goes once the offset moved.
    offset = _chunk(second, offset, data[offset : offset + (4 << 20)], length)
    assert _keys(second) == ["info", "tail-1"]
    offset = _chunk(first, offset, data[offset:], length)
    assert offset == length

    stored = S3Store.from_url(s3_url)
    moved = second.move_into(stored, UPLOAD, length, sha, verified=False)
    assert moved.sha256 == sha
    assert hashlib.sha256(b"".join(stored.read(sha))).hexdigest() == sha
    assert not second.has(UPLOAD) and _keys(second) == []
    assert stored.client.list_multipart_uploads(Bucket=stored.bucket).get("Uploads", []) == []


def test_the_commit_rehashes_and_refuses_bytes_that_are_not_the_manifests(s3_url: str) -> None:
    node = _node(s3_url)
    data = os.urandom(PART + 10)
    node.create(UPLOAD, len(data))
    _chunk(node, 0, data, len(data))
    stored = S3Store.from_url(s3_url)
    wrong = hashlib.sha256(b"what the camera signed").hexdigest()
    with pytest.raises(StagedMismatch) as refused:
        node.move_into(stored, UPLOAD, len(data), wrong, verified=False)
    assert refused.value.sha256 == hashlib.sha256(data).hexdigest()
    assert list(stored.iter_objects()) == []
    # Completing the multipart upload again (a commit retried after a crash) is harmless.
    sha = hashlib.sha256(data).hexdigest()
    assert node.move_into(stored, UPLOAD, len(data), sha, verified=False).sha256 == sha


def test_missing_bytes_and_a_second_writer_are_refused(s3_url: str) -> None:
    node = _node(s3_url)
    node.create(UPLOAD, 10 * PART)
    _chunk(node, 0, b"x" * 1000, 10 * PART)
    writer = node.writer(UPLOAD, 1000, 10 * PART, ANY_SHA)
    with pytest.raises(UploadLocked):
        node.writer(UPLOAD, 1000, 10 * PART, ANY_SHA)
    writer.close()
    node.discard(UPLOAD)
    assert node.staged_ids() == set()
    with pytest.raises(UploadGone):
        node.writer(UPLOAD, 1000, 10 * PART, ANY_SHA)
    # At offset 0 nothing is lost: the first chunk makes the staging again.
    _chunk(node, 0, b"y" * 10, 10 * PART)
    assert node.staged_ids() == {UPLOAD}
