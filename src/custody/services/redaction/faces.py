"""Finding faces in footage and following each person through it.

Footage is decoded with PyAV on one thread while the detector runs on the others (both
release the GIL): every `stride`-th frame is scaled, in the decoder's own scaler, to the
detection size and given to CenterFace (one frame at a time by default: see
ScanSettings.batch); the tracker (domain/redaction.py) follows faces between those frames.
Each track keeps the crop of its most confident detection as its thumbnail.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import av
import numpy as np
from PIL import Image

from custody.domain.redaction import Box, Detection, Track, Tracker
from custody.services.redaction.model import INPUT_NAME, OUTPUT_NAMES, FaceModel, open_session

# CenterFace's output is a quarter of its input, which must be a multiple of 32 each way.
NET_STRIDE = 4
NET_MULTIPLE = 32
NMS_IOU = 0.3
THUMB_SIZE = 96
QUEUE_DEPTH = 16


class FootageUnreadable(Exception):
    """The footage does not decode."""


@dataclass(frozen=True)
class ScanSettings:
    """How a scan looks for faces: recorded in every record made from it."""

    detect_width: int = 640
    detect_height: int = 360
    stride: int = 3
    threshold: float = 0.3
    # The network takes a batch, but on CPU a batch costs no less per frame than one frame
    # at a time (measured 20-25 ms of CPU a frame either way) and holds more frames back.
    batch: int = 1
    track_iou: float = 0.2
    max_gap_frames: int = 25


@dataclass
class FaceScan:
    """What a scan found: the footage's shape and the tracks, each with its thumbnail (JPEG)."""

    width: int
    height: int
    fps: float
    frame_count: int
    tracks: list[Track]
    thumbnails: dict[int, bytes] = field(default_factory=dict)


def net_size(width: int, height: int) -> tuple[int, int]:
    """The detector's input size for a detection size: each side up to a multiple of 32."""
    return (-(-width // NET_MULTIPLE) * NET_MULTIPLE, -(-height // NET_MULTIPLE) * NET_MULTIPLE)


class FaceDetector:
    """CenterFace on batches of RGB frames already at the detector's input size."""

    def __init__(self, model: FaceModel, *, threshold: float, threads: int | None = None) -> None:
        self.model = model
        self.threshold = threshold
        self.session = open_session(model, threads=threads)

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        """Boxes (x1, y1, x2, y2, score) in input pixels for each frame of a (B, H, W, 3) batch."""
        blob = np.ascontiguousarray(frames.transpose(0, 3, 1, 2), dtype=np.float32)
        heat, scale, offset = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: blob})
        return [
            _decode(heat[i, 0], scale[i], offset[i], self.threshold) for i in range(len(frames))
        ]


def _decode(heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, threshold: float) -> Any:
    rows, cols = np.nonzero(heat > threshold)
    if rows.size == 0:
        return np.empty((0, 5), dtype=np.float32)
    h = np.exp(scale[0, rows, cols]) * NET_STRIDE
    w = np.exp(scale[1, rows, cols]) * NET_STRIDE
    cy = (rows + offset[0, rows, cols] + 0.5) * NET_STRIDE
    cx = (cols + offset[1, rows, cols] + 0.5) * NET_STRIDE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, heat[rows, cols]], axis=1)
    return boxes[_nms(boxes)]


def _nms(boxes: np.ndarray) -> np.ndarray:
    order = np.argsort(-boxes[:, 4], kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0])
        h = np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1])
        inter = np.clip(w, 0, None) * np.clip(h, 0, None)
        overlap = inter / (areas[i] + areas[rest] - inter)
        order = rest[overlap < NMS_IOU]
    return np.array(keep, dtype=np.int64)


@dataclass(frozen=True)
class _Shape:
    width: int
    height: int
    fps: float


def _frames(
    source: str | IO[bytes] | Any,
    settings: ScanSettings,
    shape: list[_Shape],
    out: queue.Queue[Any],
) -> None:
    """Decode on this thread, putting (index, picture or None) on `out`, then a None."""
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.video:
                raise FootageUnreadable("the footage has no video")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            shape.append(_Shape(stream.codec_context.width, stream.codec_context.height, fps))
            net_w, net_h = net_size(settings.detect_width, settings.detect_height)
            for index, frame in enumerate(container.decode(stream)):
                if index % settings.stride:
                    out.put((index, None))
                    continue
                small = frame.reformat(width=net_w, height=net_h, format="rgb24")
                out.put((index, small.to_ndarray()))
        out.put(None)
    except (av.error.FFmpegError, FootageUnreadable) as exc:
        out.put(FootageUnreadable(str(exc)))
    except BaseException as exc:  # handed to the scanning thread, which raises it
        out.put(exc)


class _Feed:
    """The decoder's output read as batches of detection frames; counts every frame."""

    def __init__(self, frames: queue.Queue[Any], size: int) -> None:
        self.frames = frames
        self.size = size
        self.count = 0

    def batches(self) -> Iterator[list[tuple[int, np.ndarray]]]:
        batch: list[tuple[int, np.ndarray]] = []
        while True:
            item = self.frames.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            index, picture = item
            self.count = index + 1
            if picture is None:
                continue
            batch.append((index, picture))
            if len(batch) == self.size:
                yield batch
                batch = []
        if batch:
            yield batch


def _thumbnail(picture: np.ndarray, box: list[float]) -> bytes:
    """A square JPEG of a face and a little around it, from the detection-sized picture."""
    x1, y1, x2, y2 = box[:4]
    side = max(x2 - x1, y2 - y1) * 1.4
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    height, width = picture.shape[:2]
    left, top = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    right, bottom = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    crop = Image.fromarray(picture[top : max(bottom, top + 1), left : max(right, left + 1)])
    crop = crop.resize((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=85)
    return out.getvalue()


def scan_faces(
    source: str | IO[bytes] | Any, detector: FaceDetector, settings: ScanSettings
) -> FaceScan:
    """Find and follow the faces in a piece of footage (a path or a seekable file);
    FootageUnreadable if it does not decode."""
    shape: list[_Shape] = []
    frames: queue.Queue[Any] = queue.Queue(QUEUE_DEPTH)
    worker = threading.Thread(
        target=_frames, args=(source, settings, shape, frames), daemon=True, name="face-decode"
    )
    worker.start()
    feed = _Feed(frames, settings.batch)
    tracker = Tracker(iou_threshold=settings.track_iou, max_gap=settings.max_gap_frames)
    best: dict[int, tuple[float, bytes]] = {}
    try:
        for batch in feed.batches():
            found = detector.detect(np.stack([picture for _, picture in batch]))
            sx = shape[0].width / batch[0][1].shape[1]
            sy = shape[0].height / batch[0][1].shape[0]
            for (index, picture), boxes in zip(batch, found, strict=True):
                raw = boxes.tolist()
                detections = [
                    Detection(index, Box(b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy), float(b[4]))
                    for b in raw
                ]
                ids = tracker.step(index, detections)
                for track_id, det, box in zip(ids, detections, raw, strict=True):
                    if track_id not in best or det.score > best[track_id][0]:
                        best[track_id] = (det.score, _thumbnail(picture, box))
    finally:
        # Drain so that a decoder blocked on a full queue can finish.
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                frames.get(timeout=0.1)
        worker.join()
    if not shape:
        raise FootageUnreadable("the footage has no video")
    return FaceScan(
        width=shape[0].width,
        height=shape[0].height,
        fps=shape[0].fps,
        frame_count=feed.count,
        tracks=tracker.tracks(),
        thumbnails={track_id: jpeg for track_id, (_, jpeg) in best.items()},
    )
