"""The job queues services see (the JobQueue protocol) and the Huey instance behind them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from huey import SqliteHuey

from custody.config import Settings
from custody.jobs.consumer import SHUTDOWN_TIMEOUT_SECONDS, ThreadConsumer
from custody.jobs.leases import LeasedRedisHuey
from custody.jobs.tasks import Tasks, register_tasks
from custody.private import private_sqlite
from custody.services.audit_trail import search as audit_search
from custody.services.disclosure import bundle_exports
from custody.services.recordings import media
from custody.services.redaction import redactions
from custody.services.redaction import scans as redaction_scans
from custody.services.speech import transcripts
from custody.services.system import System

logger = logging.getLogger(__name__)

SQLITE_PREFIX = "sqlite:///"
# Several processes (serve nodes, workers) share one SQLite queue file: wait for its lock.
SQLITE_BUSY_SECONDS = 30


def make_huey(settings: Settings, *, name: str | None = None) -> Any:
    """A Huey instance (no tasks yet) on the storage CUSTODY_QUEUE_URL names.

    `sqlite:///relative` or `sqlite:////absolute/path` (the SQLAlchemy form) and
    `redis://`, `rediss://` or `unix://` URLs. Results are not kept: no task's
    caller waits for one, and kept results would pile up. On Redis a job taken by a
    worker is leased until it is over (`jobs/leases.py`): a worker that dies mid-job has
    its job run by another once the lease (CUSTODY_JOB_LEASE_SECONDS) runs out.
    """
    name = name or settings.queue_name
    url = settings.resolved_queue_url
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        if not url.startswith(SQLITE_PREFIX) or url == SQLITE_PREFIX:
            raise ValueError(f"a SQLite queue URL looks like sqlite:///path, not {url!r}")
        path = Path(url.removeprefix(SQLITE_PREFIX))
        # Made 0600 before Huey opens it: its -wal and -shm files take its mode.
        private_sqlite(path)
        return SqliteHuey(name=name, filename=str(path), results=False, timeout=SQLITE_BUSY_SECONDS)
    if scheme in ("redis", "rediss", "unix"):
        return LeasedRedisHuey(
            name=name, url=url, results=False, lease_seconds=settings.job_lease_seconds
        )
    raise ValueError(f"unsupported queue URL scheme {scheme!r} (sqlite:/// or redis://)")


class HueyJobs:
    """The JobQueue of a running system: each request is a Huey task in the shared queue."""

    def __init__(self, huey: Any, tasks: Tasks) -> None:
        self.huey = huey
        self.tasks = tasks

    @classmethod
    def for_system(cls, system: System, *, name: str | None = None) -> HueyJobs:
        """The queue the system's settings name, with tasks that run against `system`."""
        huey = make_huey(system.settings, name=name)
        return cls(huey, register_tasks(huey, system))

    def probe_recording(self, recording_id: str) -> None:
        """Enqueue the media probe of a recording that has just been committed."""
        try:
            self.tasks.probe_recording(recording_id)
        except Exception:
            # Called after the recording's commit: failing here would fail an upload that
            # succeeded. The reconciler re-sends probes that never reached the queue.
            logger.exception(
                "could not queue the probe of recording %s; the reconciler will", recording_id
            )

    def verify_audit(self, verification_id: int) -> None:
        """Enqueue a check of the whole log asked for in the portal."""
        try:
            self.tasks.verify_audit(verification_id)
        except Exception:
            # After the request's commit: the verification shows as waiting for a worker.
            logger.exception("could not queue verification %s", verification_id)

    def build_bundle(self, export_id: str) -> None:
        """Enqueue the build of a court bundle that has just been asked for (committed)."""
        try:
            self.tasks.build_bundle(export_id)
        except Exception:
            # After the request's commit: its row stays `building`, then shows as stopped.
            logger.exception("could not queue the build of bundle %s", export_id)

    def detect_faces(self, scan_id: str) -> None:
        """Enqueue a face scan that has just been asked for (committed)."""
        try:
            self.tasks.detect_faces(scan_id)
        except Exception:
            # After the request's commit: the scan stays `scanning` until asked again.
            logger.exception("could not queue face scan %s", scan_id)

    def render_redaction(self, redaction_id: str) -> None:
        """Enqueue the render of a redacted copy that has just been asked for (committed)."""
        try:
            self.tasks.render_redaction(redaction_id)
        except Exception:
            logger.exception("could not queue the render of redaction %s", redaction_id)

    def transcribe(self, transcript_id: str) -> None:
        """Enqueue the transcription of a recording that has just been asked for (committed)."""
        try:
            self.tasks.transcribe(transcript_id)
        except Exception:
            # After the request's commit: the row stays `transcribing` until asked again.
            logger.exception("could not queue transcript %s", transcript_id)


class ImmediateJobs:
    """A JobQueue that runs each job at once in the caller's thread: for tests and tools.

    Build the system first, then attach: `system.jobs = ImmediateJobs(system)`.
    With `raise_errors` False (the default) a failing job is logged, as a queued
    job's failure would be, so that it cannot fail the commit that asked for it.
    """

    def __init__(self, system: System, *, raise_errors: bool = False) -> None:
        self.system = system
        self.raise_errors = raise_errors

    def probe_recording(self, recording_id: str) -> None:
        try:
            media.probe_recording(self.system, recording_id)
        except Exception:
            if self.raise_errors:
                raise
            logger.exception("probing recording %s failed", recording_id)

    def verify_audit(self, verification_id: int) -> None:
        audit_search.run_verification(self.system, verification_id)

    def build_bundle(self, export_id: str) -> None:
        # The build keeps its own failures on the bundle's row.
        bundle_exports.build_bundle(self.system, export_id)

    def detect_faces(self, scan_id: str) -> None:
        redaction_scans.run_scan(self.system, scan_id)

    def render_redaction(self, redaction_id: str) -> None:
        redactions.run_render(self.system, redaction_id)

    def transcribe(self, transcript_id: str) -> None:
        transcripts.run_transcription(self.system, transcript_id)


def start_in_process_consumer(
    system: System,
    workers: int = 2,
    *,
    periodic: bool = True,
    shutdown_timeout: float | None = SHUTDOWN_TIMEOUT_SECONDS,
) -> ThreadConsumer:
    """Run Huey workers on threads of this process (for `custody serve`); `.stop()` ends them.

    The consumer serves the system's own HueyJobs queue; a system wired with another
    JobQueue gets a consumer on the configured queue, with tasks bound to it.
    """
    jobs = system.jobs if isinstance(system.jobs, HueyJobs) else HueyJobs.for_system(system)
    consumer = ThreadConsumer(
        jobs.huey, workers=workers, periodic=periodic, shutdown_timeout=shutdown_timeout
    )
    return consumer.start()
