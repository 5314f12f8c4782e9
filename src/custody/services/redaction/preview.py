"""A preview before rendering: one still frame of the original at a chosen moment, with the
boxes the reviewer has planned blurred exactly as the render would blur them, and outlined.

The still is made in memory from the store (PyAV decodes from the keyframe before the
moment, numpy/PIL blur) and answered once: it is never stored, so it is no evidence and no
copy. It shows footage, so each preview is audited on the recording (`user:redaction:preview`)
with the moment and the number of boxes, after the still was made.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Any

import av
from PIL import ImageDraw

from custody.domain.actor import Actor
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.domain.redaction import FrameBox
from custody.services.recordings.media import StoreReader
from custody.services.redaction import scans
from custody.services.redaction.planning import measured_footage, plan_choices
from custody.services.redaction.records import Choices, record_boxes
from custody.services.redaction.render import RenderFailed, blot, everything_blurred
from custody.services.system import System

PREVIEW = "user:redaction:preview"
OUTLINE = (255, 196, 0)
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Preview:
    jpeg: bytes
    frame: int
    seconds: float
    boxes: int


def still(
    source: str | IO[bytes] | Any, frame: int, fps: float, boxes: list[FrameBox], everything: bool
) -> bytes:
    """The frame numbered `frame` (counted from the first decoded, as the render counts),
    blurred as the render would blur it and each box outlined; a JPEG."""
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.video:
                raise RenderFailed("the original has no video")
            stream = container.streams.video[0]
            base, start = stream.time_base, stream.start_time or 0
            if frame > 0 and base:
                container.seek(start + int(frame / fps / base), stream=stream, backward=True)
            shown = None
            for decoded in container.decode(stream):
                shown = decoded
                at = float(((decoded.pts or 0) - start) * base) if base else 0.0
                if round(at * fps) >= frame:
                    break
            if shown is None:
                raise RenderFailed("the original has no frame there")
            picture = shown.to_image()  # type: ignore[no-untyped-call]
    except av.error.FFmpegError as exc:
        raise RenderFailed(str(exc)) from None
    if everything:
        picture = everything_blurred(picture)
    else:
        for box in boxes:
            blot(picture, (box.x1, box.y1, box.x2, box.y2))
    draw = ImageDraw.Draw(picture)
    for box in boxes:
        draw.rectangle((box.x1, box.y1, box.x2 - 1, box.y2 - 1), outline=OUTLINE, width=2)
    out = io.BytesIO()
    picture.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def preview_redaction(
    system: System,
    principal: Principal,
    recording_id: str,
    choices: Choices,
    actor: Actor,
    *,
    seconds: float,
    scan_id: str | None = None,
) -> Preview:
    """The still at `seconds` with these choices applied (checked as a render's are)."""
    if not 0 <= seconds <= 1e6:
        raise InvalidInput("choose a moment of the footage, in seconds from its start")
    measured = None
    if scan_id is None:
        measured = measured_footage(system, principal, recording_id, actor, PREVIEW)
    with system.unit_of_work() as uow:
        plan = plan_choices(
            uow, principal, recording_id, choices, actor, tag=PREVIEW, redaction_id="preview",
            scan_id=scan_id, measured=measured,
        )  # fmt: skip
    original = plan.record["original"]
    fps, count = float(original["fps"]), int(original["frame_count"])
    frame = round(seconds * fps)
    if frame >= count:
        raise InvalidInput(
            f"the footage is {count / fps:.2f} seconds long: choose a moment inside it"
        )
    boxes = [box for box in record_boxes(plan.record) if box.frame == frame]
    try:
        jpeg = still(StoreReader(system.store, plan.original_sha256), frame, fps, boxes,
                     choices.everything)  # fmt: skip
    except (RenderFailed, NotFound) as exc:
        raise Conflict(f"no preview: the original could not be read there ({exc})") from None
    with system.unit_of_work() as uow:
        uow.audit(
            PREVIEW, actor, object_type="recording", object_id=recording_id,
            details={"seconds": seconds, "frame": frame, "boxes": len(boxes),
                     "scan": plan.scan_id, "everything": choices.everything},
        )  # fmt: skip
        uow.commit()
    return Preview(jpeg, frame, seconds, len(boxes))


def editor_rate(
    system: System, principal: Principal, recording_id: str, actor: Actor, scan_id: str | None
) -> float:
    """The frame rate the editor turns seconds into frames with: the scan's, measured when it
    decoded the footage, or else the one the original's file states."""
    if scan_id is not None:
        scan = scans.get_scan(system, principal, scan_id, actor)
        if scan.recording_id != recording_id:
            raise InvalidInput(f"face scan {scan_id} is of another recording")
        if scan.fps:
            return scan.fps
    return measured_footage(system, principal, recording_id, actor, PREVIEW).fps
