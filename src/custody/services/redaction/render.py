"""Rendering a redacted copy from its record: the original decoded, the record's boxes
blurred frame by frame (or every frame whole), audio muted where the record says, and the
whole encoded with fixed settings, so that the same record renders the same copy.

The blur destroys what was there: each box is shrunk to a few pixels and stretched back
(no detail of a face survives 6x6 pixels), then smoothed, so no edge of it is sharp.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import av
import numpy as np
from PIL import Image

from custody.domain.redaction import FrameBox

BLOCKS = 6
EVERYTHING_BLOCKS = 16


@dataclass(frozen=True)
class RenderSettings:
    """How a copy is encoded: part of the record, so a court can render it again."""

    video_codec: str = "libx264"
    crf: int = 20
    preset: str = "veryfast"
    threads: int = 2
    bframes: int = 0
    pix_fmt: str = "yuv420p"
    audio_codec: str = "aac"
    blur: str = f"box shrunk to {BLOCKS}x{BLOCKS} (whole frame {EVERYTHING_BLOCKS}x9) and stretched"

    def as_record(self) -> dict[str, object]:
        return {**asdict(self), "pyav": av.__version__}


class RenderFailed(Exception):
    """The original would not decode, or the copy would not encode."""


def measure(source: str | IO[bytes] | Any) -> tuple[int, int, float, int]:
    """The original's width, height, frame rate and frame count, as its container states
    them (frames counted from the duration where the container does not say)."""
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.video:
                raise RenderFailed("the original has no video")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            if not rate:
                raise RenderFailed("the original states no frame rate")
            frames = stream.frames
            if not frames and stream.duration and stream.time_base:
                frames = round(float(stream.duration * stream.time_base * rate))
            return stream.codec_context.width, stream.codec_context.height, float(rate), frames
    except av.error.FFmpegError as exc:
        raise RenderFailed(str(exc)) from None


def blot(picture: Image.Image, box: tuple[int, int, int, int]) -> None:
    """Destroy what a box shows: shrunk to a few pixels and stretched back."""
    region = picture.crop(box)
    small = region.resize((BLOCKS, BLOCKS), Image.Resampling.BOX)
    picture.paste(small.resize(region.size, Image.Resampling.BILINEAR), box[:2])


def everything_blurred(picture: Image.Image) -> Image.Image:
    """The whole frame blurred, for bulk public release."""
    small = picture.resize((EVERYTHING_BLOCKS, 9), Image.Resampling.BOX)
    return small.resize(picture.size, Image.Resampling.BILINEAR)


def _muted(samples: np.ndarray, start: int, rate: int, mute: list[tuple[float, float]]) -> None:
    end = start + samples.shape[-1]
    for lo, hi in mute:
        a, b = max(start, round(lo * rate)), min(end, round(hi * rate))
        if a < b:
            samples[..., a - start : b - start] = 0


def _audio_packets(
    source: str | IO[bytes], out: Any, mute: list[tuple[float, float]]
) -> tuple[Any, list[Any]]:
    """The original's first audio stream decoded, muted where asked and encoded again."""
    packets: list[Any] = []
    with av.open(source, mode="r") as container:
        if not container.streams.audio:
            return None, packets
        original = container.streams.audio[0]
        rate = original.codec_context.sample_rate
        stream = out.add_stream("aac", rate=rate, layout=original.codec_context.layout.name)
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
        position = 0
        for frame in container.decode(original):
            for plain in resampler.resample(frame):
                samples = plain.to_ndarray()
                _muted(samples, position, rate, mute)
                again = av.AudioFrame.from_ndarray(samples, format="fltp", layout=plain.layout.name)
                again.sample_rate = rate
                again.pts = position
                again.time_base = Fraction(1, rate)
                position += samples.shape[-1]
                packets.extend(stream.encode(again))
        packets.extend(stream.encode(None))
    return stream, packets


def render_copy(
    source: str | IO[bytes] | Any,
    reopen: Any,
    target: Path,
    boxes: dict[int, list[FrameBox]],
    *,
    everything: bool,
    mute: list[tuple[float, float]],
    remove_audio: bool,
    settings: RenderSettings,
) -> int:
    """Write the redacted copy of `source` to `target`; the number of frames written.

    `reopen()` gives the original again, from its start, for the audio pass.
    """
    try:
        with av.open(
            str(target), mode="w", format="mp4", options={"movflags": "+faststart"}
        ) as out:
            return _render(source, reopen, out, boxes, everything, mute, remove_audio, settings)
    except av.error.FFmpegError as exc:
        raise RenderFailed(str(exc)) from None


def _render(
    source: Any,
    reopen: Any,
    out: Any,
    boxes: dict[int, list[FrameBox]],
    everything: bool,
    mute: list[tuple[float, float]],
    remove_audio: bool,
    settings: RenderSettings,
) -> int:
    with av.open(source, mode="r") as container:
        if not container.streams.video:
            raise RenderFailed("the original has no video")
        original = container.streams.video[0]
        original.thread_type = "AUTO"
        rate = original.average_rate or original.guessed_rate or Fraction(25)
        video = out.add_stream(settings.video_codec, rate=rate)
        video.width = original.codec_context.width
        video.height = original.codec_context.height
        video.pix_fmt = settings.pix_fmt
        video.codec_context.options = {
            "crf": str(settings.crf),
            "preset": settings.preset,
            "threads": str(settings.threads),
            "bf": str(settings.bframes),
            "g": str(round(float(rate))),
        }
        audio_packets: list[Any] = []
        if not remove_audio:
            _, audio_packets = _audio_packets(reopen(), out, mute)
        audio = iter(audio_packets)
        pending = next(audio, None)
        frames = 0
        time_base = Fraction(1) / Fraction(rate)
        for index, frame in enumerate(container.decode(original)):
            picture = frame.to_image()
            if everything:
                picture = everything_blurred(picture)
            else:
                for box in boxes.get(index, ()):
                    blot(picture, (box.x1, box.y1, box.x2, box.y2))
            again = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]
            again.pts = index
            again.time_base = time_base
            for packet in video.encode(again):
                pending = _mux_audio_until(out, audio, pending, packet, time_base)
                out.mux(packet)
            frames = index + 1
        for packet in video.encode(None):
            pending = _mux_audio_until(out, audio, pending, packet, time_base)
            out.mux(packet)
        while pending is not None:
            out.mux(pending)
            pending = next(audio, None)
        return frames


def _mux_audio_until(out: Any, audio: Iterator[Any], pending: Any, packet: Any, base: Any) -> Any:
    """Mux the audio that comes before a video packet, so the two stay interleaved."""
    until = float((packet.pts or 0) * base)
    while pending is not None and float(pending.pts * pending.time_base) <= until:
        out.mux(pending)
        pending = next(audio, None)
    return pending


__all__ = ["RenderFailed", "RenderSettings", "blot", "everything_blurred", "heapq", "measure",
           "render_copy"]  # fmt: skip
