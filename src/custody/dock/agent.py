"""The dock agent: watches its bays, ships each docked camera's footage, reports cameras.

A bay is a directory; a camera is docked in it when the bay holds a `device.json`.
Uploads run a bounded number at a time. `run_once` empties what is docked now;
`run_forever` keeps watching until told to stop, and leaves unfinished uploads
for the server to resume (it keeps the offset).

An officer takes a pool camera by presenting their card (`checkout`): the server
assigns the camera to them and the dock programs the camera's `device.json`, whose
`undocked_at` becomes the assignment's start. A camera whose `undocked_at` is later
than the moment the dock saw it arrive has been taken while in its bay: the dock says
nothing more about it until it has left and come back, because the server reads the
next report of a camera as its docking, which ends the officer's assignment. The
marker is on the camera, so a checkout by another process (`custody dock-checkout`
beside a running `custody dock`) is honoured too.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console

from custody.camera import CameraStorage, NotACamera
from custody.dock.backoff import Attempts, Backoff
from custody.dock.client import CameraReport, CardCheckout, DockClient
from custody.dock.errors import GaveUp, Stopped, Transient
from custody.dock.pool import Docked, UploadPool
from custody.dock.progress import Fate, LogReporter, Outcome, Reporter, RichReporter
from custody.domain.errors import CustodyError, NotFound, UnknownCamera
from custody.domain.signing import load_public_key

DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
# What `custody dock` lets a chunk grow to on a fast link: two such (one on the wire, one
# read ahead) per upload in flight are the agent's memory for footage.
DEFAULT_MAX_CHUNK_SIZE = 64 * 1024 * 1024
# How often a watching dock tells the server it is alive and what sits in its bays.
DEFAULT_HEARTBEAT = 300.0


@dataclass
class DockResult:
    """What a pass did: recordings freed from cameras, and those kept with the reason."""

    uploaded: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing that was docked stayed on a camera."""
        return not self.kept

    def add(self, outcome: Outcome) -> None:
        if outcome.fate is Fate.UPLOADED:
            self.uploaded.append(outcome.recording_id)
        elif outcome.fate is Fate.ALREADY_STORED:
            self.already_stored.append(outcome.recording_id)
        else:
            self.kept[outcome.recording_id] = f"camera {outcome.camera}: {outcome.reason}"

    def summary(self) -> str:
        """A few lines for the person at the dock."""
        lines = [
            f"{len(self.uploaded)} uploaded, {len(self.already_stored)} already stored, "
            f"{len(self.kept)} kept on cameras"
        ]
        lines += [f"  kept {rid}: {why}" for rid, why in sorted(self.kept.items())]
        lines += [f"  problem: {text}" for text in self.problems]
        return "\n".join(lines)


