"""The simulated camera writes real, decodable, correctly signed footage."""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from custody.camera import CameraRecording, CameraStorage, load_device_key
from custody.camera.footage import AUDIO_RATE, FPS
from custody.camera.scene import SceneRenderer
from custody.camera.simulator import corrupt_recording, simulate_camera, simulate_copies
from custody.camera.speech import read_truth
from custody.cli.camera import app
from custody.domain import signing
from custody.domain.clock import ManualClock
from custody.domain.errors import InvalidInput
from custody.domain.receipt import Receipt, issue_receipt
from tests.speech_clip import need_voice

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Probe:
    video: str
    audio: str
    size: tuple[int, int]
    duration: float
    frames: int
    audio_seconds: float


def seconds(container: av.container.InputContainer) -> float:
    assert container.duration is not None
    return container.duration / av.time_base


def probe(path: Path) -> Probe:
    """What an MP4 holds, found by decoding every packet of it."""
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        frames = samples = 0
        for frame in container.decode(video=0, audio=0):
            if isinstance(frame, av.VideoFrame):
                frames += 1
            elif isinstance(frame, av.AudioFrame):
                samples += frame.samples
        return Probe(
            video=video.codec_context.name,
            audio=audio.codec_context.name,
            size=(video.codec_context.width, video.codec_context.height),
            duration=seconds(container),
            frames=frames,
            audio_seconds=samples / audio.codec_context.sample_rate,
        )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[CameraRecording]]:
    root = tmp_path_factory.mktemp("shift") / "camera"
    made = simulate_camera(
        root, serial="BWV-0042", officer_id="PC 4127", recordings=2, duration=12.5, start=T0
    )
    return root, made


def test_footage_is_h264_and_aac_in_mp4_of_the_requested_duration(
    shift: tuple[Path, list[CameraRecording]],
) -> None:
    _, made = shift
    info = probe(made[0].media_path)
    assert (info.video, info.audio, info.size) == ("h264", "aac", (640, 360))
    assert abs(info.duration - 12.5) < 1
    assert abs(info.frames - 12.5 * FPS) <= 1
    assert abs(info.audio_seconds - 12.5) < 1


def test_the_pre_event_buffer_has_pictures_but_no_sound(
    shift: tuple[Path, list[CameraRecording]],
) -> None:
    """A real camera's buffer records no sound: the track is there from the first frame,
    silent until the button was pressed, and the tone is heard from then to the end."""
    _, made = shift
    pressed = made[0].manifest.pre_event_seconds
    with av.open(str(made[0].media_path)) as container:
        sound = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    rate = AUDIO_RATE
    assert pressed > 0 and np.abs(sound[: int((pressed - 0.1) * rate)]).max() < 1e-3
    after = sound[int((pressed + 0.1) * rate) : int(12.4 * rate)]
    quietest = min(np.abs(part).max() for part in np.array_split(after, 40))
    assert quietest > 0.02  # the tone, in every quarter second after the press


def test_copies_for_a_shift_change_claim_what_their_footage_holds(
    shift: tuple[Path, list[CameraRecording]], tmp_path: Path
) -> None:
    """The shift-change benchmark's cameras carry copies of one recording: each manifest
    says the footage's own pre-event buffer, and its sound is silent through it."""
    _, made = shift
    template = made[0]
    copies = simulate_copies(
        tmp_path / "camera",
        serial="BWV-0043",
        officer_id=None,
        template=template,
        recordings=2,
        start=T0,
    )
    device_key = signing.load_public_key(CameraStorage(tmp_path / "camera").device.public_key)
    assert len({sha256(c.media_path) for c in copies} | {sha256(template.media_path)}) == 3
    for copy in copies:
        manifest = copy.manifest
        assert manifest.pre_event_seconds == template.manifest.pre_event_seconds == 6
        assert manifest.duration_seconds == template.manifest.duration_seconds == 12.5
        assert manifest.sha256 == sha256(copy.media_path)
        signing.verify(copy.document, device_key)
        with av.open(str(copy.media_path)) as container:
            sound = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
        pressed = manifest.pre_event_seconds
        assert np.abs(sound[: int((pressed - 0.1) * AUDIO_RATE)]).max() < 1e-3
        assert np.abs(sound[int((pressed + 0.1) * AUDIO_RATE) :]).max() > 0.02


def test_manifest_matches_the_footage_and_is_signed_by_the_camera(
    shift: tuple[Path, list[CameraRecording]],
) -> None:
    root, made = shift
    storage = CameraStorage(root)
    assert storage.recordings() == made
    device_key = signing.load_public_key(storage.device.public_key)
    for recording in made:
        manifest = recording.manifest
        assert manifest.sha256 == sha256(recording.media_path)
        assert manifest.size == recording.media_path.stat().st_size
        assert manifest.file == f"{manifest.recording_id}.mp4" == recording.media_path.name
        assert manifest.device_serial == "BWV-0042" and manifest.officer_id == "PC 4127"
        # The camera's 30 s buffer, but never more than half a 12.5 s recording.
        assert manifest.pre_event_seconds == 6
        assert manifest.duration_seconds == 12.5
        signing.verify(recording.document, device_key)


