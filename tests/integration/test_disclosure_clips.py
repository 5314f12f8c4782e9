"""Clips (issue 10, point 2), told as the people would see it through the services.

dana investigates a case with alice's recording in it and cuts a clip of it: a new object,
the camera's own packets from the keyframe at or before "in", the original untouched. Who
may not know of the recording hears "no clip" for its clips; bad in and out points, an
unplayable or deleted original are refused with nothing made.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import func, select

from custody.camera.footage import write_footage
from custody.db.models import Recording
from custody.db.models.disclosure import Clip
from custody.domain.actor import Actor
from custody.domain.clock import ManualClock
from custody.domain.errors import Conflict, InvalidInput, NotFound, NotPermitted
from custody.services.disclosure import clips
from custody.services.evidence import cases, holds
from custody.services.identity.users import principal_named
from custody.services.recordings.media import probe_recording
from custody.services.retention.sweep import purge_recording, tombstone_if_due
from custody.services.system import System
from tests.people import Force, make_force, store_recording
from tests.snapshots import world_of

SECONDS = 6.0


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Six seconds of a simulated camera's H.264 and AAC: a keyframe every second."""
    path = tmp_path_factory.mktemp("footage") / "original.mp4"
    write_footage(path, started_at=datetime(2026, 10, 1, 9, tzinfo=UTC), duration=SECONDS,
                  serial="BWV-0001")  # fmt: skip
    return path.read_bytes()


@pytest.fixture
def force(system: System, request: pytest.FixtureRequest) -> Force:
    if "recording" in request.fixturenames:
        # A test of the recording: its force is the one it was recorded in.
        recorded: tuple[Force, str] = request.getfixturevalue("recorded")
        return recorded[0]
    return make_force(system)


def _recorded(system: System, footage: bytes) -> tuple[Force, str]:
    force = make_force(system)
    rid = store_recording(force, footage)
    probe_recording(force.system, rid)
    dana = principal_named(force.system, "dana")
    case = cases.create_case(
        force.system, dana, reference="01/2345/26", title="Assault", actor=Actor("user:dana"),
        members=["fran"],
    )  # fmt: skip
    cases.add_to_case(force.system, dana, case.id, rid, None, Actor("user:dana"))
    return force, rid


@pytest.fixture
def recorded(system: System, footage: bytes) -> tuple[Force, str]:
    """A force and alice's recording, built once per test process and copied."""
    return world_of(_recorded, system, footage)


@pytest.fixture
def recording(recorded: tuple[Force, str]) -> str:
    """alice's recording, probed (playable), in dana's case."""
    return recorded[1]


def _as(force: Force, name: str) -> tuple[Any, Actor]:
    return principal_named(force.system, name), Actor(f"user:{name}")


def _video_packets(path: Path, start: float, end: float) -> list[tuple[bytes, bool]]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        base = video.time_base or Fraction(1, 90_000)
        return [
            (bytes(p), p.is_keyframe)
            for p in container.demux(video)
            if p.size and p.pts is not None and start <= p.pts * base < end
        ]


def _frames(path: Path, start: float, end: float) -> list[bytes]:
    with av.open(str(path)) as container:
        return [
            b"".join(bytes(plane) for plane in frame.planes)
            for frame in container.decode(video=0)
            if frame.time is not None and start - 1e-6 <= frame.time < end - 1e-6
        ]


def _file(data: bytes) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=".mp4", delete=False)  # noqa: SIM115
    with handle:
        handle.write(data)
    return Path(handle.name)


def _trail(force: Force, recording: str) -> list[dict[str, Any]]:
    from custody.services.audit_trail import trail

    erin, actor = _as(force, "erin")
    return [
        e.model_dump() for e in trail.recording_trail(force.system, erin, recording, actor).events
    ]


def _stored(system: System, sha256: str) -> bytes:
    return b"".join(system.store.read(sha256))


