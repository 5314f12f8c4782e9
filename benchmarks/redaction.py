"""Face detection and tracking beside deface, on the same 720p clip with real faces.

Writes a clip of simulated footage (1280x720, 25 fps) in which three people walk across a
street, one passing behind a pillar (`custody.camera.faces`), with the ground truth of
every face on every frame. Then, in the same run, on the same two cores:

- Custody: decode with PyAV, detect with CenterFace (the weights deface ships, checked by
  SHA-256) on every third frame at 640x360, follow faces between detections (timed from
  loading the model to the last track);
- deface's own CLI on the same clip at the same detection size (`--scale 640x360`),
  timed as a process: it detects on every frame, blurs and writes its copy;
- Custody end to end: the scan, then the redacted copy of every track rendered and encoded
  (the same work deface's CLI does), so that the comparison is also made like for like.

Recall is per frame, a true face found when a box overlaps it by IoU at least 0.3, over
the faces at least half visible. deface's boxes are its own CenterFace class on every
frame at its defaults (threshold 0.2), as its CLI runs it (deface prints no boxes).

    .venv/bin/python benchmarks/redaction.py [--seconds 20] [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from custody.camera.faces import read_truth, write_face_footage
from custody.domain.redaction import Box, boxes_by_frame, frame_boxes, recall, track_boxes
from custody.services.redaction.faces import FaceDetector, ScanSettings, scan_faces
from custody.services.redaction.model import verified_model
from custody.services.redaction.records import MASK_SCALE
from custody.services.redaction.render import RenderSettings, render_copy

DETECT = (640, 360)
DEFACE_THRESHOLD = 0.2
# onnxruntime lists its Azure provider first, and deface takes the first: name the CPU's.
CPU = "CPUExecutionProvider"


def _truth(path: Path) -> dict[int, list[Box]]:
    return {
        frame: [Box(*face[:4]) for face in faces if face[4] >= 0.5]
        for frame, faces in read_truth(path).items()
    }


def _deface_boxes(clip: Path) -> dict[int, list[Box]]:
    """deface's detections on every frame, by its own CenterFace class and reader."""
    import imageio.v2 as imageio
    from deface.centerface import CenterFace

    centerface = CenterFace(in_shape=DETECT, backend="onnxrt", override_execution_provider=CPU)
    found: dict[int, list[Box]] = {}
    reader = imageio.get_reader(str(clip))
    for index, frame in enumerate(reader.iter_data()):
        dets, _ = centerface(frame, threshold=DEFACE_THRESHOLD)
        found[index] = [Box(*d[:4]) for d in dets.tolist()]
    reader.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="a 2-second clip")
    parser.add_argument("--stride", type=int, default=3)
    args = parser.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    deface = shutil.which("deface") or str(Path(sys.executable).parent / "deface")
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        clip = root / "street.mp4"
        truth = _truth(write_face_footage(clip, started_at=datetime(2026, 10, 1, 9, tzinfo=UTC),
                                          duration=seconds, serial="BWV-BENCH"))  # fmt: skip
        frames = len(truth)
        print(f"clip: {seconds:.0f} s of 1280x720 at 25 fps ({frames} frames), "
              f"{sum(len(f) for f in truth.values())} faces at least half visible; "
              f"detection at {DETECT[0]}x{DETECT[1]}; {cores} cores")  # fmt: skip

        settings = ScanSettings(detect_width=DETECT[0], detect_height=DETECT[1],
                                stride=args.stride)  # fmt: skip
        started, cpu = time.perf_counter(), time.process_time()
        detector = FaceDetector(verified_model(), threshold=settings.threshold)
        load_s, load_cpu = time.perf_counter() - started, time.process_time() - cpu
        scan = scan_faces(str(clip), detector, settings)
        custody_s = time.perf_counter() - started
        custody_cpu = time.process_time() - cpu
        scan_s, scan_cpu = custody_s - load_s, custody_cpu - load_cpu
        found: dict[int, list[Box]] = {}
        spread: list = []  # type: ignore[type-arg]
        for track in scan.tracks:
            boxes = track_boxes(track, scan.frame_count, hold=settings.stride)
            for frame, box in boxes.items():
                found.setdefault(frame, []).append(box)
            spread += frame_boxes(boxes, f"track:{track.id}", scale=MASK_SCALE,
                                  width=scan.width, height=scan.height)  # fmt: skip
        hit, total = recall(truth, found)
        custody_recall = hit / total
        # Loading the model (mostly importing onnx) is paid once per worker process, not
        # per scan: shown apart, but counted in the comparison with deface's whole CLI.
        print(
            f"custody: {custody_s:.2f} s ({custody_cpu:.1f} CPU s), {frames / custody_s:.1f} fps, "
            f"{len(scan.tracks)} tracks, recall {custody_recall:.3f} ({hit}/{total}); "
            f"of which loading the model {load_s:.2f} s ({load_cpu:.1f} CPU s), then the scan "
            f"{frames / scan_s:.1f} fps, {1000 * scan_cpu / frames:.1f} CPU ms a frame"
        )

        started = time.perf_counter()
        render_copy(str(clip), lambda: str(clip), root / "redacted.mp4", boxes_by_frame(spread),
                    everything=False, mute=[], remove_audio=False,
                    settings=RenderSettings())  # fmt: skip
        render_s = time.perf_counter() - started
        print(f"custody render of every track: {render_s:.2f} s, {frames / render_s:.1f} fps")

        started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [deface, str(clip), "--scale", f"{DETECT[0]}x{DETECT[1]}", "--backend", "onnxrt",
             "--execution-provider", CPU, "-o", str(root / "deface.mp4")],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deface_s = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        deface_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        print(f"deface CLI: {deface_s:.2f} s ({deface_cpu:.1f} CPU s), "
              f"{frames / deface_s:.1f} fps, {1000 * deface_cpu / frames:.1f} CPU ms a frame",
              flush=True)  # fmt: skip
        d_hit, d_total = recall(truth, _deface_boxes(clip))
        deface_recall = d_hit / d_total
        print(f"deface recall {deface_recall:.3f} ({d_hit}/{d_total})")

    ratio = deface_s / custody_s
    whole = deface_s / (custody_s + render_s)
    print(
        f"detection and tracking: {ratio:.2f}x deface's CLI; scan and render: {whole:.2f}x; "
        f"real time is {frames / seconds:.0f} fps"
    )
    # On a busy machine wall time is shared with others: CPU time says what the work costs,
    # and frames per CPU second times the cores is what these cores would do alone.
    print(
        f"CPU time: {deface_cpu / custody_cpu:.2f}x less than deface's; alone on {cores} cores "
        f"about {frames * cores / custody_cpu:.0f} fps, {frames * cores / scan_cpu:.0f} once the "
        f"model is loaded (deface {frames * cores / deface_cpu:.0f})"
    )
    load = ", ".join(f"{figure:.1f}" for figure in os.getloadavg())
    print(
        f"redaction: {ratio:.2f}x deface, recall {custody_recall:.2f} "
        f"(deface {deface_recall:.2f}), {frames / scan_s:.1f} fps "
        f"({frames / custody_s:.1f} with loading the model; with render {whole:.2f}x deface, "
        f"{frames / (custody_s + render_s):.1f} fps), load average {load}"
    )


if __name__ == "__main__":
    main()