def test_recordings_are_spaced_by_the_gap(shift: tuple[Path, list[CameraRecording]]) -> None:
    _, made = shift
    starts = [r.manifest.started_at for r in made]
    assert starts == [T0, T0 + timedelta(seconds=12.5, minutes=20)]


def test_gps_is_a_walk_in_hackney_every_five_seconds(
    shift: tuple[Path, list[CameraRecording]],
) -> None:
    _, made = shift
    track = made[0].manifest.gps
    assert [(p.at - T0).total_seconds() for p in track] == [0, 5, 10]
    for point, after in itertools.pairwise(track):
        assert 51.53 < point.lat < 51.56 and -0.07 < point.lon < -0.04
        north = (after.lat - point.lat) * 111_320
        east = (after.lon - point.lon) * 111_320 * math.cos(math.radians(point.lat))
        assert 3 <= math.hypot(north, east) <= 12  # a walk, a few metres a second


def test_device_json_describes_the_simulated_camera(
    shift: tuple[Path, list[CameraRecording]],
) -> None:
    root, _ = shift
    device = CameraStorage(root).device
    assert device.serial == "BWV-0042" and device.officer_id == "PC 4127"
    assert device.battery_percent == 80 and device.capacity_bytes == 64 * 1024**3
    assert device.undocked_at is not None and device.undocked_at < T0
    key = load_device_key(root)
    assert signing.public_key_text(key.public_key()) == device.public_key


def test_a_long_recording_is_made_by_repeating_a_segment(tmp_path: Path) -> None:
    [recording] = simulate_camera(
        tmp_path / "camera", serial="BWV-1", officer_id=None, recordings=1, duration=600
    )
    with av.open(str(recording.media_path)) as container:
        assert abs(seconds(container) - 600) < 1
        video = container.streams.video[0]
        assert video.frames == 600 * FPS
        container.seek(595 * av.time_base)
        tail = [f.time for f in container.decode(video=0)]
    assert tail and abs(tail[-1] - (600 - 1 / FPS)) < 0.1
    assert recording.manifest.sha256 == sha256(recording.media_path)
    assert len(recording.manifest.gps) == 121


def test_video_bitrate_sets_the_file_size(tmp_path: Path) -> None:
    [recording] = simulate_camera(
        tmp_path / "camera",
        serial="BWV-1",
        officer_id=None,
        recordings=1,
        duration=20,
        video_bitrate=8_000_000,
    )
    assert recording.manifest.size == pytest.approx(20 * 8_000_000 / 8, rel=0.1)
    assert probe(recording.media_path).frames == 20 * FPS


