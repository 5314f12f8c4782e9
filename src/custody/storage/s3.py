"""The S3 store: `CUSTODY_STORAGE_URL=s3://bucket/prefix`, on AWS S3, Ceph RGW or the like.

Objects live at `<prefix>objects/<sha256>`, content-addressed as on the filesystem. A write
streams in parts of a fixed size (never a whole object in memory), hashing as it goes;
an object becomes visible under its name only once its bytes are known to hash to it
(a multipart upload is invisible until completed). Partial tus uploads are staged in the
same bucket (`S3Staging`), so that server nodes share no filesystem.

Object Lock (docs/storage.md): `protect` sets COMPLIANCE retention (only ever extended) and
legal hold; `delete` removes every version, and the store itself refuses while either
protects it. Endpoint, region and keys come from `CUSTODY_S3_*` or the usual `AWS_*`
variables. A store that is down or answers 503 is retried with bounded exponential
backoff (botocore's standard mode), then StoreUnavailable says which store and why.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Full, Queue
from typing import Any, TypeVar
from urllib.parse import urlparse

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import Loader, create_loader

from custody.domain.errors import (
    ContentMismatch,
    InvalidInput,
    NotFound,
    ObjectLocked,
    StoreUnavailable,
    UploadGone,
    UploadLocked,
)
from custody.storage.base import BlobStore, Replaced, StagedCheck, StoredObject
from custody.storage.filesystem import SHA256_HEX
from custody.storage.staging import StagedMismatch, StagedWriter

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
# S3's smallest part but the last; parts are this size or more.
MIN_PART = 5 * MiB
# Smaller than a dock's 16 MiB chunk, so that a PATCH's first part is on its way while the
# rest arrives.
PART_SIZE = 8 * MiB
MAX_PARTS = 10_000
READ_BLOCK = 1 * MiB
# Parts sent at once by one upload while the next fills: the store's round trips overlap
# each other and the arrival of the next bytes; memory stays (IN_FLIGHT + 1) parts.
IN_FLIGHT = 3
# Blocks read ahead of their consumer when a staged upload is read back at commit: the
# store's answers arrive while the last ones are hashed, sealed and sent.
READ_AHEAD = 8
# The most versions one DeleteObjects request may name (S3's limit).
DELETE_BATCH = 1000
DEFAULT_ATTEMPTS = 5
T = TypeVar("T")


def part_size_for(length: int, base: int = PART_SIZE) -> int:
    """A fixed part size for an object of `length` bytes: whole MiB, within 10,000 parts.

    Every node computes the same size from the length alone, so part N of an upload
    always covers the same bytes whichever node sends it."""
    needed = -(-length // MAX_PARTS)
    return max(base, -(-needed // MiB) * MiB)


# botocore's descriptions of S3 and of the endpoints (JSON files of megabytes), read once per
# process: each store has a session of its own (a session is not thread-safe, and resolves
# credentials its own way), but they share the loader that parsed them and keeps them.
_LOADERS: dict[str | None, Loader] = {}
_LOADERS_LOCK = threading.Lock()


def _session() -> boto3.session.Session:
    """A new session whose data loader is the process's for its data path."""
    core = botocore.session.Session()
    path = core.get_config_variable("data_path")
    with _LOADERS_LOCK:
        loader = _LOADERS.get(path)
        if loader is None:
            loader = _LOADERS[path] = create_loader(path)
        core.register_component("data_loader", loader)
        session = boto3.session.Session(botocore_session=core)
        # boto3 adds its own data dir to the loader's search path: once is enough.
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session


