"""Real footage for simulated cameras: H.264 video and AAC audio in MP4, made with PyAV.

Encoding an hour of video would take minutes, so only the first segment (10 s,
or the whole recording if shorter) is encoded; its packets are then written again
with shifted timestamps (a remux, no re-encode) until the duration is reached.
The picture and sound therefore loop every segment, burned-in clock included:
the clock is right for the first segment only.

A body-worn camera's pre-event buffer keeps pictures but no sound (docs/camera-format.md):
with `pre_event_seconds` the audio track is there from the first frame but silent until
the record button was pressed, and the tone starts then.
"""

from __future__ import annotations

import array
import heapq
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from custody.camera.scene import SceneRenderer
from custody.domain.errors import InvalidInput

WIDTH, HEIGHT, FPS = 640, 360, 25
AUDIO_RATE = 16_000
AAC_FRAME = 1024
SEGMENT_SECONDS = 10
TONE_HZ = 440.0
TONE_LEVEL = 0.03
# libx264 at constant quality: about 250 kbit/s for this scene, small enough for demos.
DEFAULT_CRF = 26
MIN_VIDEO_BITRATE = 100_000
MAX_VIDEO_BITRATE = 200_000_000


@dataclass(frozen=True)
class _Encoded:
    data: bytes
    pts: int
    dts: int
    duration: int
    keyframe: bool


def write_footage(
    path: Path,
    *,
    started_at: datetime,
    duration: float,
    serial: str,
    video_bitrate: int | None = None,
    pre_event_seconds: float = 0,
) -> None:
    """Write an MP4 of `duration` seconds to `path` (640x360 H.264 at 25 fps, mono AAC),
    its sound silent through the first `pre_event_seconds` (the pre-event buffer).

    With `video_bitrate` (bits per second) the video is constant-bitrate, padded with
    H.264 filler data, so that file size is predictable: size is about bitrate * duration / 8.
    """
    if not duration > 0:
        raise InvalidInput("duration must be more than 0 seconds")
    if not 0 <= pre_event_seconds <= duration:
        raise InvalidInput("pre_event_seconds must be 0 to the recording's duration")
    if video_bitrate is not None and not MIN_VIDEO_BITRATE <= video_bitrate <= MAX_VIDEO_BITRATE:
        raise InvalidInput(
            f"video_bitrate must be {MIN_VIDEO_BITRATE} to {MAX_VIDEO_BITRATE} bits per second"
        )
    total_frames = max(1, round(duration * FPS))
    segment_frames = min(total_frames, SEGMENT_SECONDS * FPS)
    total_samples = math.ceil(duration * AUDIO_RATE)
    # Whole AAC frames, so repeated audio packets line up without gaps or overlaps.
    segment_samples = math.ceil(min(total_samples, SEGMENT_SECONDS * AUDIO_RATE) / AAC_FRAME)
    segment_samples *= AAC_FRAME
    with av.open(str(path), mode="w", format="mp4") as container:
        video = _video_stream(container, video_bitrate)
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        scene = SceneRenderer(
            width=WIDTH,
            height=HEIGHT,
            fps=FPS,
            loop_frames=segment_frames,
            started_at=started_at,
            serial=serial,
        )
        video_packets = _encode_video(video, scene, segment_frames)
        silent_until = min(total_samples, round(pre_event_seconds * AUDIO_RATE))
        sound = _encode_audio(audio, segment_samples, silent_until, total_samples)
        video_base = Fraction(1, FPS)
        audio_base = Fraction(1, AUDIO_RATE)
        merged = heapq.merge(
            _repeat(lambda _: video_packets, video, video_base, segment_frames, total_frames),
            _repeat(sound, audio, audio_base, segment_samples, total_samples),
            key=lambda item: item[0],
        )
        for _, packet in merged:
            container.mux(packet)


