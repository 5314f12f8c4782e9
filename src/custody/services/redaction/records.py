"""The redaction record: what a court could check of a redacted copy.

The model's name and SHA-256 and the scan's thresholds; the choices (which tracks, which
manual boxes, which audio muted, or everything), who made them and when; every box on every
frame, compressed; the render's settings; once rendered, the copy's hash and size; once
approved, who approved. The render reads its boxes from the record alone, so rendering the
record again gives the same boxes, frame for frame.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from custody.domain.redaction import (
    Box,
    FrameBox,
    Track,
    box_at,
    decode_boxes,
    encode_boxes,
    frame_boxes,
    mute_ranges,
    track_boxes,
)
from custody.services.redaction.faces import ScanSettings
from custody.services.redaction.render import RenderSettings

FORMAT = "custody-redaction-record/1"
# Each face's box is grown this much about its centre (hair, ears, the edge of a cheek).
MASK_SCALE = 1.4
BOX_ENCODING = "zlib(JSON rows [frame, x1, y1, x2, y2, source]), base64; pixels of the original"

Record = dict[str, Any]


@dataclass(frozen=True)
class ManualBox:
    """A box a reviewer drew, keyframed (frame, x1, y1, x2, y2) and interpolated between."""

    label: str
    keyframes: tuple[tuple[int, int, int, int, int], ...]


@dataclass(frozen=True)
class Choices:
    """What the reviewer chose to redact."""

    blur_tracks: tuple[int, ...] = ()
    manual: tuple[ManualBox, ...] = ()
    mute: tuple[tuple[float, float], ...] = ()
    everything: bool = False
    remove_audio: bool = False
    # (keep, absorb): one person the detector lost and found again, followed as one track.
    merge: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Footage:
    sha256: str
    width: int
    height: int
    fps: float
    frame_count: int


@dataclass(frozen=True)
class Scanned:
    """The scan the choices were made on."""

    id: str
    model_name: str
    model_sha256: str
    settings: ScanSettings
    tracks: list[Track] = field(default_factory=list)


def _manual_boxes(index: int, manual: ManualBox, footage: Footage) -> list[FrameBox]:
    keys = sorted((k[0], Box(k[1], k[2], k[3], k[4])) for k in manual.keyframes)
    spread: dict[int, Box] = {}
    for frame in range(max(0, keys[0][0]), min(footage.frame_count - 1, keys[-1][0]) + 1):
        box = box_at(keys, frame)
        if box is not None:
            spread[frame] = box
    return frame_boxes(spread, f"manual:{index}", scale=1.0, width=footage.width,
                       height=footage.height)  # fmt: skip


def plan_record(
    *,
    redaction_id: str,
    recording_id: str,
    footage: Footage,
    scan: Scanned | None,
    choices: Choices,
    chosen_by: str,
    chosen_at: str,
    render: RenderSettings,
) -> Record:
    """The record of a redaction before its render: everything the render needs."""
    boxes: list[FrameBox] = []
    if not choices.everything:
        tracks = {t.id: t for t in (scan.tracks if scan else [])}
        hold = scan.settings.stride if scan else 0
        for track_id in choices.blur_tracks:
            spread = track_boxes(tracks[track_id], footage.frame_count, hold=hold)
            boxes += frame_boxes(spread, f"track:{track_id}", scale=MASK_SCALE,
                                 width=footage.width, height=footage.height)  # fmt: skip
        for index, manual in enumerate(choices.manual, start=1):
            boxes += _manual_boxes(index, manual, footage)
    encoded = encode_boxes(boxes)
    return {
        "format": FORMAT,
        "redaction": redaction_id,
        "recording": recording_id,
        "original": asdict(footage),
        "model": None if scan is None else {"name": scan.model_name, "sha256": scan.model_sha256},
        "scan": None
        if scan is None
        else {"id": scan.id, "settings": asdict(scan.settings), "mask_scale": MASK_SCALE},
        "choices": {
            "mode": "everything" if choices.everything else "selected",
            "merged_tracks": [list(pair) for pair in choices.merge],
            "blur_tracks": sorted(choices.blur_tracks),
            "tracks_not_blurred": sorted(
                t.id for t in (scan.tracks if scan else []) if t.id not in choices.blur_tracks
            ),
            "manual": [
                {"id": i, "label": m.label, "keyframes": [list(k) for k in m.keyframes]}
                for i, m in enumerate(choices.manual, start=1)
            ],
            "mute_seconds": [list(r) for r in mute_ranges(choices.mute)],
            "remove_audio": choices.remove_audio,
            "chosen_by": chosen_by,
            "chosen_at": chosen_at,
        },
        "boxes": {
            "encoding": BOX_ENCODING,
            "count": len(boxes),
            "data": encoded,
        },
        "render": render.as_record(),
        "output": None,
        "approval": None,
    }


def record_boxes(record: Record) -> list[FrameBox]:
    """Every box the record says to blur."""
    return decode_boxes(str(record["boxes"]["data"]))


def record_bytes(record: Record) -> bytes:
    """The record as the JSON stored beside the copy: sorted keys, indented, UTF-8."""
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()


def record_sha256(record: Record) -> str:
    return hashlib.sha256(record_bytes(record)).hexdigest()