def test_the_default_start_ends_the_last_recording_now(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    made = simulate_camera(
        tmp_path / "camera",
        serial="BWV-1",
        officer_id="PC 1",
        recordings=2,
        duration=1,
        gap=timedelta(minutes=5),
        clock=clock,
    )
    assert made[-1].manifest.ended_at == T0
    assert made[0].manifest.started_at == T0 - timedelta(minutes=5, seconds=2)


def test_a_second_shift_reuses_the_camera_and_its_key(tmp_path: Path) -> None:
    root = tmp_path / "camera"
    first = simulate_camera(root, serial="BWV-1", officer_id="PC 1", recordings=1, duration=1)
    key_before = CameraStorage(root).device.public_key
    second = simulate_camera(
        root, serial="BWV-1", officer_id="PC 2", recordings=1, duration=1, start=T0
    )
    storage = CameraStorage(root)
    assert storage.device.public_key == key_before
    assert storage.device.officer_id == "PC 2"
    assert {r.manifest.recording_id for r in storage.recordings()} == {
        first[0].manifest.recording_id,
        second[0].manifest.recording_id,
    }
    with pytest.raises(InvalidInput):
        simulate_camera(root, serial="BWV-2", officer_id=None, recordings=1, duration=1)


@pytest.mark.parametrize(
    "argument", [{"duration": 0}, {"duration": -1}, {"recordings": -1}, {"serial": " "}]
)
def test_simulate_refuses_nonsense(tmp_path: Path, argument: dict[str, object]) -> None:
    arguments: dict[str, object] = {"serial": "BWV-1", "recordings": 1, "duration": 1} | argument
    with pytest.raises(InvalidInput):
        simulate_camera(tmp_path / "camera", officer_id=None, **arguments)  # type: ignore[arg-type]
    assert not (tmp_path / "camera").exists()


def test_a_simulated_recording_is_released_for_its_receipt(tmp_path: Path) -> None:
    [recording] = simulate_camera(
        tmp_path / "camera", serial="BWV-1", officer_id=None, recordings=1, duration=1
    )
    server_key = Ed25519PrivateKey.generate()
    manifest = recording.manifest
    receipt = issue_receipt(
        Receipt(manifest.recording_id, manifest.sha256, manifest.size, T0), server_key
    )
    CameraStorage(tmp_path / "camera").release(
        manifest.recording_id, receipt, server_key.public_key()
    )
    assert not recording.media_path.exists() and not recording.manifest_path.exists()


def test_a_corrupt_recording_is_signed_but_does_not_decode(tmp_path: Path) -> None:
    root = tmp_path / "camera"
    [recording] = simulate_camera(root, serial="BWV-1", officer_id=None, recordings=1, duration=2)
    broken = corrupt_recording(recording, truncate_to=recording.manifest.size // 2)
    assert broken.manifest.size == recording.manifest.size // 2
    assert broken.manifest.sha256 == sha256(broken.media_path)
    assert broken.manifest.recording_id == recording.manifest.recording_id
    signing.verify(broken.document, load_device_key(root).public_key())
    assert CameraStorage(root).recordings() == [broken]
    with pytest.raises(av.FFmpegError):
        probe(broken.media_path)


def test_the_burned_in_clock_shows_each_second() -> None:
    scene = SceneRenderer(
        width=640, height=360, fps=FPS, loop_frames=250, started_at=T0, serial="BWV-1"
    )
    assert scene.clock_text(0) == "2024-05-01 08:00:00 UTC"
    assert scene.clock_text(FPS - 1) == "2024-05-01 08:00:00 UTC"
    assert scene.clock_text(FPS) == "2024-05-01 08:00:01 UTC"
    clock_box = (0, 0, 640, 56)
    first, same_second, next_second = scene.frame(0), scene.frame(FPS - 1), scene.frame(FPS)
    assert first.crop(clock_box).tobytes() == same_second.crop(clock_box).tobytes()
    assert first.crop(clock_box).tobytes() != next_second.crop(clock_box).tobytes()
    # The scene moves from frame to frame, below the clock.
    assert first.tobytes() != scene.frame(1).tobytes()


# the command line

runner = CliRunner()


def test_cli_simulates_a_camera(tmp_path: Path) -> None:
    root = tmp_path / "camera"
    result = runner.invoke(
        app,
        [
            "simulate", str(root), "--serial", "BWV-7", "--officer", "PC 7",
            "--recordings", "2", "--duration", "1.5", "--start", "2024-05-01T08:00:00Z",
            "--model", "Axon Body 4", "--firmware", "2.0", "--battery", "55",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    storage = CameraStorage(root)
    device = storage.device
    assert (device.serial, device.model, device.firmware) == ("BWV-7", "Axon Body 4", "2.0")
    assert device.battery_percent == 55 and device.officer_id == "PC 7"
    recordings = storage.recordings()
    assert [r.manifest.started_at for r in recordings] == [
        T0,
        T0 + timedelta(seconds=1.5, minutes=20),
    ]
    assert all(r.manifest.duration_seconds == 1.5 for r in recordings)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--duration", "0", "more than 0"),
        ("--duration", "-5", "more than 0"),
        ("--start", "tuesday", "ISO 8601"),
        ("--battery", "150", "0 to 100"),
        ("--recordings", "-1", "0 or more"),
        ("--video-bitrate", "fast", "bits per second"),
    ],
)
def test_cli_refuses_bad_arguments(tmp_path: Path, option: str, value: str, message: str) -> None:
    arguments = {"--serial": "BWV-7", "--officer": "PC 7", "--recordings": "1", "--duration": "1"}
    arguments[option] = value
    flat = [part for pair in arguments.items() for part in pair]
    result = runner.invoke(app, ["simulate", str(tmp_path / "camera"), *flat])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "camera").exists()


def test_cli_reports_a_serial_mismatch(tmp_path: Path) -> None:
    root = tmp_path / "camera"
    simulate_camera(root, serial="BWV-1", officer_id=None, recordings=0, duration=1)
    result = runner.invoke(
        app,
        ["simulate", str(root), "--serial", "BWV-2", "--officer", "PC 1",
         "--recordings", "1", "--duration", "1"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "is camera BWV-1, not BWV-2" in " ".join(result.output.split())


def test_cli_records_spoken_words_with_what_was_said_when_beside_them(tmp_path: Path) -> None:
    need_voice()
    root = tmp_path / "camera"
    result = runner.invoke(
        app,
        [
            "simulate", str(root), "--serial", "BWV-8", "--officer", "PC 8", "--recordings", "1",
            "--duration", "5", "--start", "2024-05-01T08:00:00Z", "--say", "Stop, police.",
            "--say", "Drop it.",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (recording,) = CameraStorage(root).recordings()
    manifest = recording.manifest
    assert manifest.pre_event_seconds == 2
    truth = read_truth(recording.media_path.with_suffix(".speech.json"))
    assert truth["pre_event_seconds"] == 2 and truth["text"] == "Stop, police. Drop it."
    first, second = truth["phrases"]
    assert 2 < first["start"] < first["end"] < second["start"] < second["end"] < truth["duration"]
    with av.open(str(recording.media_path)) as container:
        seconds = float(container.duration or 0) / 1e6
        assert container.streams.audio and abs(seconds - truth["duration"]) < 0.2
    assert abs(manifest.duration_seconds - truth["duration"]) < 0.01
