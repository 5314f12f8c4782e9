"""Running Huey's consumer on threads inside a process that owns its own signals.

Huey's `Consumer.run()` installs signal handlers and blocks the main thread: right
for `huey_consumer`, wrong inside `custody serve` (uvicorn owns the signals, and a
signal handler can only be set from the main thread). Here the consumer's workers
and scheduler are started without touching signal handlers, a small supervisor
thread replaces workers that die, and `stop()` shuts down gracefully.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from huey.consumer import Consumer

logger = logging.getLogger(__name__)

HEALTH_CHECK_SECONDS = 10.0
# An idle worker polls the queue at most this far apart (SQLite storage polls).
MAX_POLL_SECONDS = 2.0
SHUTDOWN_TIMEOUT_SECONDS = 30.0


class Stoppable(Protocol):
    """Something running in the background that shuts down when asked."""

    def stop(self) -> None: ...


class _QuietConsumer(Consumer):  # type: ignore[misc]
    """Huey's consumer, minus its signal handlers: the host process owns the signals."""

    def _set_signal_handlers(self) -> None:
        return None


class ThreadConsumer:
    """Huey workers and scheduler on daemon threads of this process, stopped with `stop()`."""

    def __init__(
        self,
        huey: Any,
        *,
        workers: int = 2,
        periodic: bool = True,
        shutdown_timeout: float | None = SHUTDOWN_TIMEOUT_SECONDS,
        health_check_seconds: float = HEALTH_CHECK_SECONDS,
    ) -> None:
        if workers < 1:
            raise ValueError("a consumer needs at least one worker")
        self.huey = huey
        self.workers = workers
        self._consumer = _QuietConsumer(
            huey,
            workers=workers,
            periodic=periodic,
            worker_type="thread",
            max_delay=MAX_POLL_SECONDS,
            shutdown_timeout=shutdown_timeout,
            check_worker_health=True,
            health_check_interval=health_check_seconds,
        )
        self._health_check_seconds = health_check_seconds
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._supervisor = threading.Thread(
            target=self._supervise, name="custody-jobs-supervisor", daemon=True
        )
        # A queue with leases (Redis): they are renewed, and dead workers' jobs put back,
        # every third of a lease.
        self._leases = getattr(huey.storage, "lease_seconds", None)
        self._leases_done = threading.Event()
        self._lease_keeper = threading.Thread(
            target=self._keep_leases, name="custody-jobs-leases", daemon=True
        )

    def start(self) -> ThreadConsumer:
        """Start the workers, the scheduler and the supervisor; returns self."""
        with self._lock:
            if self._started:
                raise RuntimeError("this consumer was started already")
            self._started = True
            self._consumer.start()
            self._supervisor.start()
            if self._leases is not None:
                self._lease_keeper.start()
        return self

    def _supervise(self) -> None:
        while not self._stopping.wait(self._health_check_seconds):
            try:
                self._consumer.check_worker_health()
            except Exception:
                logger.exception("checking the job workers failed")

    def _keep_leases(self) -> None:
        assert self._leases is not None  # started only with leases
        every = self._leases / 3
        while True:
            try:
                self.huey.keep_leases()
            except Exception:
                logger.exception("renewing the job leases failed")
            if self._leases_done.wait(every):
                return

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    def stop(self) -> None:
        """Stop taking jobs, let running ones finish (up to the shutdown timeout), return."""
        with self._lock:
            if not self._started or self._stopped:
                return
            self._stopped = True
            self._stopping.set()
            self._supervisor.join()
            # Leases stay renewed while running jobs finish.
            self._consumer.stop(graceful=True)
            self._leases_done.set()
            if self._lease_keeper.is_alive():
                self._lease_keeper.join()
            # Jobs cut off by the timeout are logged by Huey; on a queue with leases they go
            # back at once for another worker (on SQLite the reconciler re-sends probes).
            self.huey.notify_interrupted_tasks()
            if self._leases is not None:
                self.huey.release_leases()
        logger.info("job consumer stopped")