class S3Store:
    """A BlobStore in one bucket under one prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        max_attempts: int = DEFAULT_ATTEMPTS,
        part_size: int = PART_SIZE,
    ) -> None:
        self.bucket = bucket
        self.part_size = max(MIN_PART, part_size)
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"
        config = Config(
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            # SHA-256 is computed here; RGW ignores flexible checksums anyway.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=32,
            # SigV4 would hash every part's bytes again to sign them (over plain http always,
            # and over https without a checksum): Custody hashes what it stores itself and
            # checks it when it reads it back, and sealed objects carry their own tags.
            s3={"payload_signing_enabled": False},
        )
        self.client: Any = _session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )
        self._lock_enabled: bool | None = None

    @classmethod
    def from_url(cls, url: str) -> S3Store:
        parsed = urlparse(url)
        if not parsed.netloc:
            raise ValueError("an S3 storage URL names its bucket: s3://bucket/prefix")
        env = os.environ
        return cls(
            parsed.netloc,
            parsed.path,
            endpoint_url=env.get("CUSTODY_S3_ENDPOINT_URL"),
            region=env.get("CUSTODY_S3_REGION"),
            access_key=env.get("CUSTODY_S3_ACCESS_KEY_ID"),
            secret_key=env.get("CUSTODY_S3_SECRET_ACCESS_KEY"),
            max_attempts=int(env.get("CUSTODY_S3_MAX_ATTEMPTS", DEFAULT_ATTEMPTS)),
            part_size=int(env.get("CUSTODY_S3_PART_BYTES", PART_SIZE)),
        )

    def __repr__(self) -> str:
        return f"S3Store(s3://{self.bucket}/{self.prefix} at {self.endpoint})"

    # -- calls ---------------------------------------------------------------------------

    def call(self, operation: str, **params: Any) -> Any:
        """One S3 call (botocore retries a busy or unreachable store); StoreUnavailable
        once the retries are spent, NotFound for a missing key, other errors as they are."""
        return self._guard(operation, lambda: getattr(self.client, operation)(**params))

    def _guard(self, operation: str, run: Callable[[], T]) -> T:
        try:
            return run()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code in ("NoSuchKey", "404", "NotFound", "NoSuchUpload"):
                raise NotFound(f"{operation}: not in the store ({code})") from error
            if code == "NoSuchBucket":
                raise StoreUnavailable(
                    f"the bucket {self.bucket} does not exist at {self.endpoint}: make it with "
                    "Object Lock (aws s3api create-bucket --bucket "
                    f"{self.bucket} --object-lock-enabled-for-bucket), docs/storage.md"
                ) from error
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise StoreUnavailable(
                    f"the object store at {self.endpoint} refused Custody's keys for bucket "
                    f"{self.bucket} ({code}): check the access key and secret"
                ) from error
            if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "RequestTimeout"):
                raise StoreUnavailable(
                    f"the object store at {self.endpoint} (bucket {self.bucket}) answered "
                    f"{status} {code} to {operation} after every retry"
                ) from error
            raise
        except BotoCoreError as error:
            raise StoreUnavailable(
                f"the object store at {self.endpoint} (bucket {self.bucket}) is unreachable "
                f"for {operation} after every retry: {error}"
            ) from error

    def key_of(self, sha256: str) -> str:
        if not SHA256_HEX.match(sha256):
            raise InvalidInput("not a SHA-256 object name")
        return f"{self.prefix}objects/{sha256}"

    # -- the BlobStore -------------------------------------------------------------------

    def put_stream(
        self, chunks: Iterable[bytes], expected_sha256: str | None = None
    ) -> StoredObject:
        digest = hashlib.sha256()
        if expected_sha256 is not None and self.exists(expected_sha256):
            # Same name, same bytes: check them, store nothing (no second version).
            size = 0
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
            _expect(digest.hexdigest(), expected_sha256)
            return StoredObject(expected_sha256, size)
        buffer = bytearray()
        pieces = iter(chunks)
        for chunk in pieces:
            digest.update(chunk)
            buffer += chunk
            if len(buffer) >= self.part_size:
                break
        else:
            # Small enough for one PUT: its name is known before a byte is sent.
            sha = digest.hexdigest()
            _expect(sha, expected_sha256)
            if not self.exists(sha):
                key = self.key_of(sha)
                self.call("put_object", Bucket=self.bucket, Key=key, Body=bytes(buffer))
            return StoredObject(sha, len(buffer))
        # Large: a multipart upload, under its final name when the caller knows it (it
        # stays invisible until completed, and is completed only if the hash matches),
        # else under a temporary name copied into place once the hash is known.
        temporary = f"{self.prefix}tmp/{uuid.uuid4().hex}"
        key = self.key_of(expected_sha256) if expected_sha256 else temporary
        upload = _Multipart(self, key)
        try:
            size = 0
            for chunk in pieces:
                digest.update(chunk)
                buffer += chunk
                while len(buffer) >= self.part_size:
                    upload.send(bytes(buffer[: self.part_size]))
                    size += self.part_size
                    del buffer[: self.part_size]
            if buffer:
                upload.send(bytes(buffer))
                size += len(buffer)
            sha = digest.hexdigest()
            _expect(sha, expected_sha256)
            upload.complete()
        except BaseException:
            upload.abort()
            raise
        if expected_sha256 is None:
            try:
                if not self.exists(sha):
                    self.copy_in(key, sha, size)
            finally:
                self._delete_versions(key)
        return StoredObject(sha, size)

    def put_file(self, path: Path, sha256: str) -> StoredObject:
        size = path.stat().st_size
        key = self.key_of(sha256)
        if not self.exists(sha256):
            self._guard(
                "upload_file",
                lambda: self.client.upload_file(str(path), self.bucket, key),
            )
        path.unlink()  # moved, as on the filesystem
        return StoredObject(sha256, size)

    def put_named(self, name: str, chunks: Iterable[bytes]) -> int:
        """Store bytes under a name the caller vouches for (an encrypting wrapper's sealed
        object under its plaintext's SHA-256), unhashed. A multipart upload completes only
        after the last chunk, so a failure leaves nothing; an existing object is kept."""
        if self.exists(name):
            for _ in chunks:
                pass
            return self.size(name)
        return self._upload(self.key_of(name), chunks)

    def _upload(self, key: str, chunks: Iterable[bytes]) -> int:
        """One PUT, or a multipart upload that completes only after the last chunk."""
        buffer = bytearray()
        pieces = iter(chunks)
        for chunk in pieces:
            buffer += chunk
            if len(buffer) >= self.part_size:
                break
        else:
            self.call("put_object", Bucket=self.bucket, Key=key, Body=bytes(buffer))
            return len(buffer)
        upload = _Multipart(self, key)
        size = 0
        try:
            for chunk in pieces:
                buffer += chunk
                while len(buffer) >= self.part_size:
                    upload.send(bytes(buffer[: self.part_size]))
                    size += self.part_size
                    del buffer[: self.part_size]
            if buffer:
                upload.send(bytes(buffer))
                size += len(buffer)
            upload.complete()
        except BaseException:
            upload.abort()
            raise
        return size

    def replace_named(self, name: str, chunks: Iterable[bytes], check: StagedCheck) -> Replaced:
        """Staged under `tmp/`, read back, then copied over the name server-side: a new
        version becomes current at once. Older versions are deleted, except those Object
        Lock keeps (counted: they go when the object is deleted, every version with it)."""
        key = self.key_of(name)
        staged = f"{self.prefix}tmp/{uuid.uuid4().hex}"
        try:
            size = self._upload(staged, chunks)
            check(self.read_key(staged, name=name))
            self.copy_in(staged, name, size)
        finally:
            self._delete_versions(staged)
        current = self.call("head_object", Bucket=self.bucket, Key=key).get("VersionId")
        kept = 0
        for entry in self.versions(key):
            if entry["Key"] != key or entry["VersionId"] == current:
                continue
            try:
                self.call(
                    "delete_object", Bucket=self.bucket, Key=key, VersionId=entry["VersionId"]
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "AccessDenied":
                    raise
                kept += 1
        return Replaced(size, kept)

    def copy_in(self, source_key: str, sha256: str, size: int) -> None:
        """Server-side copy of an object in this bucket to `sha256`'s name (multipart for
        large ones: no byte passes through this node)."""
        self._guard(
            "copy",
            lambda: self.client.copy(
                {"Bucket": self.bucket, "Key": source_key}, self.bucket, self.key_of(sha256)
            ),
        )

    def exists(self, sha256: str) -> bool:
        try:
            self.call("head_object", Bucket=self.bucket, Key=self.key_of(sha256))
        except NotFound:
            return False
        return True

    def size(self, sha256: str) -> int:
        try:
            head = self.call("head_object", Bucket=self.bucket, Key=self.key_of(sha256))
        except NotFound:
            raise NotFound(f"object {sha256} is not in the store") from None
        return int(head["ContentLength"])

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self.read_key(self.key_of(sha256), start, end, name=sha256)

    def read_key(
        self, key: str, start: int = 0, end: int | None = None, *, name: str = ""
    ) -> Iterator[bytes]:
        if end is not None and end <= start:
            return iter(())
        wanted = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            answer = self.call("get_object", Bucket=self.bucket, Key=key, Range=wanted)
        except NotFound:
            raise NotFound(f"object {name or key} is not in the store") from None
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "InvalidRange":
                return iter(())  # starts at or past its end: no bytes, as on a file
            raise
        return self._stream(answer["Body"], key)

    def _stream(self, body: Any, key: str) -> Iterator[bytes]:
        with body:
            try:
                yield from body.iter_chunks(READ_BLOCK)
            except BotoCoreError as error:
                raise StoreUnavailable(
                    f"the object store at {self.endpoint} broke off reading {key}: {error}"
                ) from error

    def delete(self, sha256: str) -> bool:
        return self._delete_versions(self.key_of(sha256))

    def _delete_versions(self, key: str) -> bool:
        """Delete every version of a key (and delete marker): gone, not hidden behind a
        marker. ObjectLocked if Object Lock still protects one."""
        found = False
        for entry in self.versions(key):
            if entry["Key"] != key:
                continue
            found = found or "ETag" in entry
            try:
                self.call(
                    "delete_object", Bucket=self.bucket, Key=key, VersionId=entry["VersionId"]
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "AccessDenied":
                    raise ObjectLocked(
                        f"the store refuses to delete {key}: Object Lock protects it"
                    ) from error
                raise
        return found

    def versions(self, prefix: str) -> list[dict[str, Any]]:
        """Every version and delete marker of the keys under `prefix` (the store's entries)."""
        pages = self._guard(
            "list_object_versions",
            lambda: list(
                self.client.get_paginator("list_object_versions").paginate(
                    Bucket=self.bucket, Prefix=prefix
                )
            ),
        )
        return [
            entry
            for page in pages
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]

    def iter_objects(self) -> Iterator[str]:
        marker = f"{self.prefix}objects/"
        paginator = self.client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=marker))
        # A page at a time: millions of objects are listed without holding them all.
        while (page := self._guard("list_objects_v2", lambda: next(pages, None))) is not None:
            for entry in page.get("Contents", []):
                name = entry["Key"][len(marker) :]
                if SHA256_HEX.match(name):
                    yield name

    # -- Object Lock ---------------------------------------------------------------------

    @property
    def object_lock(self) -> bool:
        if self._lock_enabled is None:
            try:
                answer = self.call("get_object_lock_configuration", Bucket=self.bucket)
                config = answer.get("ObjectLockConfiguration", {})
                self._lock_enabled = config.get("ObjectLockEnabled") == "Enabled"
            except ClientError:
                self._lock_enabled = False
        return self._lock_enabled

    def protect(self, sha256: str, keep_for: timedelta, hold: bool) -> None:
        if not self.object_lock:
            return
        key = self.key_of(sha256)
        until = datetime.now(UTC).replace(microsecond=0) + keep_for
        if keep_for > timedelta(0):
            try:
                current = self.call("get_object_retention", Bucket=self.bucket, Key=key)
                held_until = current.get("Retention", {}).get("RetainUntilDate")
            except ClientError:
                held_until = None  # none set yet
            if held_until is None or held_until < until:
                self.call(
                    "put_object_retention",
                    Bucket=self.bucket,
                    Key=key,
                    Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until},
                )
        self.call(
            "put_object_legal_hold",
            Bucket=self.bucket,
            Key=key,
            LegalHold={"Status": "ON" if hold else "OFF"},
        )

    def protection(self, sha256: str) -> tuple[datetime | None, bool]:
        """The object's COMPLIANCE retention date and legal hold, as the store has them."""
        key = self.key_of(sha256)
        try:
            retention = self.call("get_object_retention", Bucket=self.bucket, Key=key)
            until = retention.get("Retention", {}).get("RetainUntilDate")
        except ClientError:
            until = None
        try:
            legal = self.call("get_object_legal_hold", Bucket=self.bucket, Key=key)
            hold = legal.get("LegalHold", {}).get("Status") == "ON"
        except ClientError:
            hold = False
        return until, hold

    def staging(self) -> S3Staging:
        return S3Staging(self)


