"""`custody serve`: API, tus endpoint, portal and an in-process job worker on one machine."""

from __future__ import annotations

import gc
import logging

import typer
import uvicorn

from custody.cli.common import err, system


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", envvar="CUSTODY_HOST", help="Address to listen on."),
    port: int = typer.Option(8000, envvar="CUSTODY_PORT", help="Port to listen on."),
    workers: int = typer.Option(
        2,
        help="In-process job worker threads (0: none, as when CUSTODY_WORKER_IN_PROCESS=false "
        "leaves jobs to `custody worker` processes).",
    ),
) -> None:
    """Run the server."""
    from custody.web.app import create_app

    running = system(ctx)
    from custody.services.storage_health import object_lock_warning

    if (warning := object_lock_warning(running)) is not None:
        logging.getLogger("custody.storage").warning(warning)
        err.print(f"[yellow]warning:[/] {warning}")
    # Audit events are sequenced in the background, a burst of requests' events at a time.
    running.start_sequencer()
    consumer = None
    if workers > 0 and running.settings.worker_in_process:
        from custody.jobs.queue import start_in_process_consumer

        consumer = start_in_process_consumer(running, workers=workers)
    err.print(
        f"Custody serving on [bold]http://{host}:{port}[/] (data: {running.settings.data_dir})"
    )
    app = create_app(running)
    # What is loaded by now (modules, classes, the app) lives as long as the process: out of
    # the collector's sight, a full collection scans only what requests made since, a few
    # milliseconds, not the 200 ms pause that one request in a few dozen otherwise takes.
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=10,
            # uvicorn would believe X-Forwarded-For/-Proto from any local peer and rewrite
            # the caller's address before we see it. Custody decides alone, in one place
            # (`web.deps.client_address`), and only with CUSTODY_TRUSTED_PROXY set.
            proxy_headers=False,
            forwarded_allow_ips="",
        )
    finally:
        if consumer is not None:
            consumer.stop()
        running.stop_sequencer()
