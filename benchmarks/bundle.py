"""Court bundles: export and verify a big case beside a plain copy and `sha256sum` of it.

A case of recordings (default 10 x 512 MiB, over 5 GB; `--quick`: 3 x 100 MiB) is
ingested through the ingest services as a dock would, put on the case's disclosure
schedule, then, in the same run and from a warm page cache each time:

- the baseline: a plain copy of the stored footage files plus SHA-256 of each
  (`cp` then `sha256sum`), and `sha256sum` over the footage files alone;
- `custody bundle export CASE --out DIR` (and `--zip`) in a child process, whose peak
  memory (max RSS) is read from the kernel;
- `custody bundle verify DIR` in a child process.

Ratios are baseline time / our time (1.0: as fast as the standard tools; the aims are
export >= 0.7 of copy + SHA-256, verify >= 0.8 of sha256sum; memory under 200 MB).

    .venv/bin/python benchmarks/bundle.py [--quick] [--recordings 10] [--size-mb 512] [--dir D]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from custody.bootstrap import build_system
from custody.bundle.verify import verify_bundle
from custody.config import Settings
from custody.db.models.disclosure import ScheduleItem
from custody.domain import signing
from custody.domain.manifest import Manifest
from custody.services.disclosure import bundles
from custody.services.disclosure.bag_targets import FolderTarget
from custody.services.evidence import cases
from custody.services.fleet import registry
from custody.services.identity import setup, users
from custody.services.ingest import chunks, manifests, uploads
from custody.services.system import NoJobs, System

console = Console(width=120)
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
BLOCK = 4 * 1024 * 1024
TIME = Path("/usr/bin/time")


def seed(system: System, recordings: int, size: int) -> tuple[int, list[Path]]:
    """A case of `recordings` stored recordings of `size` bytes, all exhibits; their files."""
    setup.ensure_admin(system)
    admin = users.principal_named(system, setup.ADMIN)
    registry.add_officer(system, admin, "1234AB", name="A. Officer", unit="Hackney")
    key = Ed25519PrivateKey.generate()
    registry.add_camera(
        system,
        admin,
        serial="BWV-BENCH",
        model="SimCam",
        firmware="1.0",
        public_key=signing.public_key_text(key.public_key()),
        officer="1234AB",
    )
    dock = registry.authenticate_dock(system, registry.add_dock(system, admin, "Bench-1").token)
    users.create_user(system, admin, "ivan", "investigator", unit="CID")
    users.create_user(system, admin, "fran", "disclosure", unit="CPS liaison")
    ivan = users.principal_named(system, "ivan")
    case = cases.create_case(
        system,
        ivan,
        reference="01/BENCH/26",
        title="Benchmark",
        actor=ivan.actor(),
        members=["fran"],
    )
    noise = os.urandom(BLOCK)
    files: list[Path] = []
    for number in range(recordings):
        # Each recording distinct (its own first block), the rest shared noise: fast to make.
        first = hashlib.sha256(str(number).encode()).digest() * (BLOCK // 32)
        blocks = [first] + [noise] * (size // BLOCK - 1)
        digest = hashlib.sha256()
        for block in blocks:
            digest.update(block)
        rid = str(uuid.uuid4())
        started = START + timedelta(minutes=number)
        document = signing.sign(
            Manifest(
                recording_id=rid,
                device_serial="BWV-BENCH",
                officer_id="1234AB",
                started_at=started,
                ended_at=started + timedelta(minutes=30),
                pre_event_seconds=30,
                file=f"{rid}.mp4",
                size=size,
                sha256=digest.hexdigest(),
            ).to_json(),
            key,
        )
        manifests.declare_manifest(system, dock, document)
        status = uploads.create_upload(system, dock, size, {"recording_id": rid})
        writer = chunks.begin_chunk(system, dock, status.upload_id, 0, size, None)
        try:
            for block in blocks:
                writer.write(block)
            writer.finish(True)
        finally:
            writer.close()
        cases.add_to_case(system, ivan, case.id, rid, "benchmark", ivan.actor())
        with system.unit_of_work() as uow:
            uow.session.add(
                ScheduleItem(
                    case_id=case.id,
                    recording_id=rid,
                    use="exhibit",
                    reference=f"AO/{number + 1}",
                    description="",
                    marked_by="user:ivan",
                    marked_at=uow.now(),
                )
            )
            uow.commit()
        # The camera's own file of it: what the baseline copies and hashes (the store's file is
        # sealed at rest, so it is not the footage's bytes).
        original = system.settings.data_dir.parent / "camera" / f"{rid}.mp4"
        original.parent.mkdir(exist_ok=True)
        with original.open("wb") as handle:
            for block in blocks:
                handle.write(block)
        files.append(original)
    return case.id, files


def timed_child(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds a child took, and its own peak memory in bytes (0 if it cannot be told).

    The peak is GNU time's %M: a child forked from this (large) process and exec'd would
    report this process's size as its own high-water mark, so /usr/bin/time, small, forks it.
    """
    handle, name = tempfile.mkstemp(prefix="custody-bench-rss-")
    os.close(handle)
    report = Path(name)
    timer = ["/usr/bin/time", "-f", "%M", "-o", str(report)] if TIME.exists() else []
    started = time.perf_counter()
    subprocess.run([*timer, *command], env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak = int(report.read_text().split()[-1]) * 1024 if timer else 0
    report.unlink(missing_ok=True)
    return seconds, peak


def baseline_copy(copies: Path, files: list[Path], env: dict[str, str], *, durable: bool) -> float:
    """`cp` the files, (`sync`,) then `sha256sum` the copies: what a careful person would do."""
    copies.mkdir()
    script = 'cp "$@" "$0" && ' + ("sync && " if durable else "") + 'sha256sum "$0"/* >/dev/null'
    seconds, _ = timed_child(["sh", "-c", script, str(copies), *map(str, files)], env)
    shutil.rmtree(copies)
    os.sync()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 x 100 MiB instead of 10 x 512")
    parser.add_argument("--recordings", type=int, default=10)
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--dir", type=Path, default=None, help="work dir (default: a temp dir)")
    args = parser.parse_args()
    recordings, size_mb = (3, 100) if args.quick else (args.recordings, args.size_mb)
    size = size_mb * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="custody-bundle-bench-", dir=args.dir))
    try:
        settings = Settings(data_dir=work / "data")
        system = build_system(settings, create=True, jobs=NoJobs())
        with console.status(f"ingesting {recordings} x {size_mb} MiB…"):
            case_id, files = seed(system, recordings, size)
        system.engine.dispose()
        total = sum(f.stat().st_size for f in files)
        env = {**os.environ, "CUSTODY_DATA_DIR": str(settings.data_dir)}
        custody = [sys.executable, "-m", "custody"]

        # A first untimed read warms the page cache for everyone alike (as far as RAM allows).
        subprocess.run(["sha256sum", *map(str, files)], check=True, stdout=subprocess.DEVNULL)
        copies = work / "copies"
        # A bundle is offered only once its bytes are durable, so the fair baseline syncs
        # its copy too; the copy without the sync is shown beside it.
        copy_seconds = baseline_copy(copies, files, env, durable=True)
        loose_seconds = baseline_copy(copies, files, env, durable=False)
        os.sync()
        export_seconds, export_rss = timed_child(
            [
                *custody,
                "bundle",
                "export",
                str(case_id),
                "--out",
                str(work / "bundle"),
                "--as",
                "fran",
            ],
            env,
        )
        os.sync()
        zip_seconds, zip_rss = timed_child(
            [
                *custody,
                "bundle",
                "export",
                str(case_id),
                "--out",
                str(work / "bundle.zip"),
                "--zip",
                "--as",
                "fran",
            ],
            env,
        )
        os.sync()
        footage = sorted((work / "bundle" / "data" / "recordings").glob("*/original.mp4"))
        sha_seconds, _ = timed_child(["sha256sum", *map(str, footage)], env)
        verify_seconds, verify_rss = timed_child(
            [*custody, "bundle", "verify", str(work / "bundle")], env
        )
        zip_verify_seconds, _ = timed_child(
            [*custody, "bundle", "verify", str(work / "bundle.zip")], env
        )

        # The same work inside this process: the figures without the interpreter's start-up.
        system = build_system(settings, jobs=NoJobs())
        fran = users.principal_named(system, "fran")
        started = time.perf_counter()
        bundles.export_bundle(
            system, fran, case_id, fran.actor(), lambda _: FolderTarget(work / "in-process")
        )
        inner_export = time.perf_counter() - started
        system.engine.dispose()
        os.sync()
        started = time.perf_counter()
        if verify_bundle(work / "in-process").failure is not None:
            raise SystemExit("the bundle made in this process does not verify")
        inner_verify = time.perf_counter() - started
        # What any `custody` command pays before work (interpreter, imports): quick runs
        # are dominated by it, big ones not.
        startup_seconds, _ = timed_child([*custody, "bundle", "export", "--help"], env)
        table = Table(title=f"Court bundle of {recordings} recordings, {total / 1e9:.2f} GB")
        for column in ("what", "seconds", "MB/s", "baseline", "ratio", "peak memory"):
            table.add_column(column, justify="right")

        def row(what: str, seconds: float, base: float, base_name: str, rss: int = 0) -> None:
            table.add_row(
                what,
                f"{seconds:.2f}",
                f"{total / seconds / 1e6:.0f}",
                f"{base_name} {base:.2f} s",
                f"{base / seconds:.2f}",
                f"{rss / 1e6:.0f} MB" if rss else "-",
            )

        row("export (folder)", export_seconds, copy_seconds, "cp+sync+sha256sum", export_rss)
        row("export (--zip)", zip_seconds, copy_seconds, "cp+sync+sha256sum", zip_rss)
        row("export (folder)", export_seconds, loose_seconds, "cp+sha256sum (no sync)")
        row("verify (folder)", verify_seconds, sha_seconds, "sha256sum", verify_rss)
        row("verify (zip)", zip_verify_seconds, sha_seconds, "sha256sum")
        row("export, in-process", inner_export, copy_seconds, "cp+sync+sha256sum")
        row("verify, in-process", inner_verify, sha_seconds, "sha256sum")
        console.print(table)
        console.print(f"custody start-up alone (imports, no work): {startup_seconds:.2f} s")
        load = Path("/proc/loadavg").read_text().strip()
        console.print(f"load average: {load}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