def test_a_clip_is_the_originals_own_packets_from_the_keyframe_before_in(
    force: Force, recording: str, footage: bytes
) -> None:
    dana, actor = _as(force, "dana")
    objects_before = set(force.system.store.iter_objects())
    clip = clips.cut_clip(force.system, dana, recording, 2.3, 4.1, actor, title="The arrest")

    # What was asked, and what was really cut: the keyframe at or before 2.3 s is at 2 s.
    assert (clip.in_seconds, clip.out_seconds) == (2.3, 4.1)
    assert clip.cut_start_seconds == 2.0 and clip.starts_playing_at == 0.3
    assert clip.method == "stream-copy"
    assert clip.original_sha256 == hashlib.sha256(footage).hexdigest()
    data = _stored(force.system, clip.sha256)
    assert hashlib.sha256(data).hexdigest() == clip.sha256 and len(data) == clip.size
    assert abs(clip.duration_seconds - 2.12) < 0.001  # 53 frames at 25 fps: 2.00 to 4.08
    # A new object beside the original, which is byte for byte what the camera wrote.
    assert set(force.system.store.iter_objects()) - objects_before == {clip.sha256}
    with force.system.unit_of_work() as uow:
        original = uow.session.get(Recording, recording)
        assert original is not None and original.sha256 == clip.original_sha256
    assert _stored(force.system, clip.original_sha256) == footage

    # Lossless: the clip's packets are the original's over the same span, and so its frames.
    original_file, clip_file = _file(footage), _file(data)
    try:
        packets = _video_packets(clip_file, 0, 99)
        assert packets == _video_packets(original_file, 2.0, 4.1)
        assert packets[0][1], "a clip starts at a keyframe"
        frames = _frames(clip_file, 0, 99)
        assert len(frames) == 53
        assert frames == _frames(original_file, 2.0, 4.1)
        with av.open(str(clip_file)) as container:
            assert [s.type for s in container.streams] == ["video", "audio"]
    finally:
        original_file.unlink()
        clip_file.unlink()

    # Its making is on the recording's audit trail, with what a court checks.
    made = [e for e in _trail(force, recording) if e["tag"] == "user:clip:make"]
    assert len(made) == 1 and made[0]["actor"] == "user:dana"
    assert json.loads(made[0]["details"])["clip"] == clip.id
    assert clip.sha256 in made[0]["details"] and clip.original_sha256 in made[0]["details"]


def test_a_cut_on_a_keyframe_starts_there(force: Force, recording: str) -> None:
    fran, actor = _as(force, "fran")
    clip = clips.cut_clip(force.system, fran, recording, 3.0, 5.0, actor)
    assert clip.cut_start_seconds == 3.0 and clip.starts_playing_at == 0.0
    assert abs(clip.duration_seconds - 2.0) < 0.001


def _clip_count(system: System) -> int:
    with system.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(Clip)) or 0


@pytest.mark.parametrize(
    ("in_s", "out_s", "words"),
    [
        (2.0, 2.0, "out must come after in"),
        (3.0, 1.0, "out must come after in"),
        (-1.0, 2.0, "before the start"),
        (1.0, SECONDS + 1, "beyond the end of the recording"),
        (float("nan"), 2.0, "numbers of seconds"),
    ],
)
def test_bad_in_and_out_points_are_refused_and_nothing_is_made(
    force: Force, recording: str, in_s: float, out_s: float, words: str
) -> None:
    dana, actor = _as(force, "dana")
    objects = set(force.system.store.iter_objects())
    with pytest.raises(InvalidInput, match=words):
        clips.cut_clip(force.system, dana, recording, in_s, out_s, actor)
    assert _clip_count(force.system) == 0
    assert set(force.system.store.iter_objects()) == objects


def test_an_unplayable_original_is_not_cut(force: Force) -> None:
    rid = store_recording(force, b"not a video at all" * 100)
    probe_recording(force.system, rid)
    erin, actor = _as(force, "erin")  # professional standards: any footage
    with pytest.raises(Conflict, match="does not play, so it cannot be cut: not a readable"):
        clips.cut_clip(force.system, erin, rid, 0.0, 1.0, actor)
    assert _clip_count(force.system) == 0


def test_footage_not_yet_processed_is_not_cut(force: Force, footage: bytes) -> None:
    rid = store_recording(force, footage)
    erin, actor = _as(force, "erin")
    with pytest.raises(Conflict, match="not been processed yet"):
        clips.cut_clip(force.system, erin, rid, 0.0, 1.0, actor)


def test_a_deleted_original_is_not_cut_and_its_clips_go_with_it(
    force: Force, footage: bytes, clock: ManualClock
) -> None:
    """Retention deletes an uncategorised recording after 31 days: its clips are footage too,
    and go from the store with it, named in its deletion certificate."""
    rid = store_recording(force, footage)
    probe_recording(force.system, rid)
    erin, actor = _as(force, "erin")
    clip = clips.cut_clip(force.system, erin, rid, 1.0, 2.0, actor)
    clock.advance(timedelta(days=40))
    assert tombstone_if_due(force.system, rid, Actor.system()) == "deleted"
    purge_recording(force.system, rid)
    assert not force.system.store.exists(clip.sha256)
    with pytest.raises(Conflict, match="deleted under the retention rules"):
        clips.cut_clip(force.system, erin, rid, 0.0, 1.0, actor)
    with pytest.raises(Conflict):
        clips.open_clip_media(force.system, erin, clip.id, actor, None)
    gone = clips.get_clip(force.system, erin, clip.id, actor)
    assert gone.deleted_at is not None
    assert _clip_count(force.system) == 1


