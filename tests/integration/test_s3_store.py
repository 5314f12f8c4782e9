"""The S3 store against a real S3 server (Ceph RGW, tools/s3-server): everything the
filesystem store does, Object Lock refusing early deletes with Custody's own keys, and a
store that is down or busy getting retries, then a clear error.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from custody.domain.errors import ContentMismatch, NotFound, ObjectLocked, StoreUnavailable
from custody.storage import open_store
from custody.storage.s3 import MIN_PART, S3Store

SMALL_PART = MIN_PART


@pytest.fixture
def store(s3_url: str) -> S3Store:
    opened = open_store(s3_url)
    assert isinstance(opened, S3Store)
    opened.part_size = SMALL_PART
    return opened


def _versions(store: S3Store, sha: str) -> list[dict[str, Any]]:
    answer = store.client.list_object_versions(Bucket=store.bucket, Prefix=store.key_of(sha))
    return list(answer.get("Versions", [])) + list(answer.get("DeleteMarkers", []))


def _blocks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_put_read_range_list_and_delete_small_and_multipart_objects(store: S3Store) -> None:
    small = b"thumbnail bytes" * 100
    large = os.urandom(2 * SMALL_PART + 12345)  # three parts, the last one short
    put_small = store.put_stream([small])
    put_large = store.put_stream(_blocks(large, 1_000_003))  # sizes unlike the parts
    assert put_small.sha256 == hashlib.sha256(small).hexdigest()
    assert (put_large.sha256, put_large.size) == (hashlib.sha256(large).hexdigest(), len(large))
    # A large object by a name known beforehand, and one again: content addressing.
    again = store.put_stream(_blocks(large, 4 * 1024 * 1024), expected_sha256=put_large.sha256)
    assert again == put_large
    assert len(_versions(store, put_large.sha256)) == 1, "a second put made a second version"

    assert store.size(put_large.sha256) == len(large)
    assert b"".join(store.read(put_large.sha256)) == large
    assert b"".join(store.read(put_large.sha256, 5, 17)) == large[5:17]
    edge = SMALL_PART - 3
    assert b"".join(store.read(put_large.sha256, edge, edge + 10)) == large[edge : edge + 10]
    assert b"".join(store.read(put_large.sha256, len(large) - 4)) == large[-4:]
    assert b"".join(store.read(put_large.sha256, len(large))) == b""
    assert b"".join(store.read(put_large.sha256, 9, 9)) == b""
    assert sorted(store.iter_objects()) == sorted([put_small.sha256, put_large.sha256])

    assert store.delete(put_large.sha256) is True
    # Gone, not hidden behind a delete marker: no version of it is left.
    assert _versions(store, put_large.sha256) == []
    assert store.exists(put_large.sha256) is False
    assert store.delete(put_large.sha256) is False
    with pytest.raises(NotFound):
        store.size(put_large.sha256)
    with pytest.raises(NotFound):
        store.read(put_large.sha256)
    assert list(store.iter_objects()) == [put_small.sha256]
    # No temporary object or unfinished multipart upload was left behind.
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)
    assert [o["Key"] for o in listed["Contents"]] == [store.key_of(put_small.sha256)]
    pending = store.client.list_multipart_uploads(Bucket=store.bucket)
    assert pending.get("Uploads", []) == []


def test_bytes_that_do_not_hash_as_promised_store_nothing(store: S3Store, tmp_path: Any) -> None:
    large = os.urandom(SMALL_PART + 10)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ContentMismatch):
        store.put_stream(_blocks(large, 1 << 20), expected_sha256=wrong)
    with pytest.raises(ContentMismatch):
        store.put_stream([b"small"], expected_sha256=wrong)
    assert list(store.iter_objects()) == []
    assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []

    # put_file moves a verified local file in (as the filesystem store renames it).
    path = tmp_path / "verified.part"
    path.write_bytes(large)
    stored = store.put_file(path, hashlib.sha256(large).hexdigest())
    assert not path.exists()
    assert b"".join(store.read(stored.sha256)) == large


def test_object_lock_refuses_early_deletes_even_with_custodys_own_keys(store: S3Store) -> None:
    assert store.object_lock is True
    kept = store.put_stream([b"evidence" * 1000]).sha256
    store.protect(kept, timedelta(days=1), hold=False)
    with pytest.raises(ObjectLocked):
        store.delete(kept)
    assert store.exists(kept)
    # Custody's own keys, straight at S3: no shortening, no bypass, no version delete.
    key = store.key_of(kept)
    (version,) = _versions(store, kept)
    for attempt in (
        lambda: store.client.delete_object(
            Bucket=store.bucket,
            Key=key,
            VersionId=version["VersionId"],
            BypassGovernanceRetention=True,
        ),
        lambda: store.client.put_object_retention(
            Bucket=store.bucket,
            Key=key,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": "2020-01-01T00:00:00Z"},
        ),
    ):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] in ("AccessDenied", "InvalidArgument")
    # protect never shortens: a shorter keep leaves the longer one in force.
    store.protect(kept, timedelta(seconds=1), hold=False)
    until, hold = store.protection(kept)
    assert until is not None and hold is False
    assert until.timestamp() > time.time() + 23 * 3600
    assert b"".join(store.read(kept)) == b"evidence" * 1000


def test_a_legal_hold_refuses_deletion_until_lifted_and_retention_until_it_ends(
    store: S3Store,
) -> None:
    held = store.put_stream([b"held footage"]).sha256
    store.protect(held, timedelta(0), hold=True)
    with pytest.raises(ObjectLocked):
        store.delete(held)
    store.protect(held, timedelta(0), hold=False)  # the hold is lifted: due, deleted
    assert store.delete(held) is True

    due = store.put_stream([b"non-evidential footage"]).sha256
    store.protect(due, timedelta(seconds=2), hold=False)
    with pytest.raises(ObjectLocked):
        store.delete(due)
    until, _ = store.protection(due)
    assert until is not None
    # RGW keeps retention to the second: once its date has passed, the delete goes through.
    time.sleep(max(0.0, until.timestamp() - time.time()) + 1.1)
    assert store.delete(due) is True
    assert _versions(store, due) == []


def test_a_bucket_without_object_lock_says_so(s3_endpoint: str) -> None:
    bucket = f"custody-plain-{os.urandom(6).hex()}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    plain = S3Store(bucket, "p")
    assert plain.object_lock is False
    sha = plain.put_stream([b"x"]).sha256
    plain.protect(sha, timedelta(days=1), hold=True)  # nothing to set: a no-op
    assert plain.delete(sha) is True


class BusyS3(BaseHTTPRequestHandler):
    """Answers 503 SlowDown `busy` times, then relays to the real S3 server."""

    busy = 0
    seen = 0
    upstream = ""

    def _any(self) -> None:
        type(self).seen += 1
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if type(self).busy > 0:
            type(self).busy -= 1
            payload = b"<Error><Code>SlowDown</Code><Message>busy</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        # The Host header as the client signed it: RGW checks the signature against it.
        headers = dict(self.headers.items())
        answer = httpx.request(
            self.command, self.upstream + self.path, headers=headers, content=body
        )
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

    def log_message(self, *args: object) -> None:
        return None


@contextlib.contextmanager
def busy_s3(s3_endpoint: str) -> Iterator[tuple[str, type[BusyS3]]]:
    """A busy S3 server in front of the real one: its endpoint, and its handler's knobs."""
    handler = type("Busy", (BusyS3,), {"upstream": s3_endpoint.rstrip("/")})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()


