"""Object store throughput: Custody's S3 store beside the bare boto3 client, same run, same bytes.

Against the S3 server that AWS_ENDPOINT_URL names (tools/s3-server), in a new bucket with
Object Lock. Each figure is the median of `--rounds` rounds, Custody's path and the bare
client's alternating so that neither gets a quieter machine:

- PUT: `S3Store.put_stream` (hashing as it streams, multipart under the known name) beside
  boto3 `upload_fileobj` of the same bytes with the same part size (no hashing);
- ranged GET: `S3Store.read(sha, start, end)` of random 1 MiB ranges beside `get_object`
  with the same Range header;
- whole GET + SHA-256: what a commit costs when the chunks came through several nodes
  (the staged object is re-read and hashed) beside a bare streamed `get_object`.

    python benchmarks/storage.py [--size-mb 256] [--rounds 3] [--ranges 64]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from rich.console import Console
from rich.table import Table

from custody.storage.s3 import PART_SIZE, S3Store

console = Console()
MiB = 1024 * 1024
RANGE = MiB


def _blocks(data: bytes, size: int = 4 * MiB) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield bytes(view[start : start + size])


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def one_round(
    store: S3Store,
    client: Any,
    transfer: TransferConfig,
    size: int,
    rng: random.Random,
    ranges: int,
    bare_key: str,
) -> dict[str, float]:
    """Seconds for each operation, Custody's and the bare client's, on new random bytes."""
    data = os.urandom(size)  # new bytes each round: no put is a no-op
    sha = hashlib.sha256(data).hexdigest()
    bucket = store.bucket
    seconds = {
        "put_bare": _timed(
            lambda: client.upload_fileobj(io.BytesIO(data), bucket, bare_key, Config=transfer)
        ),
        "put": _timed(lambda: store.put_stream(_blocks(data), expected_sha256=sha)),
    }
    starts = [rng.randrange(0, size - RANGE) for _ in range(ranges)]

    def ranged_store() -> None:
        for start in starts:
            b"".join(store.read(sha, start, start + RANGE))

    def ranged_bare() -> None:
        for start in starts:
            wanted = f"bytes={start}-{start + RANGE - 1}"
            client.get_object(Bucket=bucket, Key=bare_key, Range=wanted)["Body"].read()

    def rehash() -> None:
        digest = hashlib.sha256()
        for block in store.read(sha):
            digest.update(block)
        assert digest.hexdigest() == sha

    def get_bare() -> None:
        body = client.get_object(Bucket=bucket, Key=bare_key)["Body"]
        for _ in body.iter_chunks(MiB):
            pass

    seconds["range_bare"] = _timed(ranged_bare)
    seconds["range"] = _timed(ranged_store)
    seconds["get_bare"] = _timed(get_bare)
    seconds["rehash"] = _timed(rehash)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ranges", type=int, default=64, help="ranged GETs per round")
    args = parser.parse_args()
    if not os.environ.get("AWS_ENDPOINT_URL"):
        raise SystemExit('no S3 server: eval "$(tools/s3-server start DIR PORT)" first')

    client = boto3.client("s3")
    bucket = f"custody-bench-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    store = S3Store(bucket, "bench")
    transfer = TransferConfig(
        multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=1
    )
    size = args.size_mb * MiB
    mb = size / 1_000_000
    rng = random.Random(1)
    times: dict[str, list[float]] = {}
    with console.status("measuring…"):
        for round_ in range(args.rounds):
            measured = one_round(store, client, transfer, size, rng, args.ranges, f"bare/{round_}")
            for name, seconds in measured.items():
                times.setdefault(name, []).append(seconds)

    # The bytes go again (nothing here is locked): the server's disk is shared.
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions", []):
            client.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
    med = {k: statistics.median(v) for k, v in times.items()}
    ranged_mb = args.ranges * RANGE / 1_000_000
    table = Table(title=f"S3 store vs bare boto3: {mb:,.0f} MB object, median of {args.rounds}")
    table.add_column("operation")
    table.add_column("Custody MB/s", justify="right")
    table.add_column("bare boto3 MB/s", justify="right")
    table.add_column("ratio", justify="right")
    for name, ours, bare, amount in (
        ("PUT (Custody hashes as it streams)", "put", "put_bare", mb),
        (f"ranged GET, {args.ranges} x 1 MiB", "range", "range_bare", ranged_mb),
        ("whole GET (Custody: + SHA-256, the commit's re-hash)", "rehash", "get_bare", mb),
    ):
        table.add_row(
            name,
            f"{amount / med[ours]:,.0f}",
            f"{amount / med[bare]:,.0f}",
            f"{med[bare] / med[ours]:.2f}",
        )
    console.print(table)
    load = Path("/proc/loadavg").read_text().split()[:3]
    console.print(f"part size {PART_SIZE // MiB} MiB, one connection each; load average {load}")


if __name__ == "__main__":
    main()
