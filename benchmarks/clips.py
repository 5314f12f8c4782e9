"""How fast is a lossless clip, beside plain copying the same bytes, and how much memory?

Writes a recording of simulated footage (default 20 minutes at 2 Mbit/s, about 300 MB),
puts it in a filesystem store, then cuts a clip of the middle half by stream copy
(`custody.services.disclosure.cutting`, read through the store's range reads, written to a
file, streamed into the store) and, in the same run, plain copies the same number of bytes
of the original out of the store and into it again, hashing as the store does. Prints both
times, their ratio and the cut's peak memory (the growth of the process's peak RSS).

    .venv/bin/python benchmarks/clips.py [--minutes 20] [--bitrate 2000000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from custody.camera.footage import write_footage
from custody.services.disclosure.cutting import stream_copy
from custody.services.recordings.media import StoreReader
from custody.storage.filesystem import FilesystemStore

BLOCK = 1024 * 1024


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """The process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return _peak_rss_mb()


def _cut(
    root: Path, sha256: str, seconds: float
) -> tuple[str, int, float, int, float, float, float]:
    """Cut the middle half of the stored recording into the store (in a process of its own)."""
    store = FilesystemStore(root / "store")
    before = _rss_mb()
    started = time.perf_counter()
    clip_file = root / "clip.mp4"
    cut = stream_copy(StoreReader(store, sha256), clip_file, seconds / 4, 3 * seconds / 4)
    with open(clip_file, "rb") as handle:
        clip = store.put_stream(iter(lambda: handle.read(BLOCK), b""))
    elapsed = time.perf_counter() - started
    clip_file.unlink()
    return (
        clip.sha256, clip.size, cut.duration_seconds, cut.video_packets, elapsed, before,
        _peak_rss_mb(),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--bitrate", type=int, default=2_000_000)
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        original = root / "original.mp4"
        started = time.perf_counter()
        write_footage(
            original,
            started_at=datetime(2026, 10, 1, 9, tzinfo=UTC),
            duration=seconds,
            serial="BENCH",
            video_bitrate=args.bitrate,
        )
        print(f"footage: {original.stat().st_size / 1e6:.0f} MB, {args.minutes:g} min, "
              f"written in {time.perf_counter() - started:.1f} s")  # fmt: skip
        store = FilesystemStore(root / "store")
        with open(original, "rb") as handle:
            stored = store.put_stream(iter(lambda: handle.read(BLOCK), b""))
        original.unlink()

        # In a fresh process, so that its peak memory is the cut's and not the footage's.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            clip_sha, clip_size, duration, packets, cut_seconds, before, after = pool.submit(
                _cut, root, stored.sha256, seconds
            ).result()
        peak = after - before
        clip = store.size(clip_sha)
        assert clip == clip_size

        # The baseline: the same number of bytes read from the store, hashed, stored again.
        start_byte = stored.size // 4
        started = time.perf_counter()
        copied = store.put_stream(
            block for block in store.read(stored.sha256, start_byte, start_byte + clip_size)
        )
        copy_seconds = time.perf_counter() - started
        store.delete(copied.sha256)

    print(f"clip: {clip_size / 1e6:.0f} MB, {duration:.0f} s of video, "
          f"{packets} video packets")  # fmt: skip
    rate = clip_size / 1e6 / cut_seconds
    print(f"stream copy into the store: {cut_seconds:.2f} s ({rate:.0f} MB/s)")
    print(f"plain copy of as many bytes: {copy_seconds:.2f} s "
          f"({clip_size / 1e6 / copy_seconds:.0f} MB/s)")  # fmt: skip
    print(f"ratio (copy time / cut time): {copy_seconds / cut_seconds:.2f}")
    print(f"peak memory of the cutting process beyond its start: {peak:.0f} MB")


if __name__ == "__main__":
    main()