def test_a_clip_inherits_the_access_of_its_recording(force: Force, recording: str) -> None:
    dana, dana_actor = _as(force, "dana")
    clip = clips.cut_clip(force.system, dana, recording, 1.0, 2.0, dana_actor)
    # fran works on the case: she plays it and reads it.
    fran, fran_actor = _as(force, "fran")
    assert clips.get_clip(force.system, fran, clip.id, fran_actor).sha256 == clip.sha256
    played = clips.open_clip_media(force.system, fran, clip.id, fran_actor, (0, 99))
    assert b"".join(played.chunks) == _stored(force.system, clip.sha256)[:100]
    # charlie, an officer of another team, may not know of alice's recording: its clip is
    # "no clip", word for word the answer for an id never used, whatever he asks.
    charlie, charlie_actor = _as(force, "charlie")
    never = "00000000-0000-4000-8000-000000000000"
    for clip_id in (clip.id, never):
        for ask in (
            lambda c: clips.get_clip(force.system, charlie, c, charlie_actor),
            lambda c: clips.open_clip_media(force.system, charlie, c, charlie_actor, None),
        ):
            with pytest.raises(NotFound) as refused:
                ask(clip_id)
            assert refused.value.message == f"no clip {clip_id}"
    with pytest.raises(NotFound, match=f"no recording {recording}"):
        clips.cut_clip(force.system, charlie, recording, 1.0, 2.0, charlie_actor)
    # alice may watch her own footage but cutting it is not an officer's to do.
    alice, alice_actor = _as(force, "alice")
    with pytest.raises(NotPermitted, match="may not clip"):
        clips.cut_clip(force.system, alice, recording, 1.0, 2.0, alice_actor)
    assert clips.get_clip(force.system, alice, clip.id, alice_actor).id == clip.id
    # The refusals are audited on the recording, the clip's id nowhere in what charlie got.
    refused_tags = [e["tag"] for e in _trail(force, recording) if not e["allowed"]]
    assert refused_tags.count("user:clip:view") == 1 and "user:clip:make" in refused_tags


def test_playing_a_clip_is_one_viewing_and_a_download_its_own_event(
    force: Force, recording: str
) -> None:
    dana, actor = _as(force, "dana")
    clip = clips.cut_clip(force.system, dana, recording, 1.0, 3.0, actor)
    for n in range(5):
        stream = clips.open_clip_media(force.system, dana, clip.id, actor, (n * 100, n * 100 + 99))
        assert stream.partial and not stream.download
        b"".join(stream.chunks)
    copy = clips.open_clip_media(force.system, dana, clip.id, actor, None, download=True)
    assert b"".join(copy.chunks) == _stored(force.system, clip.sha256)
    tags = [e["tag"] for e in _trail(force, recording) if e["details"] and clip.id in e["details"]]
    assert tags.count("user:clip:stream") == 1 and tags.count("user:clip:download") == 1


def test_a_clip_reads_the_same_with_and_without_a_complaint_hold(
    force: Force, recording: str
) -> None:
    dana, actor = _as(force, "dana")
    clip = clips.cut_clip(force.system, dana, recording, 1.0, 2.0, actor)
    seen = {
        name: (
            clips.get_clip(force.system, person, clip.id, who).model_dump(),
            [c.model_dump() for c in clips.list_clips(force.system, person, recording, who)],
        )
        for name, (person, who) in ((n, _as(force, n)) for n in ("dana", "fran", "alice"))
    }
    erin, erin_actor = _as(force, "erin")
    holds.place_hold(force.system, erin, kind="complaint", reason="a complaint",
                     actor=erin_actor, recording_ids=[recording])  # fmt: skip
    for name, before in seen.items():
        person, who = _as(force, name)
        assert clips.get_clip(force.system, person, clip.id, who).model_dump() == before[0]
        listed = [c.model_dump() for c in clips.list_clips(force.system, person, recording, who)]
        assert listed == before[1]
