"""What the agent tells the person at the dock: Rich bars on a terminal, log lines elsewhere."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

log = logging.getLogger("custody.dock")


class Fate(StrEnum):
    UPLOADED = "uploaded"
    ALREADY_STORED = "already stored"
    KEPT = "kept"


@dataclass(frozen=True)
class Outcome:
    """How one recording left this pass: released from the camera, or kept and why."""

    recording_id: str
    camera: str
    fate: Fate
    reason: str | None = None
    # False for a refusal (bad signature, conflict…): trying again before the camera is
    # docked again would only be refused again.
    retry: bool = True


class Reporter(Protocol):
    """Where the agent's news goes; called from upload threads, so implementations lock."""

    def started(self, recording_id: str, camera: str, size: int, offset: int) -> None: ...

    def advanced(self, recording_id: str, offset: int) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...

    def note(self, message: str, *, warning: bool = False) -> None: ...


class LogReporter:
    """One log line per event, and one per quarter of a long upload: for services and pipes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._quarters: dict[str, tuple[int, int]] = {}

    def started(self, recording_id: str, camera: str, size: int, offset: int) -> None:
        resume = f", resuming at {offset} bytes" if offset else ""
        log.info("uploading %s from camera %s (%d bytes%s)", recording_id, camera, size, resume)
        with self._lock:
            self._quarters[recording_id] = (size, 4 * offset // size)

    def advanced(self, recording_id: str, offset: int) -> None:
        with self._lock:
            size, quarter = self._quarters.get(recording_id, (0, 4))
            now = 4 * offset // size if size else quarter
            self._quarters[recording_id] = (size, now)
        if quarter < now < 4:
            log.info("%s: %d%% on the server", recording_id, 25 * now)

    def finished(self, outcome: Outcome) -> None:
        with self._lock:
            self._quarters.pop(outcome.recording_id, None)
        if outcome.fate is Fate.KEPT:
            log.warning(
                "kept %s on camera %s: %s", outcome.recording_id, outcome.camera, outcome.reason
            )
        else:
            log.info(
                "%s %s: receipt verified, camera space freed",
                outcome.fate.value,
                outcome.recording_id,
            )

    def note(self, message: str, *, warning: bool = False) -> None:
        log.log(logging.WARNING if warning else logging.INFO, message)


class RichReporter(LogReporter):
    """A bar per recording in flight and one for everything, above the log lines."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._overall = self._progress.add_task("all footage", total=0)
        self._sizes: dict[str, int] = {}
        self._offsets: dict[str, int] = {}

    def __enter__(self) -> RichReporter:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def started(self, recording_id: str, camera: str, size: int, offset: int) -> None:
        super().started(recording_id, camera, size, offset)
        with self._lock:
            self._sizes[recording_id] = size
            self._offsets[recording_id] = offset
            self._tasks[recording_id] = self._progress.add_task(
                f"{camera} {recording_id[:8]}", total=size, completed=offset
            )
            self._update_overall()

    def advanced(self, recording_id: str, offset: int) -> None:
        with self._lock:
            task = self._tasks.get(recording_id)
            if task is None:
                return
            self._offsets[recording_id] = offset
            self._progress.update(task, completed=offset)
            self._update_overall()

    def finished(self, outcome: Outcome) -> None:
        super().finished(outcome)
        with self._lock:
            task = self._tasks.pop(outcome.recording_id, None)
            if task is not None:
                self._progress.remove_task(task)
            if outcome.fate is Fate.KEPT:
                # What stayed on the camera no longer counts toward "all footage".
                self._sizes.pop(outcome.recording_id, None)
                self._offsets.pop(outcome.recording_id, None)
            elif outcome.recording_id in self._sizes:
                self._offsets[outcome.recording_id] = self._sizes[outcome.recording_id]
            self._update_overall()

    def _update_overall(self) -> None:
        self._progress.update(
            self._overall,
            total=sum(self._sizes.values()),
            completed=sum(self._offsets.values()),
        )
