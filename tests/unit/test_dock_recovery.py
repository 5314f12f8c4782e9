"""Issue 11, point 17: back within seconds of the server's return, and saying what happened.

Time here is the dock's own waiting: the stop event the agent waits on adds each wait to
a clock and returns at once, and the fake server is down for a stretch of that clock. So
the outage and the dock's waits are exact, and nothing sleeps.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from custody.dock import Backoff, DockAgent, DockResult
from tests.unit.test_dock_fakes import SERVER, TOKEN, FakeCamera, FakeServer, make_camera

CHUNK = 1000
# How soon after the server is back the dock must be uploading again.
FEW_SECONDS = 5.0


class DockTime(threading.Event):
    """The agent's stop event, never set: each wait passes at once and moves the clock."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if timeout:
            self.waits.append(timeout)
            self.now += timeout
        return False


class Restarts:
    """The fake server, down for given stretches of the dock's time after the n-th PATCH."""

    def __init__(self, server: FakeServer, time: DockTime, after_patch: int) -> None:
        self.server = server
        self.time = time
        self.after_patch = after_patch
        self.patches = 0
        self.outages: list[tuple[float, float]] = []
        self.planned: list[float] = []
        # For each outage: how long after it ended the server got its first request.
        self.back_after: list[float] = []

    def down(self, *seconds: float) -> None:
        self.planned = list(seconds)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        now = self.time.now
        if self.outages and len(self.back_after) < len(self.outages):
            _, end = self.outages[-1]
            if now < end:
                raise httpx.ConnectError("connection refused", request=request)
            self.back_after.append(now - end)
            if self.planned:
                # It answers this one request, then dies again.
                response = self.server.handle(request)
                self.outages.append((now, now + self.planned.pop(0)))
                return response
        if request.method == "PATCH":
            self.patches += 1
            if self.patches == self.after_patch and self.planned and not self.outages:
                self.outages.append((now, now + self.planned.pop(0)))
                raise httpx.ConnectError("connection refused", request=request)
        return self.server.handle(request)


def docked(tmp_path: Path) -> tuple[FakeServer, FakeCamera, Path]:
    bay = tmp_path / "bay-1"
    camera = make_camera(bay, "BWV-0001", 4500)
    server = FakeServer()
    server.register(camera)
    return server, camera, bay


def run(
    bay: Path, transport: httpx.BaseTransport, time: DockTime, backoff: Backoff | None = None
) -> DockResult:
    """One `run_once` with the agent's own backoff unless one is given, on the dock's time."""
    with DockAgent(
        SERVER, TOKEN, [bay], chunk_size=CHUNK, transport=transport, backoff=backoff
    ) as agent:
        return agent.run_once(time)


def test_after_a_long_restart_the_dock_is_uploading_again_within_seconds(
    tmp_path: Path,
) -> None:
    server, camera, bay = docked(tmp_path)
    rid = camera.manifests[0].recording_id
    time = DockTime()
    restarts = Restarts(server, time, after_patch=3)
    restarts.down(30.0)

    result = run(bay, restarts.transport(), time)  # the agent's own backoff

    assert result.uploaded == [rid], result.summary()
    assert len(restarts.back_after) == 1
    assert restarts.back_after[0] <= FEW_SECONDS
    # However long the outage, no wait is long: that is what bounds the delay above.
    assert max(time.waits) <= FEW_SECONDS
    assert rid in server.receipts and not camera.holds(rid)


def test_a_server_that_answers_again_is_retried_at_the_shortest_delay_when_it_fails_again(
    tmp_path: Path,
) -> None:
    server, camera, bay = docked(tmp_path)
    rid = camera.manifests[0].recording_id
    time = DockTime()
    restarts = Restarts(server, time, after_patch=3)
    # Down, back for one answer (the dock's HEAD), down again: a server restarted twice.
    restarts.down(8.0, 8.0)
    backoff = Backoff()

    result = run(bay, restarts.transport(), time)

    assert result.uploaded == [rid], result.summary()
    assert len(restarts.back_after) == 2
    assert all(delay <= FEW_SECONDS for delay in restarts.back_after)
    # The first wait of the second outage starts over from the shortest delay.
    second_start = restarts.outages[1][0]
    elapsed, first_wait = 0.0, None
    for wait in time.waits:
        if elapsed >= second_start:
            first_wait = wait
            break
        elapsed += wait
    assert first_wait is not None and first_wait <= backoff.base


def test_connections_that_fail_are_not_reported_as_uploads_the_server_lost(
    tmp_path: Path,
) -> None:
    server, camera, bay = docked(tmp_path)
    rid = camera.manifests[0].recording_id
    # The dock's POST /uploads never reaches the server, three times.
    server.fault("POST", "/uploads", when="before", times=3)
    time = DockTime()

    result = run(bay, server.transport(), time)

    assert result.uploaded == [rid], result.summary()
    assert not camera.holds(rid)


def test_a_server_that_stays_down_is_called_unreachable(tmp_path: Path) -> None:
    server, camera, bay = docked(tmp_path)
    rid = camera.manifests[0].recording_id
    server.fault("POST", "/uploads", when="before", times=1000)
    time = DockTime()

    result = run(bay, server.transport(), time, backoff=Backoff(attempts=6))

    assert result.kept[rid].startswith(
        "camera BWV-0001: server unreachable or unavailable: 6 attempts in a row failed"
    )
    assert "lost" not in result.kept[rid]
    assert camera.holds(rid)


def test_a_server_that_loses_uploads_is_said_to_have_lost_them(tmp_path: Path) -> None:
    server, camera, bay = docked(tmp_path)
    rid = camera.manifests[0].recording_id
    # Every PATCH finds its upload gone, as if the server lost each upload it opened.
    server.fault("PATCH", "/uploads", when="respond", status=410, code="upload_gone", times=1000)
    time = DockTime()

    result = run(bay, server.transport(), time)

    assert "the server lost 3 uploads of this recording" in result.kept[rid]
    assert camera.holds(rid)
