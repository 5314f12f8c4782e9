"""A recording's sound, decoded with PyAV as Whisper hears it: 16 kHz mono float samples."""

from __future__ import annotations

from typing import IO, Any

import av
import numpy as np

RATE = 16_000


class FootageUnreadable(Exception):
    """The footage does not decode."""


def decode_sound(source: str | IO[bytes] | Any, *, skip_seconds: float = 0.0) -> Any | None:
    """The sound after `skip_seconds` as float32 samples at 16 kHz mono, or None when the
    footage has no sound track; FootageUnreadable when it does not decode."""
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            pieces: list[Any] = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, ValueError) as exc:
        raise FootageUnreadable(str(exc)) from None
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    samples = np.concatenate(pieces).astype(np.float32) / 32768.0
    return samples[round(skip_seconds * RATE) :]
