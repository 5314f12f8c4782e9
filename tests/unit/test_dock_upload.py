"""One recording's journey against the fake server: resume, retries, and release only for a receipt.

Every test ends by asking the two questions that matter: does the server hold the
exact bytes, and is the footage still on the camera unless a verified receipt came back?
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.dock import Backoff, DockAgent, DockResult, chunks, uploader
from custody.domain import signing
from tests.unit.test_dock_fakes import SERVER, TOKEN, FakeCamera, FakeServer, make_camera

CHUNK = 1000
FAST = Backoff(base=0.001, cap=0.005, attempts=5)


@dataclass
class Dock:
    server: FakeServer
    camera: FakeCamera
    bay: Path
    # The footage as recorded, kept here because a successful run deletes it from the camera.
    original: dict[str, bytes]

    def agent(self, **options: Any) -> DockAgent:
        settings: dict[str, Any] = {
            "chunk_size": CHUNK,
            "backoff": FAST,
            "transport": self.server.transport(),
        } | options
        return DockAgent(SERVER, TOKEN, [self.bay], **settings)

    def run(self, **options: Any) -> DockResult:
        with self.agent(**options) as agent:
            return agent.run_once()

    @property
    def rid(self) -> str:
        return self.camera.manifests[0].recording_id

    def assert_delivered(self, recording_id: str | None = None) -> None:
        """The server holds the exact bytes and the camera let them go."""
        rid = recording_id or self.rid
        manifest = next(m for m in self.camera.manifests if m.recording_id == rid)
        assert rid in self.server.receipts
        assert self.server.stored[rid] == self.original[rid]
        assert len(self.original[rid]) == manifest.size
        assert not self.camera.holds(rid)


@pytest.fixture
def dock(tmp_path: Path) -> Iterator[Dock]:
    bay = tmp_path / "bay-1"
    camera = make_camera(bay, "BWV-0001", 4500)
    server = FakeServer()
    server.register(camera)
    original = {m.recording_id: camera.footage(m.recording_id) for m in camera.manifests}
    yield Dock(server, camera, bay, original)


def test_a_docked_recording_is_uploaded_in_chunks_and_then_released(dock: Dock) -> None:
    result = dock.run()

    assert result.uploaded == [dock.rid] and result.ok
    dock.assert_delivered()
    assert dock.server.patch_offsets() == [0, 1000, 2000, 3000, 4000]
    # Every tus request says which protocol it speaks.
    assert all(h["tus-resumable"] == "1.0.0" for h in dock.server.requests("PATCH"))


def test_the_camera_is_reported_when_seen_and_after_its_uploads(dock: Dock) -> None:
    dock.run()

    first, last = dock.server.reports
    assert first["serial"] == "BWV-0001" and first["bay"] == "bay-1"
    assert first["recordings_waiting"] == 1 and last["recordings_waiting"] == 0
    assert first["battery_percent"] == 71 and first["firmware"] == "1.4.2"
    assert last["free_bytes"] > first["free_bytes"]


def test_a_connection_lost_after_the_server_wrote_resumes_from_the_servers_offset(
    dock: Dock,
) -> None:
    dock.server.fault("PATCH", when="after", nth=3)

    result = dock.run()

    assert result.uploaded == [dock.rid]
    dock.assert_delivered()
    # The third chunk (at 2000) arrived although its answer did not: the dock asked
    # for the offset and went on at 3000, never from 0 and never sending 2000 again.
    assert dock.server.patch_offsets() == [0, 1000, 2000, 3000, 4000]
    assert len(dock.server.requests("HEAD")) == 1


def test_a_refused_connection_is_retried_with_the_same_chunk(dock: Dock) -> None:
    dock.server.fault("PATCH", when="before", nth=2, times=2)

    dock.run()

    dock.assert_delivered()
    assert dock.server.patch_offsets() == [0, 1000, 1000, 1000, 2000, 3000, 4000]


def test_a_partial_write_resumes_at_the_odd_offset_the_server_kept(dock: Dock) -> None:
    dock.server.fault("PATCH", when="partial", nth=2)

    dock.run()

    dock.assert_delivered()
    # Half of the second chunk stuck: the next request starts exactly where it ended.
    assert dock.server.patch_offsets()[:3] == [0, 1000, 1500]


def test_a_checksum_mismatch_resends_that_chunk(dock: Dock) -> None:
    dock.server.fault("PATCH", when="respond", nth=2, status=460, code="checksum_mismatch")

    dock.run()

    dock.assert_delivered()
    assert dock.server.patch_offsets() == [0, 1000, 1000, 2000, 3000, 4000]


def test_an_offset_mismatch_is_recovered_by_asking_the_server(dock: Dock) -> None:
    def lose_last_chunk(server: FakeServer) -> None:
        # The server's storage rolled back a chunk (restored from before a crash, say).
        upload = next(iter(server.uploads.values()))
        del upload.data[1000:]

    dock.server.fault("PATCH", when="call", nth=3, action=lose_last_chunk)

    dock.run()

    dock.assert_delivered()
    assert dock.server.patch_offsets() == [0, 1000, 2000, 1000, 2000, 3000, 4000]


def test_a_locked_upload_is_waited_for_then_resumed(dock: Dock) -> None:
    dock.server.fault("PATCH", when="respond", nth=2, status=423, code="upload_locked")

    dock.run()

    dock.assert_delivered()
    assert len(dock.server.requests("HEAD")) == 1


def test_a_server_error_is_retried(dock: Dock) -> None:
    dock.server.fault("PATCH", when="respond", nth=2, status=503, code="unavailable")
    dock.server.fault("PUT", when="respond", status=502, code="bad_gateway")

    dock.run()

    dock.assert_delivered()


def test_an_upload_that_is_gone_is_started_again(dock: Dock) -> None:
    dock.server.fault("PATCH", when="respond", nth=3, status=410, code="upload_gone")

    dock.run()

    dock.assert_delivered()
    assert len(dock.server.requests("POST", "/uploads")) == 2
    assert dock.server.patch_offsets() == [0, 1000, 2000, 0, 1000, 2000, 3000, 4000]


def test_an_unreachable_server_keeps_the_footage_and_the_next_pass_resumes(dock: Dock) -> None:
    dock.server.fault("PATCH", when="before", nth=3, times=1000)

    first = dock.run()

    assert not first.ok and "server unreachable" in first.kept[dock.rid]
    assert dock.camera.holds(dock.rid)
    assert len(dock.server.requests("PATCH")) == 2 + FAST.attempts
    dock.server.faults.clear()
    sent_before = len(dock.server.log)

    second = dock.run()

    assert second.uploaded == [dock.rid]
    dock.assert_delivered()
    # The server offered the unfinished upload with its offset: no new upload, no byte twice.
    assert len(dock.server.requests("POST", "/uploads")) == 1
    later_patches = [h for m, _, h in dock.server.log[sent_before:] if m == "PATCH"]
    assert [int(h["upload-offset"]) for h in later_patches] == [2000, 3000, 4000]


def test_a_lost_answer_to_the_last_chunk_is_recovered_from_the_receipt(dock: Dock) -> None:
    dock.server.fault("PATCH", when="after", nth=5)

    dock.run()

    dock.assert_delivered()
    assert len(dock.server.requests("PATCH")) == 5


def test_a_complete_upload_that_was_never_committed_is_committed_with_an_empty_patch(
    dock: Dock,
) -> None:
    def arrive_without_commit(server: FakeServer) -> None:
        # The last bytes are durable but the server died before it committed.
        upload = next(iter(server.uploads.values()))
        upload.data += dock.camera.footage(dock.rid)[4000:]

    dock.server.fault("PATCH", when="call", nth=5, action=arrive_without_commit)
    # That request itself then meets the moved offset, as after a restart.

    dock.run()

    dock.assert_delivered()
    last = dock.server.requests("PATCH")[-1]
    assert last["upload-offset"] == "4500" and last["content-length"] == "0"


def test_a_recording_the_server_already_holds_is_released_without_upload(dock: Dock) -> None:
    dock.server.commit_directly(dock.camera, dock.camera.manifests[0])

    result = dock.run()

    assert result.already_stored == [dock.rid] and result.ok
    assert not dock.camera.holds(dock.rid)
    assert dock.server.requests("PATCH") == []


def test_a_release_cut_short_after_the_footage_went_is_finished_for_the_receipt(
    dock: Dock,
) -> None:
    dock.server.commit_directly(dock.camera, dock.camera.manifests[0])
    # The dock died between deleting the footage and deleting the manifest (issue 11, 14).
    (dock.bay / "recordings" / f"{dock.rid}.mp4").unlink()

    result = dock.run()

    assert result.already_stored == [dock.rid] and result.ok
    assert list((dock.bay / "recordings").iterdir()) == []
    assert dock.server.requests("PATCH") == []


def test_a_manifest_whose_footage_the_server_never_got_is_kept_and_said_so(dock: Dock) -> None:
    (dock.bay / "recordings" / f"{dock.rid}.mp4").unlink()

    result = dock.run()

    assert "the server does not hold it" in result.kept[dock.rid]
    assert (dock.bay / "recordings" / f"{dock.rid}.json").exists()
    assert dock.server.requests("POST", "/uploads") == []


def test_a_receipt_signed_by_another_key_keeps_the_footage(dock: Dock) -> None:
    dock.server.receipt_key = Ed25519PrivateKey.generate()

    result = dock.run()

    assert "receipt does not verify" in result.kept[dock.rid]
    assert dock.camera.holds(dock.rid)


def test_a_receipt_for_other_bytes_keeps_the_footage(dock: Dock) -> None:
    def other_bytes(receipt: dict[str, Any]) -> dict[str, Any]:
        forged = {k: v for k, v in receipt.items() if k != "signature"} | {"sha256": "0" * 64}
        return signing.sign(forged, dock.server.key)

    dock.server.tamper_receipt = other_bytes

    result = dock.run()

    assert "SHA-256" in result.kept[dock.rid]
    assert dock.camera.holds(dock.rid)


def test_a_receipt_whose_signature_was_edited_keeps_the_footage(dock: Dock) -> None:
    dock.server.tamper_receipt = lambda receipt: receipt | {"size": receipt["size"] + 1}

    result = dock.run()

    assert "receipt does not verify" in result.kept[dock.rid]
    assert dock.camera.holds(dock.rid)


def test_a_pinned_server_key_is_used_instead_of_asking(dock: Dock) -> None:
    result = dock.run(server_key=dock.server.public_key)

    assert result.ok
    assert dock.server.requests("GET", "/server-key") == []


def test_a_pinned_key_that_is_not_the_servers_keeps_the_footage(dock: Dock) -> None:
    other = signing.public_key_text(Ed25519PrivateKey.generate().public_key())

    result = dock.run(server_key=other)

    assert dock.rid in result.kept and dock.camera.holds(dock.rid)


def test_footage_that_differs_from_its_manifest_is_kept_and_flagged(dock: Dock) -> None:
    media = dock.camera.root / "recordings" / f"{dock.rid}.mp4"
    data = bytearray(media.read_bytes())
    data[100] ^= 0xFF
    media.write_bytes(bytes(data))

    result = dock.run()

    assert "differs from its signed manifest" in result.kept[dock.rid]
    assert dock.camera.holds(dock.rid) and dock.rid not in dock.server.receipts


def test_footage_shorter_than_its_manifest_never_leaves_the_camera(dock: Dock) -> None:
    media = dock.camera.root / "recordings" / f"{dock.rid}.mp4"
    media.write_bytes(media.read_bytes()[:3000])

    result = dock.run()

    assert "manifest says 4500" in result.kept[dock.rid]
    assert dock.camera.holds(dock.rid)
    assert dock.server.requests("PATCH") == []


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (422, "manifest_invalid"),
        (422, "signature_invalid"),
        (422, "unknown_camera"),
        (409, "recording_conflict"),
    ],
)
def test_a_refused_manifest_keeps_the_footage_and_is_not_retried(
    dock: Dock, status: int, code: str
) -> None:
    dock.server.fault("PUT", when="respond", status=status, code=code)

    result = dock.run()

    assert code in result.kept[dock.rid]
    assert dock.camera.holds(dock.rid)
    assert len(dock.server.requests("PUT")) == 1
    assert dock.server.requests("POST", "/uploads") == []


def test_a_manifest_the_camera_key_did_not_sign_is_refused(dock: Dock) -> None:
    dock.server.cameras["BWV-0001"] = signing.public_key_text(
        Ed25519PrivateKey.generate().public_key()
    )

    result = dock.run()

    assert "signature_invalid" in result.kept[dock.rid]
    assert dock.camera.holds(dock.rid)


def test_a_conflict_on_the_last_chunk_keeps_the_footage(dock: Dock) -> None:
    dock.server.fault("PATCH", when="respond", nth=5, status=409, code="recording_conflict")

    result = dock.run()

    assert "recording_conflict" in result.kept[dock.rid]
    assert dock.camera.holds(dock.rid)


def test_an_unregistered_camera_is_reported_clearly_and_its_footage_kept(
    dock: Dock, caplog: pytest.LogCaptureFixture
) -> None:
    dock.server.cameras.clear()

    result = dock.run()

    assert "unknown_camera" in result.kept[dock.rid]
    assert "not registered" in caplog.text
    assert dock.camera.holds(dock.rid)


def test_a_wrong_token_keeps_the_footage(dock: Dock) -> None:
    with DockAgent(
        SERVER, "wrong", [dock.bay], transport=dock.server.transport(), backoff=FAST
    ) as agent:
        result = agent.run_once()

    assert "not_authenticated" in result.kept[dock.rid]
    assert dock.camera.holds(dock.rid)


def test_the_token_is_never_logged(dock: Dock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    dock.server.fault("PATCH", when="before", nth=1, times=1000)

    with dock.agent() as agent:
        agent.run_once()
        assert TOKEN not in repr(agent.client)

    assert TOKEN not in caplog.text


def test_stopping_keeps_what_is_unfinished_for_the_server_to_resume(dock: Dock) -> None:
    stop = threading.Event()
    dock.server.fault("PATCH", when="call", nth=2, action=lambda _: stop.set())

    with dock.agent() as agent:
        result = agent.run_once(stop)

    assert "stopped" in result.kept[dock.rid]
    assert dock.camera.holds(dock.rid)
    # The chunk in flight when the stop came was finished, not torn.
    upload = next(iter(dock.server.uploads.values()))
    assert upload.offset == 2000 and dock.server.patch_offsets() == [0, 1000]


def test_uploads_run_at_most_parallel_at_a_time(tmp_path: Path) -> None:
    bays = [tmp_path / "bay-1", tmp_path / "bay-2"]
    cameras = [make_camera(bays[0], "BWV-0001", 3000, 3000), make_camera(bays[1], "BWV-0002", 3000)]
    server = FakeServer()
    for camera in cameras:
        server.register(camera)
    server.patch_delay = 0.02

    with DockAgent(
        SERVER, TOKEN, bays, parallel=2, chunk_size=CHUNK, transport=server.transport()
    ) as agent:
        result = agent.run_once()

    assert len(result.uploaded) == 3 and result.ok
    assert server.most_writing == 2
    assert all(not c.holds(m.recording_id) for c in cameras for m in c.manifests)


def test_an_empty_bay_is_no_camera(tmp_path: Path) -> None:
    (tmp_path / "bay-1").mkdir()
    server = FakeServer()

    with DockAgent(SERVER, TOKEN, [tmp_path / "bay-1"], transport=server.transport()) as agent:
        result = agent.run_once()

    assert result.ok and result.uploaded == [] and server.log == []


def test_a_recording_stored_before_its_upload_opened_is_released_by_its_receipt(
    dock: Dock,
) -> None:
    # Another dock of the station finished it between this dock's declaration and its
    # POST /uploads: the server opens no second upload (409 recording_stored).
    manifest = dock.camera.manifests[0]
    dock.server.fault(
        "POST",
        "/uploads",
        when="call",
        action=lambda server: server.commit_directly(dock.camera, manifest),
    )
    result = dock.run()

    assert result.ok
    dock.assert_delivered()
    assert dock.server.patch_offsets() == []


def _answers_take(
    monkeypatch: pytest.MonkeyPatch, server: FakeServer, seconds: list[float]
) -> None:
    """The uploader's clock moves only as the server answers a PATCH: the nth takes the nth
    of `seconds` (then the last), whatever the machine's own pace."""
    now = [0.0]
    patches = [0]
    handle = server.handle

    def timed(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            now[0] += seconds[min(patches[0], len(seconds) - 1)]
            patches[0] += 1
        return handle(request)

    monkeypatch.setattr(server, "handle", timed)
    monkeypatch.setattr(uploader, "monotonic", lambda: now[0])


def _bigger_dock(tmp_path: Path, size: int) -> Dock:
    bay = tmp_path / "bay-big"
    camera = make_camera(bay, "BWV-0002", size)
    server = FakeServer()
    server.register(camera)
    original = {m.recording_id: camera.footage(m.recording_id) for m in camera.manifests}
    return Dock(server, camera, bay, original)


def test_chunks_answered_quickly_grow_to_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each chunk is a durable step the dock waits for: on a fast link, fewer and bigger. The
    chunk read ahead while one was on the wire is sent as read, so growth shows a chunk later."""
    dock = _bigger_dock(tmp_path, 15_000)
    _answers_take(monkeypatch, dock.server, [0.1])

    dock.run(max_chunk_size=4000)

    dock.assert_delivered()
    assert dock.server.patch_offsets() == [0, 1000, 2000, 4000, 8000, 12000]


def test_a_chunk_answered_slowly_halves_the_next_and_a_lost_one_starts_again_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dock = _bigger_dock(tmp_path, 20_000)
    # Fast, fast, then a 9 s answer (at 2000): the next chunk is 2000 bytes, not the 4000
    # read ahead. The sixth PATCH's connection drops before the server sees it: the same
    # offset again in chunks of the first size.
    _answers_take(monkeypatch, dock.server, [0.1, 0.1, 9.0, 5.0])
    dock.server.fault("PATCH", when="before", nth=6)

    dock.run(max_chunk_size=4000)

    dock.assert_delivered()
    assert dock.server.patch_offsets()[:8] == [0, 1000, 2000, 4000, 6000, 8000, 8000, 9000]


def test_a_damaged_chunk_is_sent_again_at_the_first_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dock = _bigger_dock(tmp_path, 10_000)
    _answers_take(monkeypatch, dock.server, [0.1])
    dock.server.fault("PATCH", when="respond", nth=3, status=460, code="checksum_mismatch")

    dock.run(max_chunk_size=4000)

    dock.assert_delivered()
    assert dock.server.patch_offsets()[:6] == [0, 1000, 2000, 2000, 3000, 4000]


def test_without_a_bound_every_chunk_is_the_size_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dock = _bigger_dock(tmp_path, 5000)
    _answers_take(monkeypatch, dock.server, [0.0])

    dock.run()

    assert dock.server.patch_offsets() == [0, 1000, 2000, 3000, 4000]


def test_an_agent_refuses_a_bound_below_its_first_chunk(dock: Dock) -> None:
    with pytest.raises(ValueError, match="max_chunk_size"):
        dock.agent(max_chunk_size=CHUNK - 1)


@pytest.mark.parametrize(
    ("size", "seconds", "expected"),
    [
        (1000, 0.2, 2000),  # fast: doubled
        (4000, 0.2, 4000),  # fast, at the bound: kept
        (3000, 0.2, 4000),  # doubled past the bound: the bound
        (2000, 3.0, 2000),  # neither: kept
        (4000, 9.0, 2000),  # slow: halved
        (1000, 9.0, 1000),  # slow, at the first size: kept
    ],
)
def test_the_next_chunks_size(size: int, seconds: float, expected: int) -> None:
    assert chunks.next_size(size, seconds, 1000, 4000) == expected


def test_a_chunk_goes_as_one_body_of_its_stated_length_whatever_its_size() -> None:
    """A chunk larger than the pieces it is handed to the HTTP stack in (so that a large one
    is not copied over and over as it is sent) still goes as one body with its length
    stated, never chunked: tus counts the offset from Content-Length."""
    from custody.dock.client import BODY_PIECE, DockClient

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(204, headers={"Upload-Offset": str(len(request.content))})

    chunk = bytes(range(256)) * (BODY_PIECE // 256 * 2 + 3)
    client = DockClient(SERVER, TOKEN, transport=httpx.MockTransport(answer))
    try:
        patched = client.patch(f"{SERVER}/api/v1/uploads/u1", 0, chunk, b"\0" * 32)
    finally:
        client.close()
    (request,) = seen
    assert request.headers["Content-Length"] == str(len(chunk))
    assert "Transfer-Encoding" not in request.headers
    assert request.content == chunk
    assert patched.offset == len(chunk)
