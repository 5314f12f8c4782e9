"""Redaction (issue 15, points 1 and 3), told as the people would see it through the services.

fran (disclosure) has alice's recording in her case: three people walk across a street in
it, one of them partly behind a pillar. fran asks for the faces to be found, chooses two of
the three people to blur, and a redacted copy is rendered as a new object, with a record
beside it; erin (a second person) approves it. The original is never touched; the copy has
no frame where a chosen person's face shows as it did; the record renders the same copy
again. Who may not know of the recording hears "no redaction"; bad input changes nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from custody.camera.faces import Walker, read_truth, write_face_footage
from custody.domain.actor import Actor
from custody.domain.errors import Conflict, InvalidInput, NotFound, NotPermitted
from custody.domain.redaction import Box, boxes_by_frame, decode_boxes, recall, track_boxes
from custody.services.evidence import cases
from custody.services.identity.users import principal_named
from custody.services.recordings.media import StoreReader, probe_recording
from custody.services.redaction import redactions, scans
from custody.services.redaction.model import (
    INPUT_NAME,
    OUTPUT_NAMES,
    ModelMismatch,
    model_path,
    open_session,
    verified_model,
)
from custody.services.redaction.records import Choices, ManualBox
from custody.services.system import System
from tests.people import Force, make_force, store_recording
from tests.snapshots import world_of

SECONDS = 3.0
WIDTH, HEIGHT = 640, 360
WALKERS = (
    Walker("astronaut", 0.10, 0.40, 0.40, 70),
    Walker("cameraman", 0.90, 0.75, 0.45, 60),
    Walker("astronaut", 0.60, 0.62, 0.35, 50, mirror=True),
)


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[int, list[Any]]]:
    """Three seconds of three people walking (640x360), and where each face is on each frame."""
    path = tmp_path_factory.mktemp("faces") / "street.mp4"
    truth = write_face_footage(
        path, started_at=datetime(2026, 10, 1, 9, tzinfo=UTC), duration=SECONDS,
        serial="BWV-0001", walkers=WALKERS, pillar=None, width=WIDTH, height=HEIGHT,
    )  # fmt: skip
    return path.read_bytes(), read_truth(truth)


@dataclass
class Scanned:
    """A force whose recording is scanned: built once per test process and copied."""

    force: Force
    recording: str
    scan: scans.ScanView


@pytest.fixture
def force(sqlite_system: System, request: pytest.FixtureRequest) -> Force:
    if "scanned" in request.fixturenames:
        # A test of a scanned recording: its force is the scanned world's.
        world: Scanned = request.getfixturevalue("scanned_world")
        return world.force
    return make_force(sqlite_system)


def _as(force: Force, name: str) -> tuple[Any, Actor]:
    return principal_named(force.system, name), Actor(f"user:{name}")


def _recorded(force: Force, footage: bytes) -> str:
    """alice's recording, probed (playable), in dana's case with fran disclosing."""
    rid = store_recording(force, footage)
    probe_recording(force.system, rid)
    dana, actor = _as(force, "dana")
    case = cases.create_case(force.system, dana, reference="01/2345/26", title="Assault",
                             actor=actor, members=["fran"])  # fmt: skip
    cases.add_to_case(force.system, dana, case.id, rid, None, actor)
    return rid


@pytest.fixture
def recording(force: Force, footage: tuple[bytes, Any], request: pytest.FixtureRequest) -> str:
    if "scanned" in request.fixturenames:
        world: Scanned = request.getfixturevalue("scanned_world")
        return world.recording
    return _recorded(force, footage[0])


def _scanned_world(system: System, footage: bytes) -> Scanned:
    force = make_force(system)
    recording = _recorded(force, footage)
    fran, actor = _as(force, "fran")
    asked = scans.request_scan(system, fran, recording, actor)
    assert asked.state == "scanning"
    assert system.jobs.face_scans == [asked.id]  # type: ignore[attr-defined]
    scans.run_scan(system, asked.id, threads=1)
    return Scanned(force, recording, scans.get_scan(system, fran, asked.id, actor))


@pytest.fixture
def scanned_world(sqlite_system: System, footage: tuple[bytes, Any]) -> Scanned:
    return world_of(_scanned_world, sqlite_system, footage[0])


@pytest.fixture
def scanned(scanned_world: Scanned) -> scans.ScanView:
    return scanned_world.scan


def _decoded(data: Iterable[bytes] | Path) -> Iterator[np.ndarray]:
    source = str(data) if isinstance(data, Path) else _file(b"".join(data))
    with av.open(source) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def _file(data: bytes) -> str:
    import tempfile

    handle = tempfile.NamedTemporaryFile(suffix=".mp4", delete=False)  # noqa: SIM115
    with handle:
        handle.write(data)
    return handle.name


def test_every_person_is_found_and_followed(
    scanned: scans.ScanView, footage: tuple[bytes, dict[int, list[Any]]], force: Force
) -> None:
    assert scanned.state == "complete", scanned.failure
    assert scanned.model_sha256 == verified_model().sha256
    assert scanned.frame_count == round(SECONDS * 25)
    assert len(scanned.tracks) == 3
    for track in scanned.tracks:
        assert track.thumbnail_sha256 is not None
        jpeg = b"".join(force.system.store.read(track.thumbnail_sha256))
        assert jpeg[:3] == b"\xff\xd8\xff"
        assert track.first_seconds <= 0.2 and track.last_seconds >= SECONDS - 0.2
    # Recall against the ground truth, frame by frame, IoU at least 0.3.
    with force.system.unit_of_work() as uow:
        row = uow.session.get(scans.FaceScan, scanned.id)
        assert row is not None
        tracks = [t for t, _ in scans.tracks_of(row)]
    found: dict[int, list[Box]] = {}
    for track in tracks:
        for frame, box in track_boxes(track, scanned.frame_count or 0, hold=3).items():
            found.setdefault(frame, []).append(box)
    truth = {f: [Box(*face[:4]) for face in faces] for f, faces in footage[1].items()}
    hit, total = recall(truth, found)
    assert total == 3 * round(SECONDS * 25)
    assert hit / total >= 0.95


def _region(picture: np.ndarray, box: Any) -> np.ndarray:
    return picture[box.y1 : box.y2, box.x1 : box.x2].astype(np.int16)


def test_a_redacted_copy_blurs_the_chosen_people_on_every_frame_and_leaves_the_original(
    force: Force, recording: str, scanned: scans.ScanView, footage: tuple[bytes, Any]
) -> None:
    fran, actor = _as(force, "fran")
    system = force.system
    chosen = (scanned.tracks[0].id, scanned.tracks[1].id)
    spared = scanned.tracks[2].id
    asked = redactions.request_redaction(
        system, fran, recording, Choices(blur_tracks=chosen, mute=((1.0, 2.0),)), actor,
        scan_id=scanned.id,
    )  # fmt: skip
    assert asked.state == "rendering" and asked.sha256 is None and not asked.released
    with pytest.raises(Conflict):
        redactions.read_record(system, fran, asked.id, actor)
    redactions.run_render(system, asked.id)
    done = redactions.get_redaction(system, fran, asked.id, actor)
    assert done.state == "rendered" and done.sha256 and done.record_sha256
    assert done.original_sha256 != done.sha256
    # The original is untouched: still in the store, byte for byte.
    assert b"".join(system.store.read(done.original_sha256)) == footage[0]

    record = json.loads(redactions.read_record(system, fran, asked.id, actor))
    assert record["model"]["sha256"] == verified_model().sha256
    assert record["output"]["sha256"] == done.sha256
    assert record["original"]["sha256"] == done.original_sha256
    assert record["choices"]["blur_tracks"] == sorted(chosen)
    assert record["choices"]["tracks_not_blurred"] == [spared]
    assert record["choices"]["chosen_by"] == "user:fran"
    assert record["approval"] is None
    boxes = boxes_by_frame(decode_boxes(record["boxes"]["data"]))
    assert record["boxes"]["count"] == sum(len(b) for b in boxes.values())

    original = list(_decoded(system.store.read(done.original_sha256)))
    copy = list(_decoded(system.store.read(done.sha256)))
    assert len(copy) == len(original) == round(SECONDS * 25)
    # Each chosen person is blurred from their first detection to their last on every frame,
    # and no blurred area looks like the original there.
    for track in (t for t in scanned.tracks if t.id in chosen):
        for frame in range(track.first_frame, track.last_frame + 1):
            mine = [b for b in boxes.get(frame, []) if b.source == f"track:{track.id}"]
            assert mine, f"track {track.id} has no box on frame {frame}"
            for box in mine:
                change = np.abs(_region(copy[frame], box) - _region(original[frame], box))
                assert change.mean() > 8, (frame, box)
    # The person not chosen is left as they were (but for the encoder's loss).
    truth = footage[1]
    for frame in range(0, len(copy), 10):
        x1, y1, x2, y2, _ = (round(v) for v in truth[frame][2])
        region = (slice(y1, y2), slice(x1, x2))
        change = np.abs(copy[frame][region].astype(np.int16) - original[frame][region])
        assert change.mean() < 6
    # The audio is muted from 1 s to 2 s, and only there.
    with av.open(_file(b"".join(system.store.read(done.sha256)))) as container:
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    rate = 16_000
    assert np.abs(samples[int(1.1 * rate) : int(1.9 * rate)]).max() < 1e-3
    assert np.abs(samples[int(0.2 * rate) : int(0.8 * rate)]).max() > 0.01


def test_the_record_renders_the_same_copy_again(
    force: Force, recording: str, scanned: scans.ScanView, tmp_path: Path
) -> None:
    fran, actor = _as(force, "fran")
    system = force.system
    manual = ManualBox("plate", ((5, 10, 300, 90, 330), (60, 200, 300, 280, 330)))
    asked = redactions.request_redaction(
        system, fran, recording, Choices(blur_tracks=(scanned.tracks[0].id,), manual=(manual,)),
        actor, scan_id=scanned.id,
    )  # fmt: skip
    redactions.run_render(system, asked.id)
    done = redactions.get_redaction(system, fran, asked.id, actor)
    record = json.loads(redactions.read_record(system, fran, asked.id, actor))
    again = tmp_path / "again.mp4"
    redactions.render_from_record(lambda: StoreReader(system.store, done.original_sha256),
                                  record, again)  # fmt: skip
    rendered = list(_decoded(system.store.read(done.sha256 or "")))
    for first, second in zip(rendered, _decoded(again), strict=True):
        assert np.array_equal(first, second)
    # The manual box is interpolated between its keyframes, and absent outside them.
    boxes = boxes_by_frame(decode_boxes(record["boxes"]["data"]))
    plate = {f: b for f, bs in boxes.items() for b in bs if b.source == "manual:1"}
    assert sorted(plate) == list(range(5, 61))
    assert (plate[16].x1, plate[16].x2) == (48, 128)


def test_a_second_person_approves_and_the_record_says_who(
    force: Force, recording: str, scanned: scans.ScanView
) -> None:
    fran, fran_actor = _as(force, "fran")
    erin, erin_actor = _as(force, "erin")
    system = force.system
    asked = redactions.request_redaction(
        system, fran, recording, Choices(everything=True, remove_audio=True), fran_actor
    )
    with pytest.raises(Conflict, match="not rendered"):
        redactions.approve_redaction(system, erin, asked.id, erin_actor)
    redactions.run_render(system, asked.id)
    with pytest.raises(Conflict, match="second person"):
        redactions.approve_redaction(system, fran, asked.id, fran_actor)
    approved = redactions.approve_redaction(system, erin, asked.id, erin_actor)
    assert approved.released and approved.approved_by == "user:erin"
    record = json.loads(redactions.read_record(system, fran, asked.id, fran_actor))
    assert record["approval"]["by"] == "user:erin"
    assert record["choices"]["mode"] == "everything"
    with av.open(_file(b"".join(system.store.read(approved.sha256 or "")))) as container:
        assert not container.streams.audio


def test_who_may_not_know_of_the_recording_hears_no_redaction(
    force: Force, recording: str, scanned: scans.ScanView
) -> None:
    fran, fran_actor = _as(force, "fran")
    asked = redactions.request_redaction(
        force.system, fran, recording, Choices(everything=True), fran_actor
    )
    charlie, actor = _as(force, "charlie")
    for call in (
        lambda: redactions.get_redaction(force.system, charlie, asked.id, actor),
        lambda: redactions.approve_redaction(force.system, charlie, asked.id, actor),
        lambda: scans.get_scan(force.system, charlie, scanned.id, actor),
    ):
        with pytest.raises(NotFound) as refused:
            call()
        assert recording not in str(refused.value)
    with pytest.raises(NotFound, match="no redaction"):
        redactions.get_redaction(force.system, fran, "f" * 36, fran_actor)
    # alice may watch her own recording, but not redact it.
    alice, alice_actor = _as(force, "alice")
    with pytest.raises(NotPermitted):
        scans.request_scan(force.system, alice, recording, alice_actor)


def test_bad_choices_are_refused_and_change_nothing(
    force: Force, recording: str, scanned: scans.ScanView
) -> None:
    fran, actor = _as(force, "fran")
    bad = [
        Choices(blur_tracks=(99,)),
        Choices(mute=((3.0, 1.0),)),
        Choices(manual=(ManualBox("plate", ((0, 10, 10, 5, 20),)),)),
        Choices(manual=(ManualBox("plate", ((10_000, 10, 10, 50, 20),)),)),
        Choices(manual=(ManualBox("plate", ()),)),
    ]
    for choices in bad:
        with pytest.raises(InvalidInput):
            redactions.request_redaction(force.system, fran, recording, choices, actor,
                                         scan_id=scanned.id)  # fmt: skip
    with pytest.raises(InvalidInput):
        redactions.request_redaction(force.system, fran, recording, Choices(blur_tracks=(1,)),
                                     actor)  # fmt: skip
    assert force.system.jobs.redactions == []  # type: ignore[attr-defined]


class _DiesHalfWay:
    """The store, but a put that dies after its first megabyte (a render killed half-way)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put_stream(self, chunks: Iterable[bytes], expected_sha256: str | None = None) -> Any:
        def dying() -> Iterator[bytes]:
            for chunk in chunks:
                yield chunk
                raise KeyboardInterrupt

        return self._store.put_stream(dying(), expected_sha256)


