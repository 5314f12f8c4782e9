"""What encryption at rest and fixity cost on the filesystem store, beside baselines of one run.

    .venv/bin/python benchmarks/storage.py [--mb 256] [--rounds 3]   (BENCH_DIR: where to write)

`filesystem_encryption()`: the same bytes through the sealed store (the installation's own:
data keys in its SQLite database, a key file) and through the bare filesystem store:
streaming writes (`put_stream`, what thumbnails, clips and bundles use), the ingest's
`put_file` (a rename for the bare store, a sealing pass for the sealed one), a whole read,
and the player's 4 MiB pieces (`PLAY_PIECE`) at random offsets. Aim: sealed/bare >= 0.9.

`fixity()`: MB/s of `custody fixity`'s check of one object (read, open every segment, hash)
beside `sha256sum` of the same plaintext file, and beside Python's own SHA-256 of it.

Reads come first from the page cache on both sides (the file was just written): this
measures the CPU cost of the crypto, the part that encryption adds; then from the disk
(the object's pages dropped with posix_fadvise(DONTNEED) before each read), as most reads
of footage in a deployment are: a store of 500 TB is not in any page cache. Median of
`--rounds`, each side
alternating, so a busy machine slows both alike; the load average is printed beside.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from custody.bootstrap import build_system
from custody.config import Settings
from custody.services.objects.fixity import check_object
from custody.services.recordings.reading import PLAY_PIECE
from custody.services.system import NoJobs
from custody.storage import BlobStore
from custody.storage.encryption import EncryptedStore
from custody.storage.filesystem import FilesystemStore

MB = 1_000_000
BLOCK = 1024 * 1024


def _chunks(data: bytes) -> Iterator[bytes]:
    for at in range(0, len(data), BLOCK):
        yield data[at : at + BLOCK]


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _drain(blocks: Iterator[bytes]) -> int:
    return sum(len(b) for b in blocks)


def _line(what: str, size: int, bare: list[float], sealed: list[float]) -> None:
    b, s = statistics.median(bare), statistics.median(sealed)
    print(
        f"  {what:<34} bare {size / b / MB:9.1f} MB/s   sealed {size / s / MB:9.1f} MB/s"
        f"   sealed/bare {b / s:5.2f}"
    )


def _evict(path: Path) -> None:
    """Drop this one file's pages from the page cache (it was fsync'd: they are clean), so
    the next read comes from the disk, as a deployment's reads of footage mostly do."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _one_round(
    store: BlobStore,
    data: bytes,
    sha: str,
    source: Path,
    staged: Path,
    starts: list[int],
    path: Callable[[], Path],
) -> tuple[float, ...]:
    store.delete(sha)
    put_stream = _timed(lambda: store.put_stream(_chunks(data), sha))
    store.delete(sha)
    shutil.copyfile(source, staged)
    put_file = _timed(lambda: store.put_file(staged, sha))
    whole = _timed(lambda: _drain(store.read(sha)))
    ranges = _timed(lambda: [_drain(store.read(sha, a, a + PLAY_PIECE)) for a in starts])
    _evict(path())
    cold_whole = _timed(lambda: _drain(store.read(sha)))
    _evict(path())
    cold_ranges = _timed(lambda: [_drain(store.read(sha, a, a + PLAY_PIECE)) for a in starts])
    return put_stream, put_file, whole, ranges, cold_whole, cold_ranges


def unsealed_path(store: EncryptedStore, sha: str) -> Path:
    inner = store.inner
    assert isinstance(inner, FilesystemStore)
    return inner.path_of(sha)


def filesystem_encryption(work: Path, size: int, rounds: int) -> None:
    print(f"filesystem store, {size / MB:.0f} MB object, median of {rounds}:")
    system = build_system(Settings(data_dir=work / "sealed"), jobs=NoJobs(), create=True)
    sealed = system.store
    assert isinstance(sealed, EncryptedStore)
    bare = FilesystemStore(work / "bare")
    data = os.urandom(size)
    sha = hashlib.sha256(data).hexdigest()
    source = work / "footage.mp4"
    source.write_bytes(data)
    times: dict[str, tuple[list[float], list[float]]] = {
        k: ([], [])
        for k in (
            "put_stream",
            "put_file (bare: a rename)",
            "read whole",
            "player pieces",
            "read whole, from disk",
            "player pieces, from disk",
        )
    }
    rng = random.Random(7)
    starts = [rng.randrange(0, size - PLAY_PIECE) for _ in range(32)]
    paths = (lambda: bare.path_of(sha), lambda: unsealed_path(sealed, sha))
    for _ in range(rounds):
        for side, store in enumerate((bare, sealed)):
            spent = _one_round(store, data, sha, source, work / "staged.part", starts, paths[side])
            for what, seconds in zip(times, spent, strict=True):
                times[what][side].append(seconds)
    for what, (b, s) in times.items():
        _line(what, len(starts) * PLAY_PIECE if "pieces" in what else size, b, s)
    assert b"".join(sealed.read(sha, 5, 5 + BLOCK)) == data[5 : 5 + BLOCK]
    system.engine.dispose()


def fixity(work: Path, size: int, rounds: int) -> None:
    print(f"fixity, {size / MB:.0f} MB object, median of {rounds}:")
    system = build_system(Settings(data_dir=work / "fixity"), jobs=NoJobs(), create=True)
    data = os.urandom(size)
    sha = system.store.put_stream(_chunks(data)).sha256
    plain = work / "plain.bin"
    plain.write_bytes(data)
    ours, tool, python = [], [], []
    for _ in range(rounds):
        ours.append(_timed(lambda: check_object(system.store, sha)))
        tool.append(
            _timed(
                lambda: subprocess.run(["sha256sum", str(plain)], check=True, capture_output=True)
            )
        )
        python.append(_timed(lambda: hashlib.file_digest(plain.open("rb"), "sha256")))
    assert check_object(system.store, sha).outcome == "intact"
    for what, spent in (
        ("custody fixity (open + hash)", ours),
        ("sha256sum (plaintext file)", tool),
        ("hashlib (plaintext file)", python),
    ):
        print(f"  {what:<34} {size / statistics.median(spent) / MB:9.1f} MB/s")
    print(f"  fixity/sha256sum {statistics.median(tool) / statistics.median(ours):5.2f}")
    system.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.mb * MB
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        filesystem_encryption(Path(tmp), size, args.rounds)
        fixity(Path(tmp), size, args.rounds)
    with open("/proc/loadavg") as load:
        print(f"load average: {load.read().strip()}")


if __name__ == "__main__":
    main()