def _video_stream(container: Any, video_bitrate: int | None) -> Any:
    stream = container.add_stream("libx264", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    # A keyframe every second and no B-frames, as body-worn cameras encode: cheap to seek
    # and decode, and each repeat of the segment starts on a keyframe.
    options = {"preset": "veryfast", "g": str(FPS), "bf": "0"}
    if video_bitrate is None:
        options["crf"] = str(DEFAULT_CRF)
    else:
        stream.codec_context.bit_rate = video_bitrate
        options |= {
            "maxrate": str(video_bitrate),
            "bufsize": str(video_bitrate),
            # Filler NAL units pad a simple scene up to the bitrate asked for.
            "x264-params": "nal-hrd=cbr:filler=1",
        }
    stream.codec_context.options = options
    return stream


def _encode_video(stream: Any, scene: SceneRenderer, frames: int) -> list[_Encoded]:
    packets: list[_Encoded] = []
    for index in range(frames):
        # PyAV's stub leaves from_image unannotated; it returns a VideoFrame.
        frame = av.VideoFrame.from_image(scene.frame(index))  # type: ignore[no-untyped-call]
        frame.pts = index
        packets.extend(_keep(p) for p in stream.encode(frame))
    packets.extend(_keep(p) for p in stream.encode(None))
    return packets


SILENT, TURNING, TONE = "silent", "turning", "tone"


def _encode_audio(
    stream: Any, samples: int, silent_until: int, total: int
) -> Callable[[int], list[_Encoded]]:
    """The audio packets of each segment (by index): silent ones while the whole segment is
    pre-event, one segment where the sound starts, then the tone's. Each kind is encoded
    once, in timeline order in one pass, so the joins between kinds stay seamless."""

    def kind(index: int) -> str:
        if (index + 1) * samples <= silent_until:
            return SILENT
        return TONE if index * samples >= silent_until else TURNING

    count = math.ceil(total / samples)
    kinds = list(dict.fromkeys(kind(index) for index in range(count)))
    # A whole number of cycles per segment, so the tone does not click where it loops.
    cycles = max(1, round(TONE_HZ * samples / AUDIO_RATE))
    step = 2 * math.pi * cycles / samples
    quiet_in_turning = silent_until % samples
    encoded: list[_Encoded] = []
    for position, name in enumerate(kinds):
        quiet = {SILENT: samples, TURNING: quiet_in_turning, TONE: 0}[name]
        for start in range(0, samples, AAC_FRAME):
            tone = array.array(
                "f",
                (
                    TONE_LEVEL * math.sin(step * n) if n >= quiet else 0.0
                    for n in range(start, start + AAC_FRAME)
                ),
            )
            frame = av.AudioFrame(format="fltp", layout="mono", samples=AAC_FRAME)
            frame.planes[0].update(tone.tobytes())
            frame.sample_rate = AUDIO_RATE
            frame.pts = position * samples + start
            encoded.extend(_keep(p) for p in stream.encode(frame))
    encoded.extend(_keep(p) for p in stream.encode(None))
    # Each packet to the kind its time falls in, timed from that segment's start (the
    # encoder's priming packet, before 0, to the first).
    by_kind: dict[str, list[_Encoded]] = {name: [] for name in kinds}
    for packet in encoded:
        position = min(len(kinds) - 1, max(0, packet.pts // samples))
        shift = position * samples
        by_kind[kinds[position]].append(
            _Encoded(packet.data, packet.pts - shift, packet.dts - shift, packet.duration,
                     packet.keyframe)
        )  # fmt: skip
    # Past the end, the last segment's packets: their times tell the repeat to stop.
    return lambda index: by_kind[kind(min(index, count - 1))]


def _keep(packet: Any) -> _Encoded:
    # libx264 leaves durations unset; one frame each lets the muxer close the last sample.
    return _Encoded(bytes(packet), packet.pts, packet.dts, packet.duration or 1, packet.is_keyframe)


def _repeat(
    segment: Callable[[int], list[_Encoded]],
    stream: Any,
    time_base: Fraction,
    span: int,
    end: int,
) -> Iterator[tuple[Fraction, Any]]:
    """Each segment's packets (`segment(index)`), shifted by `span` per segment, until `end`
    (time_base units)."""
    shift = index = 0
    while True:
        for encoded in segment(index):
            # The encoder's priming packet (negative pts) belongs before the first segment only.
            if shift and encoded.pts < 0:
                continue
            pts = encoded.pts + shift
            if pts >= end:
                return
            packet = av.Packet(encoded.data)
            packet.pts, packet.dts = pts, encoded.dts + shift
            packet.duration = encoded.duration
            packet.time_base = time_base
            packet.is_keyframe = encoded.keyframe
            packet.stream = stream
            yield pts * time_base, packet
        shift += span
        index += 1