def test_a_render_killed_half_way_offers_nothing(
    force: Force, recording: str, scanned: scans.ScanView
) -> None:
    fran, actor = _as(force, "fran")
    system = force.system
    asked = redactions.request_redaction(
        system, fran, recording, Choices(blur_tracks=(scanned.tracks[0].id,)), actor,
        scan_id=scanned.id,
    )  # fmt: skip
    before = set(system.store.iter_objects())
    real = system.store
    system.store = _DiesHalfWay(real)  # type: ignore[assignment]
    try:
        with pytest.raises(KeyboardInterrupt):
            redactions.run_render(system, asked.id)
    finally:
        system.store = real
    assert set(system.store.iter_objects()) == before
    left = redactions.get_redaction(system, fran, asked.id, actor)
    assert left.state == "rendering" and left.sha256 is None and not left.released
    assert list((system.settings.data_dir / "redacting").iterdir()) == []
    with pytest.raises(Conflict):
        redactions.read_record(system, fran, asked.id, actor)
    # Run again, it finishes.
    redactions.run_render(system, asked.id)
    assert redactions.get_redaction(system, fran, asked.id, actor).state == "rendered"


def test_footage_that_does_not_play_is_not_scanned(force: Force) -> None:
    rid = store_recording(force, b"not an mp4 at all" * 100)
    probe_recording(force.system, rid)
    dana, actor = _as(force, "dana")
    case = cases.create_case(force.system, dana, reference="01/9999/26", title="Theft",
                             actor=actor, members=["fran"])  # fmt: skip
    cases.add_to_case(force.system, dana, case.id, rid, None, actor)
    fran, fran_actor = _as(force, "fran")
    with pytest.raises(Conflict, match="does not play"):
        scans.request_scan(force.system, fran, rid, fran_actor)


def test_weights_whose_hash_differs_from_the_recorded_one_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "centerface.onnx"
    shutil.copyfile(model_path(), copy)
    assert verified_model(copy).sha256 == verified_model().sha256
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelMismatch, match=r"not .* as recorded"):
        verified_model(copy)
    with pytest.raises(ModelMismatch, match="cannot be read"):
        verified_model(tmp_path / "missing.onnx")


def test_the_detector_runs_the_recorded_weights_as_constants_at_any_batch_and_size() -> None:
    # The shipped graph also lists its weights as inputs; left so, onnxruntime treats them as
    # replaceable and neither folds nor pre-packs them (more than twice the CPU a frame).
    session = open_session(verified_model(), threads=1)
    assert session.get_overridable_initializers() == []
    assert [i.name for i in session.get_inputs()] == [INPUT_NAME]
    heat, scale, offset = session.run(
        list(OUTPUT_NAMES), {INPUT_NAME: np.zeros((2, 3, 64, 96), dtype=np.float32)}
    )
    assert heat.shape == (2, 1, 16, 24)
    assert scale.shape == offset.shape == (2, 2, 16, 24)
