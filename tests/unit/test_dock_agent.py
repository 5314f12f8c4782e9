"""The agent over time: bays watched, dockings noticed, backoff bounded, and the command."""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from custody.cli import dock as dock_cli
from custody.dock import Backoff, DockAgent
from custody.dock.backoff import Attempts
from custody.dock.errors import GaveUp, Stopped
from custody.dock.progress import LogReporter, RichReporter
from tests.unit.test_dock_fakes import SERVER, TOKEN, FakeCamera, FakeServer, make_camera

FAST = Backoff(base=0.001, cap=0.005, attempts=4)


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def dock_camera(bay: Path, serial: str, *sizes: int) -> FakeCamera:
    """Make a camera elsewhere, then put it in the bay in one move, as plugging it in does."""
    staging = bay.parent / f".staging-{serial}"
    camera = make_camera(staging, serial, *sizes)
    staging.rename(bay)
    camera.root = bay
    return camera


# --- backoff ---


def test_backoff_grows_and_never_exceeds_its_cap() -> None:
    backoff = Backoff(base=0.5, cap=30.0, jitter=0.5)
    rng = random.Random(7)
    delays = [backoff.delay(n, rng) for n in range(1, 2000)]

    assert all(0 < d <= 30.0 for d in delays)
    assert 0.25 <= delays[0] <= 0.5
    assert all(d >= 15.0 for d in delays[10:])


