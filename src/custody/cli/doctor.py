"""`custody doctor`: is this installation fit to hold evidence? Database, store, Object Lock."""

from __future__ import annotations

import typer
from sqlalchemy import text

from custody.cli.common import err, out, system
from custody.services.storage_health import check_store


def doctor_command(ctx: typer.Context) -> None:
    """Check the database and the object store (reachable, Object Lock); exit 1 on a fault."""
    running = system(ctx)
    failed = False
    try:
        with running.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        out.print("[green]ok[/]   database answers")
    except Exception as exc:  # any driver error is the finding itself
        out.print(f"[red]FAIL[/] database: {exc}")
        failed = True
    check = check_store(running)
    if check.reachable:
        out.print(f"[green]ok[/]   store answers: {check.store}")
    for problem in check.problems:
        out.print(f"[red]FAIL[/] store: {problem}")
        failed = True
    if check.object_lock:
        out.print("[green]ok[/]   Object Lock: the store itself refuses early deletes")
    for warning in check.warnings:
        out.print(f"[yellow]WARN[/] {warning}")
    if failed:
        err.print("[red]custody doctor found faults[/]")
        raise typer.Exit(1)
