"""Ingest throughput: a ≥1 GB recording through the dock agent over loopback, against a baseline.

The baseline, measured in the same run on the same disk, is the least any ingest must do:
read the file, SHA-256 it, write a copy and fsync it. The ratio of the two is the figure
to watch; absolute MB/s on a shared machine mean little.

    python benchmarks/ingest.py [--size-mb 1024] [--chunk-mb 16] [--parallel 2]
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

import httpx
from rich.console import Console
from rich.table import Table

from custody.bootstrap import build_system
from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from custody.config import Settings
from custody.dock.agent import DockAgent
from custody.services.fleet import registry
from custody.services.identity import setup, users
from custody.services.system import NoJobs

console = Console()
BLOCK = 16 * 1024 * 1024


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1100, help="recording size to make")
    parser.add_argument("--chunk-mb", type=int, default=16, help="dock agent chunk size")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None, help="work dir (default: a temp dir)")
    args = parser.parse_args()

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

        # The page cache would flatter whichever runs second: both start from a warm cache.
        baseline(media, work / "warm.tmp")
        base_seconds = baseline(media, work / "copy.tmp")
        (work / "copy.tmp").unlink()
        (work / "warm.tmp").unlink()

        settings = Settings(data_dir=data_dir)
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
            progress=True,
        ) as agent:
            result = agent.run_once()
        ingest_seconds = time.perf_counter() - started
        if not result.ok:
            console.print(f"[red]the upload failed:[/] {result.summary()}")
            raise SystemExit(1)

        table = Table(title=f"Ingest of one {mb:,.0f} MB recording (loopback, same disk)")
        table.add_column("path")
        table.add_column("seconds", justify="right")
        table.add_column("MB/s", justify="right")
        table.add_row(
            "baseline: read + SHA-256 + write + fsync",
            f"{base_seconds:.2f}",
            f"{mb / base_seconds:,.0f}",
        )
        table.add_row(
            "dock agent → tus → verified recording + receipt",
            f"{ingest_seconds:.2f}",
            f"{mb / ingest_seconds:,.0f}",
        )
        console.print(table)
        console.print(
            f"ratio (ingest / baseline): [bold]{base_seconds / ingest_seconds:.2f}[/]"
            f"  (chunk {args.chunk_mb} MiB, parallel {args.parallel})"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