def _expect(sha: str, expected: str | None) -> None:
    if expected is not None and sha != expected:
        raise ContentMismatch(f"bytes hash to {sha}, expected {expected}", sha)


class _Parts:
    """Parts on their way to the store, at most IN_FLIGHT at once: `send` waits for the
    oldest when that many are out, `wait` for all; the first error is raised there."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix=name)
        self._out: deque[Future[None]] = deque()

    def send(self, upload: Callable[..., None], *args: Any) -> None:
        while len(self._out) >= IN_FLIGHT:
            self._out.popleft().result()
        self._out.append(self._pool.submit(upload, *args))

    def wait(self) -> None:
        while self._out:
            self._out.popleft().result()

    def close(self) -> None:
        """Wait for what is out, its errors ignored (the caller's matter more), and stop."""
        for future in self._out:
            with contextlib.suppress(Exception):
                future.result()
        self._out.clear()
        self._pool.shutdown(wait=True)


def _read_ahead(blocks: Iterator[bytes], depth: int = READ_AHEAD) -> Iterator[bytes]:
    """`blocks`, read on a thread of their own up to `depth` ahead of the consumer."""
    queue: Queue[bytes | BaseException | None] = Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: bytes | BaseException | None) -> bool:
        """Put `item` in the queue unless the consumer has gone; False if it has."""
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.5)
                return True
            except Full:
                continue
        return False

    def reader() -> None:
        try:
            for block in blocks:
                if not hand_over(block):
                    return
            hand_over(None)
        except BaseException as error:  # handed to the consumer, raised there
            hand_over(error)
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=reader, name="s3-read-ahead", daemon=True)
    thread.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


