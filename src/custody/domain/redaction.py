"""Redaction's rules as plain Python: boxes, following faces between detections, keyframes,
and the compact list of every box on every frame that a redaction record carries.

The detector runs on some frames only (every `stride`-th); a person is followed from one
detection to the next by overlap with where they were heading (a constant-velocity
guess, the small IoU tracker of SORT without its Kalman covariance), and between two
detections of one track the box is interpolated, so that no frame between a track's first
and last detection goes unblurred. Manual boxes (a plate, a screen, a tattoo) are keyframed
the same way. Everything here is deterministic: the same detections give the same tracks,
and the same record the same boxes, frame by frame.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Boxes in a record are whole pixels of the original frame: exact, and the same on every
# machine (no float formatting between the record and the render).
BOX_FIELDS = ("frame", "x1", "y1", "x2", "y2", "source")


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels of the original frame: left, top, right, bottom."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    def scaled(self, factor: float) -> Box:
        """The box grown (or shrunk) about its centre by `factor` in each direction."""
        cx, cy = (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2
        half_w, half_h = self.width * factor / 2, self.height * factor / 2
        return Box(cx - half_w, cy - half_h, cx + half_w, cy + half_h)

    def clipped(self, width: int, height: int) -> Box:
        return Box(
            min(max(0.0, self.x1), width),
            min(max(0.0, self.y1), height),
            min(max(0.0, self.x2), width),
            min(max(0.0, self.y2), height),
        )

    def pixels(self) -> tuple[int, int, int, int]:
        """The whole pixels the box touches: floor of the top left, ceiling of the bottom right."""
        return (
            int(self.x1 // 1),
            int(self.y1 // 1),
            int(-(-self.x2 // 1)),
            int(-(-self.y2 // 1)),
        )


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def lerp(a: Box, b: Box, t: float) -> Box:
    """The box a fraction `t` of the way from `a` to `b`."""
    return Box(
        a.x1 + (b.x1 - a.x1) * t,
        a.y1 + (b.y1 - a.y1) * t,
        a.x2 + (b.x2 - a.x2) * t,
        a.y2 + (b.y2 - a.y2) * t,
    )


@dataclass(frozen=True)
class Detection:
    """A face the detector found on one frame, with its confidence (0 to 1)."""

    frame: int
    box: Box
    score: float


@dataclass
class Track:
    """One person followed through a recording: their detections, in frame order."""

    id: int
    detections: list[Detection] = field(default_factory=list)

    @property
    def first_frame(self) -> int:
        return self.detections[0].frame

    @property
    def last_frame(self) -> int:
        return self.detections[-1].frame

    @property
    def best(self) -> Detection:
        """The most confident detection (the earliest of equals): the track's thumbnail."""
        return max(self.detections, key=lambda d: (d.score, -d.frame))

    def predicted(self, frame: int) -> Box:
        """Where the face is likely to be on `frame`, going on as it was going."""
        last = self.detections[-1]
        if len(self.detections) < 2:
            return last.box
        before = self.detections[-2]
        span = last.frame - before.frame
        if span <= 0:
            return last.box
        return lerp(before.box, last.box, (frame - before.frame) / span)


class Tracker:
    """Follows faces through detection frames given in order, one frame at a time.

    A detection joins the live track whose predicted box overlaps it most (greedy, best
    overlap first, at least `iou_threshold`); one that joins none starts a track. A track
    not seen for more than `max_gap` frames ends. Tracks are numbered from 1 in the order
    they start.
    """

    def __init__(self, *, iou_threshold: float = 0.2, max_gap: int = 25) -> None:
        self.iou_threshold = iou_threshold
        self.max_gap = max_gap
        self._live: list[Track] = []
        self._ended: list[Track] = []
        self._next_id = 1

    def step(self, frame: int, detections: Sequence[Detection]) -> list[int]:
        """Take one frame's detections; the track id each one joined, in their order."""
        still: list[Track] = []
        for track in self._live:
            (still if frame - track.last_frame <= self.max_gap else self._ended).append(track)
        live = self._live = still
        pairs = sorted(
            (
                (iou(track.predicted(frame), det.box), t, d)
                for t, track in enumerate(live)
                for d, det in enumerate(detections)
            ),
            key=lambda p: (-p[0], p[1], p[2]),
        )
        joined: dict[int, int] = {}
        taken: set[int] = set()
        for overlap, t, d in pairs:
            if overlap < self.iou_threshold:
                break
            if t in taken or d in joined:
                continue
            live[t].detections.append(detections[d])
            joined[d] = live[t].id
            taken.add(t)
        for d, det in enumerate(detections):
            if d not in joined:
                live.append(Track(self._next_id, [det]))
                joined[d] = self._next_id
                self._next_id += 1
        return [joined[d] for d in range(len(detections))]

    def tracks(self) -> list[Track]:
        """Every track so far, ended or live, by id."""
        return sorted(self._ended + self._live, key=lambda t: t.id)


