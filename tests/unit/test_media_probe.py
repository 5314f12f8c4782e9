"""The media probe: good footage gets its facts and a thumbnail; bad footage a reason, no harm."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import struct
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from custody import audit
from custody.config import Settings
from custody.db.models import AuditEvent, Camera, Officer, Recording
from custody.domain.clock import ManualClock
from custody.jobs.queue import ImmediateJobs
from custody.services.recordings import media
from custody.services.recordings.media import PROBE_TAG, MediaUnplayable, StoreReader, inspect_media
from custody.services.system import NoJobs, System
from custody.storage import BlobStore, open_store
from tests.conftest import Installer

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
SECONDS = 3.0


def make_mp4(
    tmp_path: Path, seconds: float = SECONDS, *, faststart: bool = False, audio: bool = True
) -> bytes:
    """Real footage: H.264 640x360 at 25 fps with mono AAC, as a camera writes it."""
    width, height, fps, rate = 640, 360, 25, 16_000
    path = tmp_path / f"{uuid.uuid4().hex}.mp4"
    # faststart rewrites the file to put the index first, as some cameras do.
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.options = {"preset": "ultrafast", "g": str(fps), "bf": "0"}
        sound = container.add_stream("aac", rate=rate, layout="mono") if audio else None
        for index in range(round(seconds * fps)):
            image = Image.new("RGB", (width, height), (20, 40 + index % 100, 90))
            x = (index * 8) % width
            ImageDraw.Draw(image).rectangle([x, 90, x + 40, 180], fill="white")
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            frame.pts = index
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            for start in range(0, int(seconds * rate), 1024):
                samples = av.AudioFrame(format="s16", layout="mono", samples=1024)
                tone = (
                    int(3000 * math.sin(2 * math.pi * 440 * (start + i) / rate))
                    for i in range(1024)
                )
                samples.planes[0].update(struct.pack("<1024h", *tone))
                samples.sample_rate, samples.pts = rate, start
                for packet in sound.encode(samples):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_mp4(tmp_path_factory.mktemp("footage"))


@pytest.fixture(scope="module")
def faststart_footage(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_mp4(tmp_path_factory.mktemp("footage"), faststart=True)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def probe_system(tmp_path: Path, clock: ManualClock, install: Installer) -> Iterator[System]:
    """A fresh SQLite installation whose jobs run at once."""
    built = install(Settings(data_dir=tmp_path / "data"), clock=clock, jobs=NoJobs())
    built.jobs = ImmediateJobs(built, raise_errors=True)
    yield built
    built.engine.dispose()


def add_recording(system: System, data: bytes, *, stored_at: datetime = START) -> str:
    """Store `data` as a recording's original and insert its row (state "stored")."""
    stored = system.store.put_stream([data])
    recording_id = str(uuid.uuid4())
    with system.unit_of_work() as uow:
        session = uow.session
        officer = session.scalar(select(Officer).where(Officer.warrant_number == "1234AB"))
        if officer is None:
            officer = Officer(
                warrant_number="1234AB", name="A. Officer", unit="Hackney", created_at=START
            )
            camera = Camera(
                serial="BWV-0001",
                model="SimCam",
                firmware="1.0",
                public_key="00" * 32,
                registered_at=START,
            )
            session.add_all([officer, camera])
            session.flush()
            camera.officer_id = officer.id
        camera_id = session.scalar(select(Camera.id).where(Camera.serial == "BWV-0001"))
        assert camera_id is not None
        session.add(
            Recording(
                id=recording_id,
                camera_id=camera_id,
                officer_id=officer.id,
                started_at=stored_at - timedelta(minutes=10),
                ended_at=stored_at - timedelta(minutes=9),
                pre_event_seconds=30,
                sha256=stored.sha256,
                size=stored.size,
                stored_at=stored_at,
                manifest_document="{}",
                receipt_document="{}",
                state="stored",
            )
        )
        uow.commit()
    return recording_id


def recording(system: System, recording_id: str) -> Recording:
    with system.unit_of_work() as uow:
        found = uow.session.get(Recording, recording_id)
        assert found is not None
        return found


