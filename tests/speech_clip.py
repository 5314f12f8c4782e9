"""Speech footage for the transcription tests: one short clip, spoken by espeak-ng.

The model is slow on two cores: each test module makes this clip once (module scope) and
transcribes as few recordings as its story needs. Without espeak-ng the tests skip, unless
CUSTODY_REQUIRE_SERVICES=1 (`make test` installs it: `make espeak`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import pytest

from custody.camera.speech import read_truth, voice_available, write_speech_footage
from tests.conftest import services_required

PHRASES = ("Police officer, stop where you are.", "Put the knife down now.")
PRE_EVENT_SECONDS = 2


@dataclass(frozen=True)
class Clip:
    data: bytes
    truth: dict[str, Any]


def need_voice() -> None:
    """Skip when there is no voice to speak the clip (fail where services are required)."""
    if not voice_available():
        if services_required():
            pytest.fail("espeak-ng is required (CUSTODY_REQUIRE_SERVICES=1): `make espeak`")
        pytest.skip("espeak-ng is not installed (`make espeak`)")


def make_clip(folder: Path) -> Clip:
    """The clip and its ground truth, or a skip when there is no voice to speak it."""
    need_voice()
    path = folder / "speech.mp4"
    truth = write_speech_footage(
        path, started_at=datetime(2026, 10, 1, 9, tzinfo=UTC), serial="BWV-0001",
        phrases=PHRASES, pre_event_seconds=PRE_EVENT_SECONDS,
    )  # fmt: skip
    return Clip(path.read_bytes(), read_truth(truth))


def silent_film(path: Path, seconds: float = 1.0) -> bytes:
    """An MP4 with pictures and no sound track at all."""
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
        for index in range(round(seconds * 25)):
            frame = av.VideoFrame(160, 96, "yuv420p")
            frame.pts = index
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
    return path.read_bytes()