def track_detections(
    frames: Iterable[tuple[int, Sequence[Detection]]],
    *,
    iou_threshold: float = 0.2,
    max_gap: int = 25,
) -> list[Track]:
    """The tracks of detection frames given in order, each with its detections (see Tracker)."""
    tracker = Tracker(iou_threshold=iou_threshold, max_gap=max_gap)
    for frame, detections in frames:
        tracker.step(frame, detections)
    return tracker.tracks()


def merge_tracks(tracks: Sequence[Track], keep: int, absorb: int) -> list[Track]:
    """The tracks with `absorb` folded into `keep` (one person the detector lost and found
    again): their detections together in frame order, the higher score where both saw a
    frame. ValueError if either is missing or they are the same."""
    if keep == absorb:
        raise ValueError("a track cannot be merged into itself")
    by_id = {t.id: t for t in tracks}
    if keep not in by_id or absorb not in by_id:
        raise ValueError("no such track")
    merged: dict[int, Detection] = {}
    for det in by_id[keep].detections + by_id[absorb].detections:
        if det.frame not in merged or det.score > merged[det.frame].score:
            merged[det.frame] = det
    joined = Track(keep, [merged[f] for f in sorted(merged)])
    return [joined if t.id == keep else t for t in tracks if t.id != absorb]


def found_again(earlier: Track, later: Track, *, within: int, reach: float = 1.5) -> bool:
    """Could `later` be the person of `earlier` found again (behind a pillar, say): it starts
    after `earlier` ends, no more than `within` frames later, and its first box is where
    `earlier` was heading — centres no further apart than `reach` face widths."""
    gap = later.first_frame - earlier.last_frame
    if gap <= 0 or gap > within:
        return False
    heading = earlier.predicted(later.first_frame)
    first = later.detections[0].box
    dx = (heading.x1 + heading.x2 - first.x1 - first.x2) / 2
    dy = (heading.y1 + heading.y2 - first.y1 - first.y2) / 2
    size = max(heading.width, first.width, 1.0)
    return bool(math.hypot(dx, dy) <= reach * size)


def box_at(keyframes: Sequence[tuple[int, Box]], frame: int, *, hold: int = 0) -> Box | None:
    """The box on `frame` from keyframes in frame order: interpolated between two keyframes,
    held for `hold` frames before the first and after the last, else None."""
    if not keyframes:
        return None
    first, last = keyframes[0], keyframes[-1]
    if frame < first[0]:
        return first[1] if first[0] - frame <= hold else None
    if frame > last[0]:
        return last[1] if frame - last[0] <= hold else None
    lo, hi = 0, len(keyframes) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if keyframes[mid][0] <= frame:
            lo = mid
        else:
            hi = mid
    a, b = keyframes[lo], keyframes[hi]
    if a[0] == frame or a[0] == b[0]:
        return a[1]
    if b[0] == frame:
        return b[1]
    return lerp(a[1], b[1], (frame - a[0]) / (b[0] - a[0]))