def probe_events(system: System, recording_id: str) -> list[dict[str, Any]]:
    with system.unit_of_work() as uow:
        events = uow.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tag == PROBE_TAG, AuditEvent.object_id == recording_id)
            .order_by(AuditEvent.seq)
        ).all()
        assert all(e.actor == "system" and e.object_type == "recording" for e in events)
        return [json.loads(e.details) if isinstance(e.details, str) else e.details for e in events]


def stored_sha(store: BlobStore, sha256: str) -> str:
    return hashlib.sha256(b"".join(store.read(sha256))).hexdigest()


def test_good_footage_becomes_playable_with_its_facts_and_a_thumbnail(
    probe_system: System, footage: bytes, clock: ManualClock
) -> None:
    rid = add_recording(probe_system, footage)
    clock.advance(timedelta(seconds=5))

    media.probe_recording(probe_system, rid)

    probed = recording(probe_system, rid)
    assert probed.state == "playable"
    assert probed.media_error is None
    assert (probed.video_codec, probed.audio_codec) == ("h264", "aac")
    assert (probed.width, probed.height) == (640, 360)
    assert probed.duration_seconds == pytest.approx(SECONDS, abs=0.2)
    assert probed.probed_at == clock.now()
    assert probed.thumbnail_sha256 is not None
    thumbnail = b"".join(probe_system.store.read(probed.thumbnail_sha256))
    assert hashlib.sha256(thumbnail).hexdigest() == probed.thumbnail_sha256
    image = Image.open(io.BytesIO(thumbnail))
    assert image.format == "JPEG"
    assert image.size == (320, 180)
    (event,) = probe_events(probe_system, rid)
    assert event["state"] == "playable"
    assert event["sha256"] == probed.sha256
    assert event["thumbnail_sha256"] == probed.thumbnail_sha256


def test_footage_without_sound_is_playable_with_no_audio_codec(
    probe_system: System, tmp_path: Path
) -> None:
    rid = add_recording(probe_system, make_mp4(tmp_path, 2.0, audio=False))
    media.probe_recording(probe_system, rid)
    probed = recording(probe_system, rid)
    assert (probed.state, probed.video_codec, probed.audio_codec) == ("playable", "h264", None)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_footage_is_unplayable_and_the_original_is_untouched(
    probe_system: System, footage: bytes, cut: float
) -> None:
    truncated = footage[: int(len(footage) * cut)]
    rid = add_recording(probe_system, truncated)
    sha = recording(probe_system, rid).sha256

    media.probe_recording(probe_system, rid)

    probed = recording(probe_system, rid)
    assert probed.state == "unplayable"
    assert probed.media_error
    assert probed.thumbnail_sha256 is None
    assert probed.sha256 == sha
    assert stored_sha(probe_system.store, sha) == sha
    (event,) = probe_events(probe_system, rid)
    assert event == {"sha256": sha, "state": "unplayable", "error": probed.media_error}


