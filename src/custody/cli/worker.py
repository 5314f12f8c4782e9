"""`custody worker`: job workers alone, for scale-out beside (or instead of) serve's own."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import typer

from custody.cli.common import err, system
from custody.jobs.queue import start_in_process_consumer

# How often the main thread wakes while waiting for a signal (signals are handled between waits).
WAIT_SECONDS = 1.0


def worker_command(
    ctx: typer.Context,
    workers: int = typer.Option(4, "--workers", "-w", min=1, help="Worker threads."),
    periodic: bool = typer.Option(
        True, help="Also schedule the periodic sweeps (any one consumer runs each once)."
    ),
    shutdown_timeout: float = typer.Option(
        60.0, min=0, help="Seconds to let running jobs finish on SIGTERM or SIGINT."
    ),
) -> None:
    """Run job workers: media probes, the reconciler and periodic sweeps, until SIGTERM/SIGINT.

    Run as many as the load needs, on as many machines, all on the same
    CUSTODY_QUEUE_URL (Redis at scale), database and store. A first SIGTERM or
    SIGINT lets running jobs finish; a second one stops at once.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    running = system(ctx)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        err.print(
            f"{signal.Signals(signum).name}: finishing running jobs (send it again to stop now)"
        )
        stop.set()
        # The default action again, so a second signal ends the process at once.
        signal.signal(signum, signal.SIG_DFL)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    # Jobs audit too; and a worker sequences what a server node left pending when it died.
    running.start_sequencer()
    try:
        consumer = start_in_process_consumer(
            running, workers=workers, periodic=periodic, shutdown_timeout=shutdown_timeout
        )
        err.print(
            f"Custody worker: {workers} worker thread(s) on "
            f"{_redacted(running.settings.resolved_queue_url)}",
            soft_wrap=True,
        )
        try:
            while not stop.wait(WAIT_SECONDS):
                pass
        finally:
            consumer.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        running.stop_sequencer()
        running.engine.dispose()
    err.print("Custody worker stopped")


def _redacted(url: str) -> str:
    """The queue URL without a password, for the log."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
