"""Simulated footage with real human faces, and the ground truth of where each face is.

Redaction is measured, not guessed: the people in this footage are photographs that
scikit-image ships inside its wheel (nothing is downloaded): the astronaut Eileen Collins
(NASA, public domain) and the cameraman (© MIT, used by image-processing research for
decades). Each is cut out with a soft oval as a head and shoulders, and walks across the
street scene at a known position, scale and speed; a pillar hides part of the way. Beside
the MP4, `<name>.faces.json` lists every face on every frame with how much of it shows.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from importlib import resources
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from custody.camera.scene import SceneRenderer
from custody.domain.errors import InvalidInput

FACE_WIDTH, FACE_HEIGHT, FACE_FPS = 1280, 720, 25
AUDIO_RATE = 16_000
AAC_FRAME = 1024
# Where the face is in each photograph (pixels of the 512x512 original), measured once.
PHOTOS = {
    "astronaut": ("astronaut.png", (181.0, 58.0, 270.0, 178.0)),
    "cameraman": ("camera.png", (202.0, 119.0, 258.0, 197.0)),
}
PILLAR_COLOUR = (70, 70, 75)
# A face less than half visible is not counted as missed when it is not found.
VISIBLE_ENOUGH = 0.5


@dataclass(frozen=True)
class Walker:
    """A person crossing the frame: from (x0, y) to (x1, y) as a fraction of the frame,
    over [start, end) seconds, their face `face_height` pixels tall (growing to `grow_to`
    when they come closer), bobbing as they walk; `mirror` flips the photograph."""

    photo: str
    x0: float
    x1: float
    y: float
    face_height: float
    start: float = 0.0
    end: float = math.inf
    grow_to: float | None = None
    mirror: bool = False


DEFAULT_WALKERS = (
    Walker("astronaut", 0.05, 0.85, 0.35, 120),
    Walker("cameraman", 0.92, 0.10, 0.45, 90),
    Walker("astronaut", 0.55, 0.35, 0.30, 60, grow_to=130, mirror=True, start=1.0),
)
# Where a pillar stands (fractions of the width): people pass behind it.
DEFAULT_PILLAR = (0.46, 0.52)


@dataclass(frozen=True)
class _Sprite:
    picture: Image.Image
    mask: Image.Image
    face: tuple[float, float, float, float]


def _sprite(name: str, mirror: bool) -> _Sprite:
    filename, face = PHOTOS[name]
    with resources.files("skimage.data").joinpath(filename).open("rb") as handle:
        photo = Image.open(handle).convert("RGB")
    x1, y1, x2, y2 = face
    # Head and shoulders: the face, a little above, and shoulders below.
    fw, fh = x2 - x1, y2 - y1
    left, top = max(0.0, x1 - 0.6 * fw), max(0.0, y1 - 0.45 * fh)
    right = min(photo.width, x2 + 0.6 * fw)
    bottom = min(photo.height, y2 + 0.9 * fh)
    box = (int(left), int(top), int(right), int(bottom))
    picture = photo.crop(box)
    mask = Image.new("L", picture.size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, picture.width - 1, picture.height - 1), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(radius=max(2, picture.width // 30)))
    local = (x1 - box[0], y1 - box[1], x2 - box[0], y2 - box[1])
    if mirror:
        picture, mask = ImageOps.mirror(picture), ImageOps.mirror(mask)
        local = (picture.width - local[2], local[1], picture.width - local[0], local[3])
    return _Sprite(picture, mask, local)


def _place(
    walker: Walker, sprite: _Sprite, t: float, width: int, height: int
) -> tuple[float, float, float]:
    """(left, top, scale) of the sprite at `t` seconds."""
    span = (walker.end if math.isfinite(walker.end) else t + 1) - walker.start
    progress = min(1.0, max(0.0, (t - walker.start) / max(span, 1e-9)))
    if not math.isfinite(walker.end):
        progress = min(1.0, (t - walker.start) / 20.0)
    face_h = walker.face_height
    if walker.grow_to is not None:
        face_h += (walker.grow_to - walker.face_height) * progress
    scale = face_h / (sprite.face[3] - sprite.face[1])
    cx = (walker.x0 + (walker.x1 - walker.x0) * progress) * width
    cy = walker.y * height + 0.012 * height * math.sin(2 * math.pi * 1.8 * t)
    fx = (sprite.face[0] + sprite.face[2]) / 2 * scale
    fy = (sprite.face[1] + sprite.face[3]) / 2 * scale
    return cx - fx, cy - fy, scale


def write_face_footage(
    path: Path,
    *,
    started_at: datetime,
    duration: float,
    serial: str,
    walkers: tuple[Walker, ...] = DEFAULT_WALKERS,
    pillar: tuple[float, float] | None = DEFAULT_PILLAR,
    width: int = FACE_WIDTH,
    height: int = FACE_HEIGHT,
    fps: int = FACE_FPS,
    crf: int = 23,
) -> Path:
    """Write an MP4 of people walking across a street (H.264, AAC tone) and, beside it,
    `<stem>.faces.json`: every face on every frame. Returns the ground truth's path."""
    if not duration > 0:
        raise InvalidInput("duration must be more than 0 seconds")
    frames = max(1, round(duration * fps))
    sprites = [_sprite(w.photo, w.mirror) for w in walkers]
    scene = SceneRenderer(
        width=width, height=height, fps=fps, loop_frames=frames * 4, started_at=started_at,
        serial=serial,
    )  # fmt: skip
    truth: list[list[dict[str, object]]] = []
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.options = {"preset": "veryfast", "g": str(fps), "bf": "0",
                                       "crf": str(crf)}  # fmt: skip
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for index in range(frames):
            t = index / fps
            picture = scene.frame(index)
            faces: list[dict[str, object]] = []
            # Who is in front at each pixel: a person pasted later, or the pillar, hides a face.
            owner = Image.new("L", (width, height), 0)
            for number, (walker, sprite) in enumerate(zip(walkers, sprites, strict=True)):
                if not walker.start <= t < walker.end:
                    continue
                left, top, scale = _place(walker, sprite, t, width, height)
                size = (max(1, round(sprite.picture.width * scale)),
                        max(1, round(sprite.picture.height * scale)))  # fmt: skip
                mask = sprite.mask.resize(size, Image.Resampling.BILINEAR)
                corner = (round(left), round(top))
                picture.paste(sprite.picture.resize(size, Image.Resampling.BILINEAR), corner, mask)
                owner.paste(number + 1, (*corner, corner[0] + size[0], corner[1] + size[1]),
                            mask.point(lambda v: 255 if v >= 128 else 0))  # fmt: skip
                box = [corner[0] + sprite.face[0] * size[0] / sprite.picture.width,
                       corner[1] + sprite.face[1] * size[1] / sprite.picture.height,
                       corner[0] + sprite.face[2] * size[0] / sprite.picture.width,
                       corner[1] + sprite.face[3] * size[1] / sprite.picture.height]  # fmt: skip
                faces.append({"person": number + 1, "box": [round(v, 1) for v in box]})
            if pillar is not None:
                px1, px2 = pillar[0] * width, pillar[1] * width
                ImageDraw.Draw(picture).rectangle((px1, 56, px2, height), fill=PILLAR_COLOUR)
                ImageDraw.Draw(owner).rectangle((px1, 56, px2, height), fill=255)
            for face in faces:
                face["visible"] = _visible(owner, face["box"], int(face["person"]))  # type: ignore[arg-type, call-overload]
            truth.append(faces)
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]
            frame.pts = index
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        _tone(container, audio, duration)
    truth_path = path.with_suffix(".faces.json")
    truth_path.write_text(
        json.dumps(
            {
                "width": width,
                "height": height,
                "fps": fps,
                "frame_count": frames,
                "visible_enough": VISIBLE_ENOUGH,
                "frames": truth,
            },
            separators=(",", ":"),
        )
    )
    return truth_path