def test_truncated_footage_with_its_index_up_front_is_unplayable(
    probe_system: System, faststart_footage: bytes
) -> None:
    # The index promises every frame although half the file is gone: only reading on shows it.
    rid = add_recording(probe_system, faststart_footage[: len(faststart_footage) // 2])
    media.probe_recording(probe_system, rid)
    probed = recording(probe_system, rid)
    assert probed.state == "unplayable"
    assert probed.media_error is not None and "cut off" in probed.media_error


def test_whole_footage_with_its_index_up_front_is_playable(
    probe_system: System, faststart_footage: bytes
) -> None:
    rid = add_recording(probe_system, faststart_footage)
    media.probe_recording(probe_system, rid)
    assert recording(probe_system, rid).state == "playable"


@pytest.mark.parametrize(
    "data",
    [b"not a video at all " * 500, os.urandom(64 * 1024), b"\x00"],
    ids=["text", "random", "one-byte"],
)
def test_garbage_is_unplayable(probe_system: System, data: bytes) -> None:
    rid = add_recording(probe_system, data)
    media.probe_recording(probe_system, rid)
    probed = recording(probe_system, rid)
    assert probed.state == "unplayable"
    assert probed.media_error
    assert stored_sha(probe_system.store, probed.sha256) == probed.sha256


def test_probing_again_gives_the_same_result_and_another_audit_event(
    probe_system: System, footage: bytes, clock: ManualClock
) -> None:
    rid = add_recording(probe_system, footage)
    media.probe_recording(probe_system, rid)
    first = recording(probe_system, rid)
    clock.advance(timedelta(hours=1))

    media.probe_recording(probe_system, rid)

    second = recording(probe_system, rid)
    assert second.state == "playable"
    assert second.thumbnail_sha256 == first.thumbnail_sha256
    assert second.probed_at == clock.now()
    assert len(probe_events(probe_system, rid)) == 2


def test_a_recording_that_is_gone_is_left_alone(
    probe_system: System, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="custody.services.recordings.media"):
        media.probe_recording(probe_system, str(uuid.uuid4()))
    assert "nothing to probe" in caplog.text


def test_a_deleted_recording_keeps_its_tombstone(probe_system: System, footage: bytes) -> None:
    rid = add_recording(probe_system, footage)
    with probe_system.unit_of_work() as uow:
        row = uow.session.get(Recording, rid)
        assert row is not None
        row.state = "deleted"
        uow.commit()
    media.probe_recording(probe_system, rid)
    assert recording(probe_system, rid).state == "deleted"
    assert probe_events(probe_system, rid) == []


def test_an_original_missing_from_the_store_is_unplayable(
    probe_system: System, footage: bytes
) -> None:
    rid = add_recording(probe_system, footage)
    probe_system.store.delete(recording(probe_system, rid).sha256)
    media.probe_recording(probe_system, rid)
    probed = recording(probe_system, rid)
    assert probed.state == "unplayable"
    assert probed.media_error == "the original is not in the object store"


class FailingReads:
    """A store whose reads fail part way, as a network store does in an outage."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        raise ConnectionError("the object store is unreachable")


def test_a_store_failure_raises_for_a_retry_and_changes_nothing(
    probe_system: System, footage: bytes
) -> None:
    rid = add_recording(probe_system, footage)
    probe_system.store = FailingReads(probe_system.store)
    with pytest.raises(media.StoreReadFailed):
        media.probe_recording(probe_system, rid)
    assert recording(probe_system, rid).state == "stored"
    assert probe_events(probe_system, rid) == []


def test_the_reconciler_probes_only_recordings_left_stored_for_minutes(
    probe_system: System, footage: bytes, clock: ManualClock
) -> None:
    stale = add_recording(probe_system, footage, stored_at=START - timedelta(minutes=10))
    fresh = add_recording(probe_system, footage, stored_at=START - timedelta(minutes=1))
    done = add_recording(probe_system, footage, stored_at=START - timedelta(minutes=30))
    media.probe_recording(probe_system, done)

    assert media.reprobe_pending(probe_system) == [stale]

    assert recording(probe_system, stale).state == "playable"
    assert recording(probe_system, fresh).state == "stored"
    clock.advance(timedelta(minutes=5))
    assert media.reprobe_pending(probe_system) == [fresh]
    assert media.reprobe_pending(probe_system) == []


def test_the_audit_chain_stays_intact(probe_system: System, footage: bytes) -> None:
    media.probe_recording(probe_system, add_recording(probe_system, footage))
    media.probe_recording(probe_system, add_recording(probe_system, b"garbage"))
    with probe_system.unit_of_work() as uow:
        assert list(audit.verify_chain(uow.session)) == []


def test_inspect_media_reads_a_file_like_and_refuses_garbage(footage: bytes) -> None:
    info = inspect_media(io.BytesIO(footage))
    assert (info.video_codec, info.width, info.height) == ("h264", 640, 360)
    with pytest.raises(MediaUnplayable):
        inspect_media(io.BytesIO(b"garbage" * 100))


def test_store_reader_reads_ranges_like_a_file(tmp_path: Path) -> None:
    system_store = open_store((tmp_path / "objects").as_uri())
    data = bytes(range(256)) * 40
    sha = system_store.put_stream([data]).sha256
    reader = StoreReader(system_store, sha, block=1000)
    assert reader.read(10) == data[:10]
    assert reader.seek(-5, io.SEEK_END) == len(data) - 5
    assert reader.read(100) == data[-5:]
    assert reader.read(1) == b""
    reader.seek(995)
    assert reader.read(10) == data[995:1005]
    assert reader.tell() == 1005
    reader.seek(3, io.SEEK_CUR)
    # Reads may come up short at a block's end, as with any raw file: the caller asks again.
    rest = b""
    while chunk := reader.read():
        rest += chunk
    assert rest == data[1008:]
