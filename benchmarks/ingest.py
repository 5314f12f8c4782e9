"""Ingest throughput: a ≥1 GB recording through the dock agent over loopback, against a baseline.

The baseline, measured in the same run on the same disk, is the least any ingest must do:
read the file, SHA-256 it, write a copy and fsync it. The ratio of the two is the figure
to watch; absolute MB/s on a shared machine mean little.

    python benchmarks/ingest.py [--size-mb 1024] [--chunk-mb 16] [--max-chunk-mb 64]
        [--parallel 2] [--storage-url s3://bucket/prefix]

On the filesystem it also times the commit of an upload that no server process hashed as
it arrived (its chunks came through several nodes, or the server restarted): the staged
upload (sealed as it arrived) opened, hashed and renamed into a sealed store of its own
with `verified=False`, beside the same baseline. Each timing starts with no file's writes
waiting to reach the disk (`os.sync`): the copy kept for that commit would otherwise be
written back during the ingest.

With `--storage-url s3://…` (AWS_ENDPOINT_URL naming the server, tools/s3-server) the
recording goes into the S3 store, staged in the bucket, and the baseline is read +
SHA-256 + a bare boto3 multipart PUT of the file in 16 MiB parts, one at a time. A bucket
that does not exist is made, with Object Lock.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

import httpx
from rich.console import Console
from rich.table import Table

from custody.bootstrap import build_system
from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from custody.config import Settings
from custody.dock.agent import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_CHUNK_SIZE, DockAgent
from custody.services.fleet import registry
from custody.services.identity import setup, users
from custody.services.system import NoJobs

console = Console()
BLOCK = 16 * 1024 * 1024
# The S3 baseline's parts, one at a time: fixed, so that the baseline stays the same yardstick
# whatever part size or concurrency the store itself uses.
BASELINE_PART = 16 * 1024 * 1024


def baseline(source: Path, target: Path) -> float:
    """Seconds to read, hash, write and fsync a copy of `source`."""
    digest = hashlib.sha256()
    started = time.perf_counter()
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while block := reader.read(BLOCK):
            digest.update(block)
            writer.write(block)
        writer.flush()
        os.fsync(writer.fileno())
    return time.perf_counter() - started


def unverified_commit(media: Path, work: Path) -> float:
    """Seconds to move a staged upload of `media` into a fresh sealed store, unverified: the
    installation's own staging (sealed as it arrived), every segment opened and hashed,
    then the file renamed."""
    system = build_system(Settings(data_dir=work / "commit"), create=True, jobs=NoJobs())
    staging = system.staging
    upload = "0" * 32
    digest = hashlib.sha256()
    with open(media, "rb") as reader:
        while block := reader.read(BLOCK):
            digest.update(block)
    size = media.stat().st_size
    staging.create(upload, size)
    writer = staging.writer(upload, 0, size, digest.hexdigest())
    try:
        with open(media, "rb") as reader:
            while block := reader.read(BLOCK):
                writer.write(block)
        writer.keep()
    finally:
        writer.close()
    os.sync()
    started = time.perf_counter()
    staging.move_into(system.store, upload, size, digest.hexdigest(), verified=False)
    seconds = time.perf_counter() - started
    system.engine.dispose()
    shutil.rmtree(work / "commit", ignore_errors=True)
    return seconds


def s3_baseline(source: Path, storage_url: str) -> float:
    """Seconds to read, hash and PUT `source` with the bare client (the S3 store's parts)."""
    import boto3
    from boto3.s3.transfer import TransferConfig

    bucket = storage_url.removeprefix("s3://").split("/", 1)[0]
    client = boto3.client("s3")
    digest = hashlib.sha256()

    class Hashing:
        def __init__(self, reader: BinaryIO) -> None:
            self.reader = reader

        def read(self, size: int = -1) -> bytes:
            block = self.reader.read(size)
            digest.update(block)
            return block

    transfer = TransferConfig(
        multipart_threshold=BASELINE_PART, multipart_chunksize=BASELINE_PART, max_concurrency=1
    )
    started = time.perf_counter()
    with open(source, "rb") as reader:
        client.upload_fileobj(Hashing(reader), bucket, "baseline", Config=transfer)
    seconds = time.perf_counter() - started
    for version in client.list_object_versions(Bucket=bucket, Prefix="baseline").get(
        "Versions", []
    ):
        client.delete_object(Bucket=bucket, Key="baseline", VersionId=version["VersionId"])
    return seconds


def ensure_bucket(storage_url: str) -> None:
    import boto3

    bucket = storage_url.removeprefix("s3://").split("/", 1)[0]
    client = boto3.client("s3")
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1100, help="recording size to make")
    parser.add_argument(
        "--chunk-mb", type=int, default=DEFAULT_CHUNK_SIZE >> 20, help="dock agent's first chunk"
    )
    parser.add_argument(
        "--max-chunk-mb",
        type=int,
        default=DEFAULT_MAX_CHUNK_SIZE >> 20,
        help="what its chunks may grow to, as `custody dock` has it (= --chunk-mb: fixed)",
    )
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None, help="work dir (default: a temp dir)")
    parser.add_argument("--storage-url", default=None, help="e.g. s3://bucket/prefix")
    args = parser.parse_args()
    s3 = bool(args.storage_url and args.storage_url.startswith("s3://"))
    if s3:
        ensure_bucket(args.storage_url)

    work = Path(tempfile.mkdtemp(prefix="custody-bench-", dir=args.dir))
    server = None
    try:
        data_dir = work / "server"
        bay = work / "bay"
        bitrate = 28_000_000
        duration = args.size_mb * 1024 * 1024 * 8 / bitrate
        with console.status(f"making a {args.size_mb} MB recording…"):
            made = simulate_camera(
                bay,
                serial="BWV-BENCH",
                officer_id=None,
                recordings=1,
                duration=duration,
                video_bitrate=bitrate,
            )
        media = made[0].media_path
        size = media.stat().st_size
        mb = size / 1_000_000

        # The page cache would flatter whichever runs second: both start from a warm cache,
        # and with no other file's writes waiting to reach the disk (os.sync before each).
        baseline(media, work / "warm.tmp")
        os.sync()
        if s3:
            base_seconds = s3_baseline(media, args.storage_url)
        else:
            base_seconds = baseline(media, work / "copy.tmp")
            (work / "copy.tmp").unlink()
        (work / "warm.tmp").unlink()
        # The dock frees the camera's copy after its receipt: keep one for the commit's figure.
        kept_media = None if s3 else work / "media.mp4"
        if kept_media is not None:
            shutil.copyfile(media, kept_media)
        os.sync()

        settings = Settings(data_dir=data_dir, storage_url=args.storage_url)
        system = build_system(settings, create=True, jobs=NoJobs())
        setup.ensure_admin(system)
        admin = users.principal_named(system, setup.ADMIN)
        device = CameraStorage(bay).device
        registry.add_camera(
            system,
            admin,
            serial=device.serial,
            model=device.model,
            firmware=device.firmware,
            public_key=device.public_key,
        )
        token = registry.add_dock(system, admin, "Bench-1").token
        system.engine.dispose()

        port = free_port()
        env = {**os.environ, "CUSTODY_DATA_DIR": str(data_dir)}
        if args.storage_url:
            env["CUSTODY_STORAGE_URL"] = args.storage_url
        server = subprocess.Popen(
            [sys.executable, "-m", "custody", "serve", "--port", str(port), "--workers", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(f"{url}/api/v1/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)

        started = time.perf_counter()
        with DockAgent(
            url,
            token,
            [bay],
            parallel=args.parallel,
            chunk_size=args.chunk_mb * 1024 * 1024,
            max_chunk_size=max(args.max_chunk_mb, args.chunk_mb) * 1024 * 1024,
            progress=True,
        ) as agent:
            result = agent.run_once()
        ingest_seconds = time.perf_counter() - started
        if not result.ok:
            console.print(f"[red]the upload failed:[/] {result.summary()}")
            raise SystemExit(1)

        where = "S3 store" if s3 else "same disk"
        table = Table(title=f"Ingest of one {mb:,.0f} MB recording (loopback, {where})")
        table.add_column("path")
        table.add_column("seconds", justify="right")
        table.add_column("MB/s", justify="right")
        table.add_row(
            "baseline: read + SHA-256 + bare boto3 PUT"
            if s3
            else "baseline: read + SHA-256 + write + fsync",
            f"{base_seconds:.2f}",
            f"{mb / base_seconds:,.0f}",
        )
        table.add_row(
            "dock agent → tus → verified recording + receipt",
            f"{ingest_seconds:.2f}",
            f"{mb / ingest_seconds:,.0f}",
        )
        commit_seconds = None if kept_media is None else unverified_commit(kept_media, work)
        if commit_seconds is not None:
            table.add_row(
                "commit alone, chunks not hashed on arrival (staged → sealed store)",
                f"{commit_seconds:.2f}",
                f"{mb / commit_seconds:,.0f}",
            )
        console.print(table)
        console.print(
            f"ratio (ingest / baseline): [bold]{base_seconds / ingest_seconds:.2f}[/]"
            f"  (chunks {args.chunk_mb} to {max(args.max_chunk_mb, args.chunk_mb)} MiB,"
            f" parallel {args.parallel}; load average "
            f"{Path('/proc/loadavg').read_text().split()[:3]})"
        )
        if commit_seconds is not None:
            console.print(
                f"unverified commit / baseline: [bold]{base_seconds / commit_seconds:.2f}[/]"
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
