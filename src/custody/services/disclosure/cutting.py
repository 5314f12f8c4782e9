"""The lossless cut: a clip's packets copied from the original as the camera wrote them.

A stream copy (remux) re-encodes nothing: every video and audio packet in the clip is
byte for byte one of the original's. A video can only start at a keyframe, so the cut
starts at the keyframe at or before the asked "in" point (up to one group of pictures
early) and ends with the last frame shown before "out"; the exact in and out asked are
recorded beside the real start, so that a player starts at "in" (docs/disclosure.md).

The original is read through the store's range reads (`StoreReader`) and the clip is
written to a private temporary file, never held whole in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream

from custody.services.recordings.media import AV_BUFFER, StoreReader

METHOD = "stream-copy"


class CutFailed(Exception):
    """The original could not be cut (it does not decode as footage); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Cut:
    """What a stream copy made: where it really starts and how long it runs (seconds)."""

    cut_start_seconds: float
    duration_seconds: float
    video_packets: int


def stream_copy(
    source: StoreReader, destination: Path, in_seconds: float, out_seconds: float
) -> Cut:
    """Copy the original's packets from the keyframe at or before `in_seconds` up to
    `out_seconds` (seconds from the start of its video) into an MP4 at `destination`."""
    try:
        container = av.open(source, mode="r", buffer_size=AV_BUFFER, metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise CutFailed(f"the original could not be opened: {exc}") from None
    with container:
        if not container.streams.video:
            raise CutFailed("the original holds no video stream")
        try:
            return _copy(container, destination, in_seconds, out_seconds)
        except av.error.FFmpegError as exc:
            raise CutFailed(f"the original could not be read: {exc}") from None


def _seconds(stamp: int, base: Fraction) -> Fraction:
    return stamp * base


def _copy(
    container: InputContainer, destination: Path, in_seconds: float, out_seconds: float
) -> Cut:
    video = container.streams.video[0]
    audio = list(container.streams.audio[:1])
    streams: list[Stream] = [video, *audio]
    video_base = video.time_base or Fraction(1, 90_000)
    origin = _seconds(video.start_time or 0, video_base)
    target = origin + Fraction(in_seconds)
    end = origin + Fraction(out_seconds)
    start = _keyframe_start(container, video, target)
    if start is None:
        raise CutFailed("no keyframe at or before the in point")
    # Back to that keyframe, so the demuxer hands over packets from there on.
    container.seek(int(start / video_base), stream=video, backward=True, any_frame=False)
    with av.open(
        str(destination), mode="w", format="mp4", options={"movflags": "+faststart"}
    ) as output:
        return _remux(container, output, streams, video, start, end, origin)


def _keyframe_start(container: InputContainer, video: Stream, target: Fraction) -> Fraction | None:
    """The time of the keyframe at or before `target`: the seek finds it through the index,
    and the first packet after it is checked (a seek that lands past `target` or off a
    keyframe is tried again from the start of the file)."""
    base = video.time_base or Fraction(1, 90_000)
    for seek_to in (target, Fraction(0)):
        container.seek(int(seek_to / base), stream=video, backward=True, any_frame=False)
        for packet in container.demux(video):
            if packet.pts is None or packet.size == 0:
                continue
            at = _seconds(packet.pts, base)
            if packet.is_keyframe and at <= target:
                return _last_keyframe_up_to(container, video, at, target)
            break
    return None


def _last_keyframe_up_to(
    container: InputContainer, video: Stream, found: Fraction, target: Fraction
) -> Fraction:
    """Walk on from a keyframe at or before `target` to the last one at or before it (a seek
    may land a keyframe or more early, the index's granularity permitting)."""
    base = video.time_base or Fraction(1, 90_000)
    latest = found
    for packet in container.demux(video):
        if packet.pts is None or packet.size == 0:
            continue
        at = _seconds(packet.pts, base)
        if at > target:
            break
        if packet.is_keyframe:
            latest = at
    return latest


def _remux(
    container: InputContainer,
    output: OutputContainer,
    streams: list[Stream],
    video: Stream,
    start: Fraction,
    end: Fraction,
    origin: Fraction,
) -> Cut:
    copies = {stream.index: output.add_stream_from_template(stream) for stream in streams}
    # Each stream's timestamps move back by the cut's start, so the clip begins at zero.
    shifts = {
        stream.index: math.floor(start / (stream.time_base or Fraction(1, 90_000)))
        for stream in streams
    }
    done: set[int] = set()
    video_packets = 0
    video_end = start
    for packet in container.demux(streams):
        if packet.dts is None or packet.size == 0:
            continue
        index = packet.stream.index
        base = packet.stream.time_base or Fraction(1, 90_000)
        stamp = packet.pts if packet.pts is not None else packet.dts
        at = _seconds(stamp, base)
        if at >= end:
            done.add(index)
            if len(done) == len(streams):
                break
            continue
        if at < start or (index == video.index and video_packets == 0 and not packet.is_keyframe):
            continue
        if index == video.index:
            video_packets += 1
            video_end = max(video_end, at + _seconds(packet.duration or 0, base))
        _mux(output, packet, copies[index], shifts[index])
    if video_packets == 0:
        raise CutFailed("no video between the in and out points")
    return Cut(
        cut_start_seconds=float(start - origin),
        duration_seconds=float(video_end - start),
        video_packets=video_packets,
    )


def _mux(output: OutputContainer, packet: Packet[Any], stream: Stream, shift: int) -> None:
    if packet.pts is not None:
        packet.pts -= shift
    packet.dts = (packet.dts or 0) - shift
    packet.stream = stream
    output.mux(packet)