class _Multipart:
    """A plain multipart upload of consecutive parts (for put_stream): parts are sent on
    threads of their own while the caller hashes the next (IN_FLIGHT at most)."""

    def __init__(self, store: S3Store, key: str) -> None:
        self.store = store
        self.key = key
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self._out = _Parts("s3-put")

    def send(self, data: bytes) -> None:
        if self.upload_id is None:
            answer = self.store.call(
                "create_multipart_upload", Bucket=self.store.bucket, Key=self.key
            )
            self.upload_id = str(answer["UploadId"])
        self.parts.append({"PartNumber": len(self.parts) + 1})
        self._out.send(self._upload, len(self.parts), data)

    def _upload(self, number: int, data: bytes) -> None:
        answer = self.store.call(
            "upload_part",
            Bucket=self.store.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=data,
        )
        self.parts[number - 1]["ETag"] = answer["ETag"]

    def complete(self) -> None:
        try:
            self._out.wait()
        finally:
            self._out.close()
        self.store.call(
            "complete_multipart_upload",
            Bucket=self.store.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )

    def abort(self) -> None:
        self._out.close()
        if self.upload_id is None:
            return
        try:
            self.store.call(
                "abort_multipart_upload",
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=self.upload_id,
            )
        except Exception:  # the caller's error matters more; `staged_ids` lists leftovers
            logger.warning("could not abort multipart upload of %s", self.key)