def _visible(owner: Image.Image, box: list[float], person: int) -> float:
    """How much of a face box shows: the share of its pixels nobody else stands in front of."""
    left, top = max(0, int(box[0])), max(0, int(box[1]))
    right, bottom = min(owner.width, int(-(-box[2] // 1))), min(owner.height, int(-(-box[3] // 1)))
    if right <= left or bottom <= top:
        return 0.0
    seen = np.asarray(owner.crop((left, top, right, bottom)))
    shown = np.count_nonzero((seen == 0) | (seen == person))
    # Cut off by the frame's edge counts as hidden too.
    whole = max(1e-9, (box[2] - box[0]) * (box[3] - box[1]))
    return round(min(1.0, float(shown) / whole), 3)


def _tone(container: av.container.OutputContainer, stream: object, duration: float) -> None:
    samples = math.ceil(duration * AUDIO_RATE / AAC_FRAME) * AAC_FRAME
    step = 2 * math.pi * 440.0 / AUDIO_RATE
    for start in range(0, samples, AAC_FRAME):
        tone = [0.05 * math.sin(step * n) for n in range(start, start + AAC_FRAME)]
        frame = av.AudioFrame(format="fltp", layout="mono", samples=AAC_FRAME)
        frame.planes[0].update(__import__("array").array("f", tone).tobytes())
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = Fraction(1, AUDIO_RATE)
        for packet in stream.encode(frame):  # type: ignore[attr-defined]
            container.mux(packet)
    for packet in stream.encode(None):  # type: ignore[attr-defined]
        container.mux(packet)


def read_truth(path: Path) -> dict[int, list[tuple[float, float, float, float, float]]]:
    """The ground truth beside a face footage: frame -> [(x1, y1, x2, y2, visible)]."""
    data = json.loads(path.read_text())
    return {
        index: [(*face["box"], face["visible"]) for face in faces]
        for index, faces in enumerate(data["frames"])
    }