def test_backoff_without_jitter_doubles_to_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=8.0, jitter=0.0)

    assert [backoff.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


@pytest.mark.parametrize(
    "options", [{"base": -1.0}, {"base": 2.0, "cap": 1.0}, {"attempts": 0}, {"jitter": 1.5}]
)
def test_backoff_refuses_nonsense(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Backoff(**options)


def test_attempts_give_up_after_the_budget_and_progress_resets_it() -> None:
    attempts = Attempts(FAST, threading.Event())
    for _ in range(FAST.attempts - 1):
        attempts.failed(OSError("down"))
    attempts.succeeded()
    for _ in range(FAST.attempts - 1):
        attempts.failed(OSError("down"))

    with pytest.raises(GaveUp, match="4 attempts in a row failed"):
        attempts.failed(OSError("down"))


def test_a_stop_cuts_a_backoff_wait_short() -> None:
    stop = threading.Event()
    stop.set()
    attempts = Attempts(Backoff(base=60.0, cap=60.0), stop)
    started = time.monotonic()

    with pytest.raises(Stopped):
        attempts.failed(OSError("down"))

    assert time.monotonic() - started < 1.0


def test_an_unreachable_server_is_tried_a_bounded_number_of_times(tmp_path: Path) -> None:
    camera = make_camera(tmp_path / "bay-1", "BWV-0001", 2000)
    server = FakeServer()
    server.register(camera)
    server.fault("PUT", when="before", times=1000)

    with DockAgent(
        SERVER, TOKEN, [camera.root], transport=server.transport(), backoff=FAST
    ) as agent:
        result = agent.run_once()

    assert len(server.requests("PUT")) == FAST.attempts
    assert "server unreachable" in result.kept[camera.manifests[0].recording_id]
    assert "run_once" not in result.summary() and "kept on cameras" in result.summary()


def test_without_the_server_key_nothing_is_released(tmp_path: Path) -> None:
    camera = make_camera(tmp_path / "bay-1", "BWV-0001", 2000)
    server = FakeServer()
    server.fault("GET", "/server-key", when="before", times=1000)

    with DockAgent(
        SERVER, TOKEN, [camera.root], transport=server.transport(), backoff=FAST
    ) as agent:
        result = agent.run_once()

    assert "no server key" in result.kept[camera.manifests[0].recording_id]
    assert camera.holds(camera.manifests[0].recording_id)


def test_a_pinned_key_that_is_not_a_key_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not an Ed25519 public key"):
        DockAgent(SERVER, TOKEN, [tmp_path], server_key="bm90IGEga2V5")


# --- watching bays ---


class Noted(LogReporter):
    """The agent's notes, kept: a test waits on what the agent saw, not on a sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.notes: list[str] = []

    def note(self, message: str, *, warning: bool = False) -> None:
        self.notes.append(message)
        super().note(message, warning=warning)


@pytest.fixture
def watching(tmp_path: Path) -> Iterator[tuple[FakeServer, list[Path], list[str]]]:
    server = FakeServer()
    bays = [tmp_path / "bay-1", tmp_path / "bay-2"]
    bays[1].mkdir()
    stop = threading.Event()
    noted = Noted()
    agent = DockAgent(
        SERVER,
        TOKEN,
        bays,
        chunk_size=700,
        transport=server.transport(),
        backoff=FAST,
        reporter=noted,
    )
    runner = threading.Thread(target=agent.run_forever, args=(0.02, stop))
    runner.start()
    yield server, bays, noted.notes
    stop.set()
    runner.join(timeout=10)
    agent.close()
    assert not runner.is_alive()


def test_a_camera_docked_while_the_agent_runs_is_uploaded_and_reported(
    watching: tuple[FakeServer, list[Path], list[str]],
) -> None:
    server, bays, _ = watching
    time.sleep(0.05)  # a few looks at the empty bays first
    camera = dock_camera(bays[0], "BWV-0001", 2500, 1200)
    server.register(camera)

    eventually(lambda: len(server.receipts) == 2)
    eventually(lambda: not any(camera.holds(m.recording_id) for m in camera.manifests))
    eventually(lambda: len(server.reports) >= 2)
    assert server.reports[0]["bay"] == "bay-1"
    assert server.reports[-1]["recordings_waiting"] == 0


def test_a_refused_recording_waits_for_the_camera_to_be_docked_again(
    watching: tuple[FakeServer, list[Path], list[str]],
) -> None:
    server, bays, notes = watching
    bays[1].rmdir()
    # Not registered yet: every manifest is refused as from an unknown camera.
    camera = dock_camera(bays[1], "BWV-0002", 900)
    rid = camera.manifests[0].recording_id

    eventually(lambda: len(server.requests("PUT")) == 1)
    time.sleep(0.2)
    assert len(server.requests("PUT")) == 1 and camera.holds(rid)

    # The fleet manager registers it; the officer re-docks it, once the agent saw it go (a
    # sleep here was outrun by a loaded machine: the agent never saw the bay empty).
    server.register(camera)
    undocked = bays[1].parent / "in-hand"
    bays[1].rename(undocked)
    eventually(lambda: "camera BWV-0002 left bay bay-2" in notes)
    undocked.rename(bays[1])

    eventually(lambda: rid in server.receipts)
    eventually(lambda: not camera.holds(rid))


def test_a_camera_pulled_out_mid_upload_is_released_only_once_back_in_its_bay(
    tmp_path: Path,
) -> None:
    bay = tmp_path / "bay-1"
    camera = make_camera(bay, "BWV-0001", 5000)
    rid = camera.manifests[0].recording_id
    server = FakeServer()
    server.register(camera)
    original = camera.footage(rid)
    away = tmp_path / "pocket"
    server.fault("PATCH", when="call", nth=2, action=lambda _: bay.rename(away))
    stop = threading.Event()

    with DockAgent(
        SERVER, TOKEN, [bay], chunk_size=1000, transport=server.transport(), backoff=FAST
    ) as agent:
        runner = threading.Thread(target=agent.run_forever, args=(0.02, stop))
        runner.start()
        eventually(lambda: len(server.patch_offsets()) >= 2)
        time.sleep(0.1)
        assert (away / "recordings" / f"{rid}.mp4").exists()
        away.rename(bay)
        eventually(lambda: rid in server.receipts)
        eventually(lambda: not camera.holds(rid))
        stop.set()
        runner.join(timeout=10)

    assert server.stored[rid] == original
    assert not camera.holds(rid)
    assert 0 not in server.patch_offsets()[2:]


# --- the command ---


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> tuple[typer.Typer, FakeServer]:
    server = FakeServer()
    real = DockAgent

    def with_fake_transport(*args: Any, **kwargs: Any) -> DockAgent:
        return real(*args, transport=server.transport(), **kwargs)

    monkeypatch.setattr(dock_cli, "DockAgent", with_fake_transport)
    app = typer.Typer()
    app.command()(dock_cli.dock_command)
    return app, server


def test_the_command_ships_once_and_says_so(
    cli: tuple[typer.Typer, FakeServer], tmp_path: Path
) -> None:
    app, server = cli
    camera = make_camera(tmp_path / "bay-1", "BWV-0001", 3000)
    server.register(camera)

    result = CliRunner().invoke(
        app,
        ["--server", SERVER, "--bay", str(camera.root), "--once", "--chunk-size", "65536"],
        env={"CUSTODY_DOCK_TOKEN": TOKEN},
    )

    assert result.exit_code == 0, result.output
    assert "1 uploaded" in result.output
    assert TOKEN not in result.output
    assert not camera.holds(camera.manifests[0].recording_id)


def test_the_command_fails_when_footage_stays_on_a_camera(
    cli: tuple[typer.Typer, FakeServer], tmp_path: Path
) -> None:
    app, _ = cli
    camera = make_camera(tmp_path / "bay-1", "BWV-0001", 3000)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")

    result = CliRunner().invoke(
        app,
        [
            "--server",
            SERVER,
            "--bay",
            str(camera.root),
            "--once",
            "--retry-base",
            "0.001",
            "--retry-cap",
            "0.002",
            "--token-file",
            str(token_file),
        ],
    )

    assert result.exit_code == 1
    assert "1 kept on cameras" in result.output and "unknown_camera" in result.output
    assert TOKEN not in result.output


def test_the_command_needs_a_token(cli: tuple[typer.Typer, FakeServer], tmp_path: Path) -> None:
    app, _ = cli

    result = CliRunner().invoke(
        app, ["--server", SERVER, "--bay", str(tmp_path), "--once"], env={"CUSTODY_DOCK_TOKEN": ""}
    )

    assert result.exit_code == 2
    assert "CUSTODY_DOCK_TOKEN" in result.output


def test_the_command_refuses_a_pinned_key_that_is_not_one(
    cli: tuple[typer.Typer, FakeServer], tmp_path: Path
) -> None:
    app, _ = cli

    result = CliRunner().invoke(
        app,
        ["--server", SERVER, "--bay", str(tmp_path), "--once", "--server-key", "nonsense"],
        env={"CUSTODY_DOCK_TOKEN": TOKEN},
    )

    assert result.exit_code == 2
    assert "Ed25519" in result.output


# --- what the person at the dock sees ---


def test_log_lines_follow_a_long_upload_by_quarters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="custody.dock")
    camera = make_camera(tmp_path / "bay-1", "BWV-0001", 8000)
    server = FakeServer()
    server.register(camera)

    with DockAgent(
        SERVER, TOKEN, [camera.root], chunk_size=1000, transport=server.transport()
    ) as agent:
        agent.run_once()

    lines = [r.getMessage() for r in caplog.records]
    assert [line.split()[1] for line in lines if "on the server" in line] == [
        "25%",
        "50%",
        "75%",
    ]
    assert any("receipt verified, camera space freed" in line for line in lines)


def test_a_terminal_gets_progress_bars(tmp_path: Path) -> None:
    camera = make_camera(tmp_path / "bay-1", "BWV-0001", 3000)
    server = FakeServer()
    server.register(camera)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)

    with DockAgent(
        SERVER,
        TOKEN,
        [camera.root],
        chunk_size=1000,
        transport=server.transport(),
        progress=True,
        console=console,
    ) as agent:
        assert agent.run_once().ok

    assert "all footage" in screen.getvalue()


def test_no_bars_when_the_output_is_not_a_terminal(tmp_path: Path) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False)

    with DockAgent(SERVER, TOKEN, [tmp_path], progress=True, console=console) as agent:
        assert not isinstance(agent.reporter, RichReporter)
