"""A simulated body-worn camera: the firmware's part of the format, with real footage.

The simulator writes exactly what a camera would: `device.json`, then for each
recording the MP4 and then its signed manifest, each atomically. Unlike a real
camera it keeps its private key in `.device-key`, which the dock never reads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.camera.device import (
    DEVICE_FILE,
    DeviceInfo,
    load_device_key,
    read_device,
    save_device_key,
    write_device,
)
from custody.camera.files import fsync_dir, place, sha256_of, staging_path, write_atomic
from custody.camera.footage import write_footage
from custody.camera.gps import patrol_track
from custody.camera.speech import read_truth, write_speech_footage
from custody.camera.storage import RECORDINGS_DIR, CameraRecording, media_name
from custody.domain import signing
from custody.domain.clock import Clock, SystemClock, as_utc
from custody.domain.errors import InvalidInput
from custody.domain.manifest import MAX_RECORDING_SECONDS, Manifest, parse_manifest

PRE_EVENT_SECONDS = 30
# Speech footage is short: its silent pre-event buffer is too.
SPEECH_PRE_EVENT_SECONDS = 2
# A simulated shift begins with the camera leaving its dock a little before the first recording.
UNDOCK_LEAD = timedelta(minutes=10)


def pre_event_for(duration: float) -> int:
    """Seconds of pre-event buffer at the start of a recording of `duration` seconds: the
    camera's 30 s buffer, but never more than half the recording (some of it was recorded
    after the button was pressed)."""
    return min(PRE_EVENT_SECONDS, int(duration // 2))


def simulate_camera(
    root: Path,
    *,
    serial: str,
    officer_id: str | None,
    recordings: int,
    duration: float,
    start: datetime | None = None,
    model: str = "Custody SimCam 1",
    firmware: str = "1.4.2",
    battery_percent: int = 80,
    capacity_bytes: int = 64 * 1024**3,
    gap: timedelta = timedelta(minutes=20),
    progress: Callable[[int], None] | None = None,
    video_bitrate: int | None = None,
    clock: Clock | None = None,
    speech: Sequence[str] | None = None,
) -> list[CameraRecording]:
    """Make (or reuse) a camera at `root` and record `recordings` clips of `duration` seconds.

    Recordings begin at `start` (default: so that the last one ends now) and are
    `gap` apart. `progress` is called with the number of recordings finished so far.
    `video_bitrate` (bits per second) makes the footage constant-bitrate, for files
    of a chosen size; see footage.write_footage. With `speech` each recording is instead
    those phrases spoken (espeak-ng) after a short silent pre-event buffer, as long as they
    take, with the ground truth beside it (camera.speech). Returns the new recordings in order.
    """
    _check(serial, officer_id, recordings, duration, battery_percent, capacity_bytes, gap)
    step = timedelta(seconds=duration) + gap
    if start is None:
        now = (clock or SystemClock()).now().replace(microsecond=0)
        start = now - timedelta(seconds=duration) * recordings - gap * max(0, recordings - 1)
    start = as_utc(start)
    key = _prepare_camera(
        root,
        serial=serial,
        model=model,
        firmware=firmware,
        battery_percent=battery_percent,
        capacity_bytes=capacity_bytes,
        officer_id=officer_id,
        undocked_at=start - UNDOCK_LEAD,
    )
    written = []
    for index in range(recordings):
        started_at = start + step * index
        written.append(
            _record(root, key, serial, officer_id, started_at, duration, video_bitrate, speech)
        )
        if progress is not None:
            progress(index + 1)
    return written


def simulate_copies(
    root: Path,
    *,
    serial: str,
    officer_id: str | None,
    template: CameraRecording,
    recordings: int,
    start: datetime,
    gap: timedelta = timedelta(minutes=20),
) -> list[CameraRecording]:
    """A camera whose recordings are copies of another camera's `template` recording, each
    made unique by a trailing MP4 `free` box of random bytes, and signed as usual.

    For benchmarks that dock thousands of cameras: encoding each recording would take
    longer than docking it. Decoders skip `free` boxes, so each copy still plays. Each
    manifest claims what the template's does of its footage (its duration, and the
    pre-event buffer whose sound is silent), so that the copies' manifests are true.
    """
    duration = template.manifest.duration_seconds
    _check(serial, officer_id, recordings, duration, 80, 64 * 1024**3, gap)
    footage = template.media_path.read_bytes()
    key = _prepare_camera(
        root,
        serial=serial,
        model="Custody SimCam 1",
        firmware="1.4.2",
        battery_percent=80,
        capacity_bytes=64 * 1024**3,
        officer_id=officer_id,
        undocked_at=start - UNDOCK_LEAD,
    )
    written = []
    for index in range(recordings):
        started_at = start + (timedelta(seconds=duration) + gap) * index
        recording_id = str(uuid.uuid4())
        media_path = root / RECORDINGS_DIR / media_name(recording_id)
        unique = uuid.uuid4().bytes + os.urandom(16)
        write_atomic(media_path, footage + (8 + len(unique)).to_bytes(4, "big") + b"free" + unique)
        sha, size = sha256_of(media_path)
        manifest = Manifest(
            recording_id=recording_id,
            device_serial=serial,
            officer_id=officer_id,
            started_at=started_at,
            ended_at=started_at + timedelta(seconds=duration),
            pre_event_seconds=template.manifest.pre_event_seconds,
            file=media_path.name,
            size=size,
            sha256=sha,
            gps=patrol_track(recording_id, started_at, duration),
        )
        written.append(_write_manifest(manifest, key, media_path, media_path.with_suffix(".json")))
    return written


def corrupt_recording(recording: CameraRecording, *, truncate_to: int) -> CameraRecording:
    """Truncate a simulated recording's MP4 and re-sign its manifest to match (tests only).

    The server then receives a correctly signed file whose hash checks out but which
    does not decode: the case for media probing, not for checksums.
    """
    size = recording.media_path.stat().st_size
    if not 0 < truncate_to < size:
        raise InvalidInput(f"truncate_to must be from 1 to {size - 1} bytes")
    root = recording.manifest_path.parent.parent
    key = load_device_key(root)
    staged = staging_path(recording.media_path)
    try:
        with open(recording.media_path, "rb") as source, open(staged, "wb") as target:
            target.write(source.read(truncate_to))
        place(staged, recording.media_path)
    finally:
        staged.unlink(missing_ok=True)
    sha, new_size = sha256_of(recording.media_path)
    manifest = dataclasses.replace(recording.manifest, sha256=sha, size=new_size)
    return _write_manifest(manifest, key, recording.media_path, recording.manifest_path)


def _check(
    serial: str,
    officer_id: str | None,
    recordings: int,
    duration: float,
    battery_percent: int,
    capacity_bytes: int,
    gap: timedelta,
) -> None:
    if not serial.strip():
        raise InvalidInput("serial must not be empty")
    if officer_id is not None and not officer_id.strip():
        raise InvalidInput("officer_id must be a non-empty string or None")
    if recordings < 0:
        raise InvalidInput("recordings must be 0 or more")
    if not 0 < duration <= MAX_RECORDING_SECONDS:
        raise InvalidInput(f"duration must be more than 0 and at most {MAX_RECORDING_SECONDS} s")
    if not 0 <= battery_percent <= 100:
        raise InvalidInput("battery_percent must be from 0 to 100")
    if capacity_bytes <= 0:
        raise InvalidInput("capacity_bytes must be positive")
    if gap < timedelta(0):
        raise InvalidInput("gap must not be negative")


def _prepare_camera(
    root: Path,
    *,
    serial: str,
    model: str,
    firmware: str,
    battery_percent: int,
    capacity_bytes: int,
    officer_id: str | None,
    undocked_at: datetime,
) -> Ed25519PrivateKey:
    """Reuse the camera at `root` (same serial, same key) or create it; update device.json."""
    root.mkdir(parents=True, exist_ok=True)
    if (root / DEVICE_FILE).exists():
        existing = read_device(root)
        if existing.serial != serial:
            raise InvalidInput(f"{root} is camera {existing.serial}, not {serial}")
        key = load_device_key(root)
        if signing.public_key_text(key.public_key()) != existing.public_key:
            raise InvalidInput(f"{root}: .device-key does not match device.json's public_key")
    else:
        key = Ed25519PrivateKey.generate()
        # Key before device.json: a directory that claims to be a camera can always sign.
        save_device_key(root, key)
    info = DeviceInfo(
        serial=serial,
        model=model,
        firmware=firmware,
        public_key=signing.public_key_text(key.public_key()),
        battery_percent=battery_percent,
        capacity_bytes=capacity_bytes,
        officer_id=officer_id,
        undocked_at=undocked_at,
    )
    write_device(root, info)
    (root / RECORDINGS_DIR).mkdir(exist_ok=True)
    fsync_dir(root)
    return key


def _record(
    root: Path,
    key: Ed25519PrivateKey,
    serial: str,
    officer_id: str | None,
    started_at: datetime,
    duration: float,
    video_bitrate: int | None,
    speech: Sequence[str] | None = None,
) -> CameraRecording:
    """Record one clip: footage first, then the manifest that vouches for it."""
    recording_id = str(uuid.uuid4())
    media_path = root / RECORDINGS_DIR / media_name(recording_id)
    staged = staging_path(media_path)
    pre_event = pre_event_for(duration)
    try:
        if speech:
            pre_event = SPEECH_PRE_EVENT_SECONDS
            truth = write_speech_footage(staged, started_at=started_at, serial=serial,
                                         phrases=speech, pre_event_seconds=pre_event)  # fmt: skip
            duration = read_truth(truth)["duration"]
            truth.replace(media_path.with_suffix(".speech.json"))
        else:
            write_footage(
                staged,
                started_at=started_at,
                duration=duration,
                serial=serial,
                video_bitrate=video_bitrate,
                pre_event_seconds=pre_event,
            )
        place(staged, media_path)
    finally:
        staged.unlink(missing_ok=True)
    sha, size = sha256_of(media_path)
    manifest = Manifest(
        recording_id=recording_id,
        device_serial=serial,
        officer_id=officer_id,
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=duration),
        pre_event_seconds=pre_event,
        file=media_path.name,
        size=size,
        sha256=sha,
        gps=patrol_track(recording_id, started_at, duration),
    )
    manifest_path = media_path.with_suffix(".json")
    return _write_manifest(manifest, key, media_path, manifest_path)


def _write_manifest(
    manifest: Manifest, key: Ed25519PrivateKey, media_path: Path, manifest_path: Path
) -> CameraRecording:
    document = signing.sign(manifest.to_json(), key)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    write_atomic(manifest_path, text.encode("utf-8"))
    # Hand back what a reader of the directory would see, parsed from the signed document.
    return CameraRecording(parse_manifest(document), document, media_path, manifest_path)