def track_boxes(track: Track, frame_count: int, *, hold: int) -> dict[int, Box]:
    """A track's box on every frame it covers: from `hold` frames before its first detection
    to `hold` frames after its last, interpolated between detections."""
    keys = [(d.frame, d.box) for d in track.detections]
    start = max(0, track.first_frame - hold)
    end = min(frame_count - 1, track.last_frame + hold)
    found: dict[int, Box] = {}
    for frame in range(start, end + 1):
        box = box_at(keys, frame, hold=hold)
        if box is not None:
            found[frame] = box
    return found


@dataclass(frozen=True)
class FrameBox:
    """A box to blur on one frame, in whole pixels, and what put it there
    (`track:<n>` for a chosen track, `manual:<n>` for a reviewer's box)."""

    frame: int
    x1: int
    y1: int
    x2: int
    y2: int
    source: str


def frame_boxes(
    boxes: dict[int, Box], source: str, *, scale: float, width: int, height: int
) -> list[FrameBox]:
    """Boxes by frame as whole-pixel blur areas: grown by `scale`, kept inside the frame,
    empty ones dropped."""
    out: list[FrameBox] = []
    for frame in sorted(boxes):
        x1, y1, x2, y2 = boxes[frame].scaled(scale).clipped(width, height).pixels()
        if x2 > x1 and y2 > y1:
            out.append(FrameBox(frame, x1, y1, x2, y2, source))
    return out


def encode_boxes(boxes: Iterable[FrameBox]) -> str:
    """Every box as one compact text: JSON rows [frame, x1, y1, x2, y2, source] in frame order,
    deflated and base64 encoded (a record of an hour's footage stays small)."""
    rows = sorted(
        ([b.frame, b.x1, b.y1, b.x2, b.y2, b.source] for b in boxes),
        key=lambda r: (r[0], str(r[5]), r[1], r[2]),
    )
    raw = json.dumps(rows, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_boxes(text: str) -> list[FrameBox]:
    """The boxes of `encode_boxes`; ValueError if the text is not such a list."""
    try:
        rows = json.loads(zlib.decompress(base64.b64decode(text, validate=True)))
    except (ValueError, zlib.error) as exc:
        raise ValueError(f"the boxes are not readable: {exc}") from None
    if not isinstance(rows, list):
        raise ValueError("the boxes are not a list")
    out: list[FrameBox] = []
    for row in rows:
        if (
            not isinstance(row, list)
            or len(row) != len(BOX_FIELDS)
            or not all(type(v) is int for v in row[:5])
            or not isinstance(row[5], str)
        ):
            raise ValueError(f"a box is not [frame, x1, y1, x2, y2, source]: {row!r}")
        out.append(FrameBox(row[0], row[1], row[2], row[3], row[4], row[5]))
    return out


def boxes_by_frame(boxes: Iterable[FrameBox]) -> dict[int, list[FrameBox]]:
    """The boxes grouped by the frame they blur."""
    grouped: dict[int, list[FrameBox]] = {}
    for box in boxes:
        grouped.setdefault(box.frame, []).append(box)
    return grouped


def mute_ranges(ranges: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Audio ranges (seconds) to silence, checked, sorted and joined where they overlap."""
    cleaned: list[tuple[float, float]] = []
    for start, end in sorted(ranges):
        if not (math.isfinite(start) and math.isfinite(end) and start >= 0 and end > start):
            raise ValueError(f"a mute range must start at or after 0 and end after it: {start}")
        if cleaned and start <= cleaned[-1][1]:
            cleaned[-1] = (cleaned[-1][0], max(cleaned[-1][1], end))
        else:
            cleaned.append((start, end))
    return cleaned


def recall(
    truth: dict[int, list[Box]], found: dict[int, list[Box]], *, threshold: float = 0.3
) -> tuple[int, int]:
    """How many true faces (per frame) a found box overlaps by at least `threshold` IoU,
    and how many there were: (hit, total). Each found box matches one face at most."""
    hit = total = 0
    for frame, faces in truth.items():
        candidates = list(found.get(frame, ()))
        total += len(faces)
        for face in faces:
            best, best_i = 0.0, -1
            for i, box in enumerate(candidates):
                overlap = iou(face, box)
                if overlap > best:
                    best, best_i = overlap, i
            if best >= threshold:
                hit += 1
                candidates.pop(best_i)
    return hit, total