@pytest.fixture
def busy_store(s3_url: str, s3_endpoint: str) -> Iterator[tuple[S3Store, type[BusyS3]]]:
    bucket = s3_url.split("/")[2]
    with busy_s3(s3_endpoint) as (endpoint, handler):
        yield S3Store(bucket, "busy", endpoint_url=endpoint, max_attempts=3), handler


def test_a_busy_store_is_retried_and_then_a_clear_error(
    busy_store: tuple[S3Store, type[BusyS3]],
) -> None:
    store, proxy = busy_store
    stored = store.put_stream([b"footage"])
    proxy.busy, proxy.seen = 2, 0  # two 503s, then the real answer: the third attempt reads
    assert b"".join(store.read(stored.sha256)) == b"footage"
    assert proxy.seen == 3

    proxy.busy, proxy.seen = 100, 0
    with pytest.raises(StoreUnavailable) as refused:
        store.read(stored.sha256)
    assert proxy.seen == 3, "retries are bounded"
    assert "503" in refused.value.message and store.bucket in refused.value.message


def test_a_store_that_is_down_is_a_clear_error() -> None:
    with socket_nobody_listens() as port:
        store = S3Store("down", "", endpoint_url=f"http://127.0.0.1:{port}", max_attempts=2)
        with pytest.raises(StoreUnavailable) as refused:
            store.put_stream([b"x"])
    assert "unreachable" in refused.value.message


@contextlib.contextmanager
def socket_nobody_listens() -> Iterator[int]:
    """A local port that refuses connections for the length of the block."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield int(bound.getsockname()[1])
