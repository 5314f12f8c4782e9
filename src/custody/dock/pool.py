"""Recordings in flight: a bounded number of uploads at a time, each on its own thread.

Threads rather than asyncio: each upload is a plain loop of blocking requests, which
keeps the protocol code readable, and file reads and hashing release the GIL anyway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.camera import CameraRecording, CameraStorage
from custody.dock.backoff import Backoff
from custody.dock.client import DockClient
from custody.dock.progress import Fate, Outcome, Reporter
from custody.dock.uploader import Shipment, ship

log = logging.getLogger("custody.dock")


@dataclass(frozen=True)
class Docked:
    """A camera found in a bay."""

    bay: Path
    storage: CameraStorage
    serial: str


class UploadPool:
    """Recordings in flight, at most `parallel` at a time, and each camera's share of them."""

    def __init__(
        self,
        *,
        client: DockClient,
        server_key: Ed25519PublicKey,
        parallel: int,
        chunk_size: int,
        max_chunk_size: int | None = None,
        backoff: Backoff,
        stop: threading.Event,
        reporter: Reporter,
        camera_done: Callable[[Docked], None],
    ) -> None:
        self.client = client
        self.server_key = server_key
        self.chunk_size = chunk_size
        self.max_chunk_size = max_chunk_size
        self.backoff = backoff
        self.stop = stop
        self.reporter = reporter
        self.camera_done = camera_done
        self._uploads = ThreadPoolExecutor(parallel, thread_name_prefix="custody-dock-up")
        # One read-ahead per upload in flight.
        self._reads = ThreadPoolExecutor(parallel, thread_name_prefix="custody-dock-read")
        self._flying: dict[Future[Outcome], tuple[Docked, str]] = {}
        self._per_camera: dict[tuple[Path, str], int] = {}

    @property
    def busy(self) -> bool:
        return bool(self._flying)

    def has(self, recording_id: str) -> bool:
        return any(rid == recording_id for _, rid in self._flying.values())

    def submit(self, camera: Docked, recording: CameraRecording) -> None:
        job = Shipment(
            storage=camera.storage,
            camera=camera.serial,
            recording=recording,
            client=self.client,
            server_key=self.server_key,
            chunk_size=self.chunk_size,
            max_chunk_size=self.max_chunk_size,
            backoff=self.backoff,
            stop=self.stop,
            reporter=self.reporter,
            read_ahead=self._reads,
        )
        future = self._uploads.submit(_ship_safely, job)
        self._flying[future] = (camera, recording.manifest.recording_id)
        where = (camera.bay, camera.serial)
        self._per_camera[where] = self._per_camera.get(where, 0) + 1

    def collect(self, timeout: float | None) -> list[Outcome]:
        """Outcomes of finished uploads (waits up to `timeout` for one); reports emptied cameras."""
        if not self._flying:
            return []
        done, _ = wait(list(self._flying), timeout=timeout, return_when=FIRST_COMPLETED)
        outcomes = []
        for future in done:
            camera, _rid = self._flying.pop(future)
            outcome = future.result()
            self.reporter.finished(outcome)
            outcomes.append(outcome)
            where = (camera.bay, camera.serial)
            self._per_camera[where] -= 1
            if self._per_camera[where] == 0:
                del self._per_camera[where]
                self.camera_done(camera)
        return outcomes

    def __enter__(self) -> UploadPool:
        return self

    def __exit__(self, *_: object) -> None:
        # Uploads see the stop event between chunks; the ones not started never start.
        self._uploads.shutdown(wait=True, cancel_futures=True)
        for future in [f for f in self._flying if f.done() and not f.cancelled()]:
            self.reporter.finished(future.result())
        self._flying.clear()
        self._reads.shutdown(wait=True, cancel_futures=True)


def _ship_safely(job: Shipment) -> Outcome:
    """`ship`, with any bug turned into footage kept rather than a dead worker."""
    try:
        return ship(job)
    except Exception as exc:
        log.exception("internal error shipping %s", job.recording.manifest.recording_id)
        return Outcome(
            job.recording.manifest.recording_id,
            job.camera,
            Fate.KEPT,
            f"internal error: {type(exc).__name__}: {exc}",
        )
