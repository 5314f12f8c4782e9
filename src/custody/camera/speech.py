"""Simulated footage with spoken words, and the ground truth of what was said and when.

Transcription is measured, not guessed: the voice is Debian's `espeak-ng` (GPL-3, a program
run, not linked), each phrase spoken at a known moment after the camera's pre-event buffer,
which has no sound, as on a real body-worn camera. Beside the MP4, `<stem>.speech.json`
lists the pre-event length and every phrase with its words and span.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from custody.camera.scene import SceneRenderer
from custody.domain.errors import CustodyError, InvalidInput

RATE = 16_000
AAC_FRAME = 1024
SPEECH_WIDTH, SPEECH_HEIGHT, SPEECH_FPS = 320, 180, 25
# A pause between phrases, as people leave them.
PAUSE_SECONDS = 0.6
# Words a minute: espeak-ng's default of 175 is brisk for a recording made in the street.
VOICE = "en-us"
WORDS_PER_MINUTE = 130
# Quieter than full scale, as a voice a metre from the camera is.
LEVEL = 0.6
DEFAULT_PHRASES = (
    "Police officer, stop where you are.",
    "Put the knife down on the ground now.",
    "You are under arrest for assault.",
    "You do not have to say anything.",
)


class NoVoice(CustodyError):
    """espeak-ng is not installed (`make espeak`)."""


@dataclass(frozen=True)
class Spoken:
    """A phrase said from `start` to `end` seconds into the footage."""

    start: float
    end: float
    text: str


def voice_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, *, voice: str = VOICE, words_per_minute: int = WORDS_PER_MINUTE) -> Any:
    """`text` as espeak-ng says it: float32 samples at 16 kHz mono, silence trimmed."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise NoVoice("espeak-ng is not installed: `make espeak` installs Debian's")
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "phrase.wav"
        subprocess.run(
            [program, "-v", voice, "-s", str(words_per_minute), "-w", str(wav), "--", text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        samples = _decode(wav)
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1] * LEVEL


def _decode(path: Path) -> Any:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    pieces: list[Any] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            pieces.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
    pieces.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)


def soundtrack(
    phrases: Sequence[str], *, pre_event_seconds: float, tail_seconds: float = 0.5
) -> tuple[Any, list[Spoken]]:
    """The sound of the phrases said one after another once the pre-event buffer is over
    (silence before), and when each was said."""
    said: list[Spoken] = []
    pieces = [np.zeros(round(pre_event_seconds * RATE), np.float32)]
    at = pre_event_seconds + PAUSE_SECONDS / 2
    pieces.append(np.zeros(round(PAUSE_SECONDS / 2 * RATE), np.float32))
    for phrase in phrases:
        voice = speak(phrase)
        said.append(Spoken(round(at, 3), round(at + len(voice) / RATE, 3), phrase))
        pieces += [voice, np.zeros(round(PAUSE_SECONDS * RATE), np.float32)]
        at += len(voice) / RATE + PAUSE_SECONDS
    pieces.append(np.zeros(round(tail_seconds * RATE), np.float32))
    return np.concatenate(pieces), said


def write_speech_footage(
    path: Path,
    *,
    started_at: datetime,
    serial: str,
    phrases: Sequence[str] = DEFAULT_PHRASES,
    pre_event_seconds: float = 2.0,
    width: int = SPEECH_WIDTH,
    height: int = SPEECH_HEIGHT,
    fps: int = SPEECH_FPS,
) -> Path:
    """Write an MP4 (H.264 and AAC) whose sound is the phrases spoken after a silent
    pre-event buffer, as long as they take, and beside it `<stem>.speech.json`, the ground
    truth. Returns the ground truth's path."""
    if pre_event_seconds < 0 or not phrases:
        raise InvalidInput("speech footage needs phrases and a pre-event length of 0 or more")
    sound, said = soundtrack(phrases, pre_event_seconds=pre_event_seconds)
    duration = len(sound) / RATE
    frames = max(1, math.ceil(duration * fps))
    scene = SceneRenderer(width=width, height=height, fps=fps, loop_frames=frames,
                          started_at=started_at, serial=serial)  # fmt: skip
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.options = {"preset": "veryfast", "g": str(fps), "bf": "0",
                                       "crf": "30"}  # fmt: skip
        audio = container.add_stream("aac", rate=RATE, layout="mono")
        for index in range(frames):
            frame = av.VideoFrame.from_image(scene.frame(index))  # type: ignore[no-untyped-call]
            frame.pts = index
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        padded = np.zeros(math.ceil(len(sound) / AAC_FRAME) * AAC_FRAME, np.float32)
        padded[: len(sound)] = sound
        for start in range(0, len(padded), AAC_FRAME):
            chunk = av.AudioFrame(format="fltp", layout="mono", samples=AAC_FRAME)
            chunk.planes[0].update(padded[start : start + AAC_FRAME].tobytes())
            chunk.sample_rate = RATE
            chunk.pts = start
            chunk.time_base = Fraction(1, RATE)
            for packet in audio.encode(chunk):
                container.mux(packet)
        for packet in audio.encode(None):
            container.mux(packet)
    truth = path.with_suffix(".speech.json")
    truth.write_text(
        json.dumps(
            {
                "pre_event_seconds": pre_event_seconds,
                "duration": round(duration, 3),
                "voice": f"espeak-ng {VOICE} {WORDS_PER_MINUTE} wpm",
                "phrases": [{"start": s.start, "end": s.end, "text": s.text} for s in said],
                "text": " ".join(s.text for s in said),
            },
            indent=1,
        )
    )
    return truth


def read_truth(path: Path) -> dict[str, Any]:
    """The ground truth beside a speech footage."""
    found: dict[str, Any] = json.loads(path.read_text())
    return found