class DockAgent:
    """Ships the footage of the cameras docked in `bays` to the server at `server`."""

    def __init__(
        self,
        server: str,
        token: str,
        bays: list[Path],
        *,
        parallel: int = 2,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_chunk_size: int | None = None,
        server_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        backoff: Backoff | None = None,
        progress: bool = False,
        console: Console | None = None,
        reporter: Reporter | None = None,
        heartbeat: float = DEFAULT_HEARTBEAT,
    ) -> None:
        if not bays:
            raise ValueError("a dock needs at least one bay")
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1 byte")
        if max_chunk_size is not None and max_chunk_size < chunk_size:
            raise ValueError("max_chunk_size must be at least chunk_size")
        self.bays = list(bays)
        self.parallel = parallel
        self.chunk_size = chunk_size
        # None: every chunk chunk_size bytes; else chunks grow to it on a fast link.
        self.max_chunk_size = max_chunk_size
        self.backoff = backoff or Backoff()
        self.heartbeat_every = heartbeat
        # When this agent first saw each bay's camera (serial, wall-clock time).
        self._arrivals: dict[Path, tuple[str, datetime]] = {}
        self._arrivals_lock = threading.Lock()
        # A pinned key is checked now: a typo must stop the agent before it touches a camera.
        self._server_key = load_public_key(server_key) if server_key else None
        self.client = DockClient(server, token, transport=transport, connections=parallel + 2)
        self._console = console or Console()
        self._rich = progress and self._console.is_terminal and reporter is None
        self.reporter: Reporter = reporter or (
            RichReporter(self._console) if self._rich else LogReporter()
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> DockAgent:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- the two ways to run ---

    def run_once(self, stop: threading.Event | None = None) -> DockResult:
        """Ship everything docked now and return what happened to each recording."""
        stop = stop or threading.Event()
        result = DockResult()
        docked = [d for bay in self.bays if (d := self._open(bay, result.problems)) is not None]
        if not docked:
            self.reporter.note("no camera is docked")
            return result
        try:
            key = self._key(stop)
        except (GaveUp, Stopped, CustodyError) as exc:
            for camera in docked:
                for recording in camera.storage.outstanding():
                    result.kept[recording.manifest.recording_id] = (
                        f"camera {camera.serial}: no server key ({exc})"
                    )
            return result
        with self._display(), self._pool(key, stop) as pool:
            for camera in docked:
                # Read as docked, sent once the uploads are under way: they need not wait.
                report = self._report_for(camera)
                for recording in camera.storage.outstanding():
                    pool.submit(camera, recording)
                self._send_report(camera, report)
            while pool.busy:
                for outcome in pool.collect(timeout=None):
                    result.add(outcome)
        return result

    def run_forever(self, poll: float, stop: threading.Event) -> None:
        """Watch the bays every `poll` seconds and ship what appears, until `stop` is set."""
        docked: dict[Path, str] = {}
        # Recordings the server refused stay untried until their camera is docked again.
        refused: dict[Path, set[str]] = {}
        # Recordings kept for a passing reason wait a while before another try.
        not_before: dict[str, float] = {}
        noted: dict[Path, set[str]] = {}
        key: Ed25519PublicKey | None = None
        next_beat = 0.0
        with self._display(), contextlib.ExitStack() as stack:
            pool: UploadPool | None = None
            while not stop.is_set():
                if key is None:
                    try:
                        key = self._key(stop)
                    except (GaveUp, CustodyError) as exc:
                        self.reporter.note(f"no server key yet: {exc}", warning=True)
                        stop.wait(poll)
                        continue
                    except Stopped:
                        break
                    pool = stack.enter_context(self._pool(key, stop))
                assert pool is not None
                self._watch(pool, docked, refused, not_before, noted)
                if time.monotonic() >= next_beat:
                    self._heartbeat(list(docked.values()))
                    next_beat = time.monotonic() + self.heartbeat_every
                for outcome in pool.collect(timeout=0):
                    if outcome.fate is Fate.KEPT and not outcome.retry:
                        for bay, serial in docked.items():
                            if serial == outcome.camera:
                                refused.setdefault(bay, set()).add(outcome.recording_id)
                    elif outcome.fate is Fate.KEPT:
                        not_before[outcome.recording_id] = time.monotonic() + self.backoff.cap
                stop.wait(poll)
            self.reporter.note("stopping: unfinished uploads resume from the server's offset")

    # --- bays and cameras ---

    def _watch(
        self,
        pool: UploadPool,
        docked: dict[Path, str],
        refused: dict[Path, set[str]],
        not_before: dict[str, float],
        noted: dict[Path, set[str]],
    ) -> None:
        """One look at every bay: note dockings and undockings, queue what is new."""
        now = time.monotonic()
        for bay in self.bays:
            problems: list[str] = []
            camera = self._open(bay, problems, quiet=True)
            # Each problem once per docking, not once per poll.
            for text in problems:
                if text not in noted.setdefault(bay, set()):
                    noted[bay].add(text)
                    self.reporter.note(text, warning=True)
            if camera is None:
                self._forget_arrival(bay)
                if bay in docked:
                    self.reporter.note(f"camera {docked.pop(bay)} left bay {bay.name}")
                    refused.pop(bay, None)
                if not problems:
                    noted.pop(bay, None)
                continue
            arrived = docked.get(bay) != camera.serial
            report = None
            if arrived:
                docked[bay] = camera.serial
                refused[bay] = set()
                self.reporter.note(f"camera {camera.serial} docked in bay {bay.name}")
                report = self._report_for(camera)
            for recording in camera.storage.outstanding():
                rid = recording.manifest.recording_id
                if rid in refused[bay] or pool.has(rid) or not_before.get(rid, 0) > now:
                    continue
                not_before.pop(rid, None)
                pool.submit(camera, recording)
            if arrived:
                self._send_report(camera, report)

    def _open(self, bay: Path, problems: list[str], *, quiet: bool = False) -> Docked | None:
        """The camera docked in `bay`, or None for an empty bay."""
        if not (bay / "device.json").exists():
            return None
        try:
            storage = CameraStorage(bay)
            serial = storage.device.serial
        except (NotACamera, OSError) as exc:
            text = f"bay {bay.name}: {exc}"
            problems.append(text)
            if not quiet:
                self.reporter.note(text, warning=True)
            return None
        for text in storage.problems():
            problems.append(f"camera {serial}: {text}")
            if not quiet:
                self.reporter.note(f"camera {serial}: {text}", warning=True)
        self._arrived_at(bay, serial)
        return Docked(bay, storage, serial)

    def report_camera(self, camera: Docked) -> None:
        """Tell the server how a docked camera stands now; a failed report stops nothing."""
        self._send_report(camera, self._report_for(camera))

    def _report_for(self, camera: Docked) -> CameraReport | None:
        """The camera's state as read now, or None if it cannot be read or was swapped."""
        try:
            device = camera.storage.device
            if device.serial != camera.serial:
                return None  # another camera sits in the bay now; it gets its own report
            return CameraReport(
                serial=camera.serial,
                bay=camera.bay.name or str(camera.bay),
                battery_percent=device.battery_percent,
                free_bytes=camera.storage.free_bytes(),
                firmware=device.firmware,
                recordings_waiting=len(camera.storage.recordings()),
            )
        except (CustodyError, OSError) as exc:
            self.reporter.note(f"cannot read camera {camera.serial}: {exc}", warning=True)
            return None

    def _send_report(self, camera: Docked, report: CameraReport | None) -> None:
        if report is None:
            return
        if self._taken(camera):
            # Taken by card but still in the bay: a report now would end the assignment.
            return
        try:
            self.client.report(report)
        except UnknownCamera:
            self.reporter.note(
                f"camera {camera.serial} is not registered with the server: "
                "its footage stays on it until a fleet manager registers it",
                warning=True,
            )
        except (Transient, CustodyError) as exc:
            self.reporter.note(f"could not report camera {camera.serial}: {exc}", warning=True)

    # --- pool cameras taken by card ---

    def checkout(self, card_id: str, bay: Path) -> CardCheckout:
        """An officer presents their card to take the pool camera in `bay`.

        The camera is reported first (so the server knows it is docked here), then the
        server assigns it to the card's officer, then the camera is programmed with that
        officer for its next recordings. Refusals (unknown card, not a pool camera) raise
        the server's typed error; nothing is written to the camera then.
        """
        problems: list[str] = []
        camera = self._open(bay, problems, quiet=True)
        if camera is None:
            raise NotFound("; ".join(problems) or f"no camera is docked in bay {bay.name}")
        report = self._report_for(camera)
        if report is not None:
            self.client.report(report)
        answer = self.client.checkout(card_id, camera.serial)
        camera.storage.assign(answer.officer, answer.started_at)
        self.reporter.note(
            f"camera {camera.serial} in bay {bay.name} taken by officer {answer.officer}"
        )
        return answer

    def _arrived_at(self, bay: Path, serial: str) -> datetime:
        """When this agent first saw `serial` in `bay` (now, if this is the first look)."""
        with self._arrivals_lock:
            known = self._arrivals.get(bay)
            if known is None or known[0] != serial:
                known = (serial, datetime.now(UTC))
                self._arrivals[bay] = known
            return known[1]

    def _forget_arrival(self, bay: Path) -> None:
        with self._arrivals_lock:
            self._arrivals.pop(bay, None)

    def _taken(self, camera: Docked) -> bool:
        """Whether an officer took the camera by card since it arrived in its bay."""
        arrived = self._arrived_at(camera.bay, camera.serial)
        try:
            undocked = camera.storage.device.undocked_at
        except (CustodyError, OSError):
            return False
        return undocked is not None and undocked > arrived

    def _heartbeat(self, docked: list[str]) -> None:
        """Tell the server this dock is alive and which cameras sit in it; failures pass."""
        try:
            self.client.heartbeat(sorted(docked))
        except (Transient, CustodyError) as exc:
            self.reporter.note(f"could not send the heartbeat: {exc}", warning=True)

    def _key(self, stop: threading.Event) -> Ed25519PublicKey:
        """The server's receipt key: pinned, or asked for once and then kept."""
        if self._server_key is None:
            attempts = Attempts(
                self.backoff, stop, notify=lambda text: self.reporter.note(text, warning=True)
            )
            while self._server_key is None:
                try:
                    self._server_key = self.client.server_key()
                except Transient as exc:
                    attempts.failed(exc)
        return self._server_key

    def _pool(self, key: Ed25519PublicKey, stop: threading.Event) -> UploadPool:
        return UploadPool(
            client=self.client,
            server_key=key,
            parallel=self.parallel,
            chunk_size=self.chunk_size,
            max_chunk_size=self.max_chunk_size,
            backoff=self.backoff,
            stop=stop,
            reporter=self.reporter,
            # After its uploads: the server learns the camera's space and what is left.
            camera_done=self.report_camera,
        )

    @contextlib.contextmanager
    def _display(self) -> Iterator[None]:
        if isinstance(self.reporter, RichReporter):
            with self.reporter:
                yield
        else:
            yield