class S3Staging:
    """Partial tus uploads as S3 multipart uploads, the way tusd's S3 store keeps them.

    Per upload, under `<prefix>uploads/<id>/`: `info` (the multipart upload's id and the
    part size), the multipart upload of `data` itself, and `tail-<n>`: the bytes past the
    last whole part when a request ends short of a part boundary (S3 will not take a
    part under 5 MiB but the last). Part n always covers bytes [n*size, (n+1)*size), so
    a part a dead request left past the database's offset is simply sent again; a tail is
    named by the part it starts, and only its first (offset - n*size) bytes are read: a
    dead request may have made it longer, never different. Old tails go once the offset
    has moved past them. Nothing here is kept in a node's memory or disk.
    """

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self._writing: set[str] = set()
        self._writing_lock = threading.Lock()

    def _key(self, upload_id: str, name: str) -> str:
        return f"{self.store.prefix}uploads/{upload_id}/{name}"

    def create(self, upload_id: str, length: int) -> None:
        self._start(upload_id, length)

    def _start(self, upload_id: str, length: int) -> dict[str, Any]:
        answer = self.store.call(
            "create_multipart_upload", Bucket=self.store.bucket, Key=self._key(upload_id, "data")
        )
        size = part_size_for(length, self.store.part_size)
        info = {"multipart": answer["UploadId"], "part_size": size}
        self.store.call(
            "put_object",
            Bucket=self.store.bucket,
            Key=self._key(upload_id, "info"),
            Body=json.dumps(info).encode(),
        )
        return info

    def info(self, upload_id: str) -> dict[str, Any] | None:
        try:
            answer = self.store.call(
                "get_object", Bucket=self.store.bucket, Key=self._key(upload_id, "info")
            )
        except NotFound:
            return None
        with answer["Body"] as body:
            loaded: dict[str, Any] = json.loads(body.read())
        return loaded

    def writer(self, upload_id: str, offset: int, length: int, sha256: str) -> StagedWriter:
        with self._writing_lock:
            if upload_id in self._writing:
                raise UploadLocked("another request is writing to this upload")
            self._writing.add(upload_id)
        try:
            info = self.info(upload_id)
            if info is None:
                if offset > 0:
                    raise UploadGone("this upload's partial bytes are gone; start a new one")
                info = self._start(upload_id, length)
            return _PartWriter(self, upload_id, info, offset, length)
        except BaseException:
            self._release(upload_id)
            raise

    def _release(self, upload_id: str) -> None:
        with self._writing_lock:
            self._writing.discard(upload_id)

    def has(self, upload_id: str) -> bool:
        return self.info(upload_id) is not None

    def _complete(self, upload_id: str, length: int) -> str:
        """Complete the multipart upload (again, after a crash: then `data` is there)."""
        data = self._key(upload_id, "data")
        info = self.info(upload_id)
        if info is None:
            raise UploadGone("this upload's staged bytes are gone")
        size = int(info["part_size"])
        count = max(1, -(-length // size))
        parts: dict[int, dict[str, Any]] = {}
        try:
            pages = self.store.client.get_paginator("list_parts").paginate(
                Bucket=self.store.bucket, Key=data, UploadId=info["multipart"]
            )
            for page in self.store._guard("list_parts", lambda: list(pages)):
                for part in page.get("Parts", []):
                    parts[int(part["PartNumber"])] = part
        except NotFound:
            # Completed by an earlier commit that died before it finished.
            head = self.store.call("head_object", Bucket=self.store.bucket, Key=data)
            if int(head["ContentLength"]) != length:
                raise UploadGone("this upload's staged bytes are incomplete") from None
            return data
        wanted = [parts.get(n) for n in range(1, count + 1)]
        if any(p is None for p in wanted) or sum(int(p["Size"]) for p in wanted if p) != length:
            raise UploadGone("this upload's staged parts do not add up to its length")
        self.store.call(
            "complete_multipart_upload",
            Bucket=self.store.bucket,
            Key=data,
            UploadId=info["multipart"],
            MultipartUpload={
                "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in wanted if p]
            },
        )
        return data

    def move_into(
        self, store: BlobStore, upload_id: str, length: int, sha256: str, verified: bool
    ) -> StoredObject:
        data = self._complete(upload_id, length)
        same_bucket = isinstance(store, S3Store) and store.bucket == self.store.bucket
        if same_bucket and not verified:
            # Another node received some chunks: re-hash by streaming the staged object.
            digest = hashlib.sha256()
            size = 0
            for block in self.store.read_key(data):
                digest.update(block)
                size += len(block)
            if digest.hexdigest() != sha256 or size != length:
                raise StagedMismatch(digest.hexdigest(), size, sha256)
        if same_bucket:
            assert isinstance(store, S3Store)
            if not store.exists(sha256):
                store.copy_in(data, sha256, length)
            stored = StoredObject(sha256, length)
        else:
            # Another kind of store (an encrypting one, say): its put hashes as it goes.
            try:
                stored = store.put_stream(
                    _read_ahead(self.store.read_key(data)), expected_sha256=sha256
                )
            except ContentMismatch as error:
                raise StagedMismatch("(differs)", length, sha256) from error
        self.discard(upload_id)
        return stored

    def discard(self, upload_id: str) -> None:
        info = self.info(upload_id)
        if info is not None:
            with contextlib.suppress(NotFound):  # completed or aborted already
                self.store.call(
                    "abort_multipart_upload",
                    Bucket=self.store.bucket,
                    Key=self._key(upload_id, "data"),
                    UploadId=info["multipart"],
                )
        info_key = self._key(upload_id, "info")
        versions = self._versions(self._key(upload_id, ""))
        # Every version of every key in a request or a few (a tail has one per request that
        # ended inside its part), where one request per version took a round trip each.
        self._delete_batch([v for v in versions if v["Key"] != info_key])
        # The info goes last: while it is there, the next clean-up finds the rest.
        self._delete_batch([v for v in versions if v["Key"] == info_key])

    def _versions(self, prefix: str) -> list[dict[str, str]]:
        """Every version and delete marker under `prefix`, as DeleteObjects names them."""
        return [
            {"Key": entry["Key"], "VersionId": entry["VersionId"]}
            for entry in self.store.versions(prefix)
        ]

    def _delete_batch(self, versions: list[dict[str, str]]) -> None:
        """Delete these versions, up to S3's thousand a request; any the store refused are
        deleted again one by one, for the error that deleting it alone gives."""
        for start in range(0, len(versions), DELETE_BATCH):
            answer = self.store.call(
                "delete_objects",
                Bucket=self.store.bucket,
                Delete={"Objects": versions[start : start + DELETE_BATCH], "Quiet": True},
            )
            for refused in answer.get("Errors", []):
                self.store._delete_versions(refused["Key"])

    def _keys(self, prefix: str) -> list[str]:
        pages = self.store.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.store.bucket, Prefix=prefix
        )
        return [
            entry["Key"]
            for page in self.store._guard("list_objects_v2", lambda: list(pages))
            for entry in page.get("Contents", [])
        ]

    def staged_ids(self) -> set[str]:
        marker = f"{self.store.prefix}uploads/"
        ids = set()
        for key in self._keys(marker):
            upload_id = key[len(marker) :].split("/", 1)[0]
            if len(upload_id) == 32:
                ids.add(upload_id)
        return ids

    def drop_tails_before(self, upload_id: str, part: int) -> None:
        old = []
        for version in self._versions(self._key(upload_id, "tail-")):
            number = version["Key"].rsplit("-", 1)[1]
            if number.isdigit() and int(number) < part:
                old.append(version)
        self._delete_batch(old)


class _PartWriter:
    """One request's bytes, sent as whole fixed parts; the rest kept as a tail at `keep`.

    Parts are sent on threads of their own while the next one fills (IN_FLIGHT at most:
    receiving and sending overlap, memory stays IN_FLIGHT + 1 parts); `keep` waits for them.
    """

    def __init__(
        self, staging: S3Staging, upload_id: str, info: dict[str, Any], offset: int, length: int
    ) -> None:
        self.staging = staging
        self.store = staging.store
        self.upload_id = upload_id
        self.multipart = str(info["multipart"])
        self.size = int(info["part_size"])
        self.length = length
        self.part = offset // self.size  # the part being filled (0-based)
        self.start_part = self.part
        self.buffer = bytearray()
        self.closed = False
        self._out = _Parts("s3-part")
        head = offset - self.part * self.size
        if head:
            tail = self.staging._key(upload_id, f"tail-{self.part}")
            try:
                self.buffer += b"".join(self.store.read_key(tail, 0, head))
            except NotFound:
                raise UploadGone("this upload's partial bytes are gone; start a new one") from None
            if len(self.buffer) != head:
                raise UploadGone("this upload's partial bytes are gone; start a new one")

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= self.size:
            self._send(bytes(self.buffer[: self.size]))
            del self.buffer[: self.size]

    def _send(self, data: bytes) -> None:
        self._out.send(self._upload_part, self.part + 1, data)
        self.part += 1

    def _upload_part(self, number: int, data: bytes) -> None:
        self.store.call(
            "upload_part",
            Bucket=self.store.bucket,
            Key=self.staging._key(self.upload_id, "data"),
            UploadId=self.multipart,
            PartNumber=number,
            Body=data,
        )

    def _wait(self) -> None:
        """The parts in flight are stored (or the first error is raised here)."""
        self._out.wait()

    def keep(self) -> None:
        if self.buffer and self.part * self.size + len(self.buffer) == self.length:
            self._send(bytes(self.buffer))  # the last part may be small
            self.buffer.clear()
        self._wait()
        if not self.buffer:
            return
        self.store.call(
            "put_object",
            Bucket=self.store.bucket,
            Key=self.staging._key(self.upload_id, f"tail-{self.part}"),
            Body=bytes(self.buffer),
        )

    def drop(self) -> None:
        # Parts and tails past the database's offset are sent again or read no further.
        self.buffer.clear()
        with contextlib.suppress(Exception):  # its failure changes nothing now
            self._wait()

    def acknowledged(self) -> None:
        if self.part > self.start_part:
            self.staging.drop_tails_before(self.upload_id, self.part)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._out.close()  # not kept: what it sent is never read
            self.staging._release(self.upload_id)
