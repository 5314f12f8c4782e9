"""`custody retention …`: run the sweep, preview it, list what is pending, certificates."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from custody.cli.common import AsUser, acting, err, out, refusals, system
from custody.domain import signing
from custody.domain.access import SystemAction
from custody.domain.clock import parse_time
from custody.domain.errors import InvalidInput, SignatureInvalid
from custody.services.access import permit
from custody.services.answers import MAX_PAGE, Paged
from custody.services.retention import review, sweep
from custody.services.retention.answers import RetentionEntry

app = typer.Typer(
    help="Retention: the 31-day sweep, its preview and certificates.", no_args_is_help=True
)


def parse_at(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise InvalidInput(f"not an ISO 8601 time: {text!r}") from None


def _how_many(answer: Paged[RetentionEntry]) -> str:
    """The list's total, or "1000+" where it was counted only up to its bound."""
    return f"{answer.total}" if answer.total_exact else f"{answer.total}+"


def _table(title: str, items: list[RetentionEntry]) -> Table:
    table = Table(title=title)
    for column in ("recording", "officer", "recorded at", "due", "rule", "why"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            item.id,
            item.officer or "-",
            item.recorded_at,
            item.delete_due_at or "never",
            item.rule,
            item.reason,
        )
    return table


@app.command("run")
@refusals
def run(
    ctx: typer.Context,
    as_user: AsUser = "admin",
) -> None:
    """Delete every recording that is due now (the hourly job does the same)."""
    built, principal, actor = acting(ctx, as_user)
    # The command's guard, as a route's: a refusal comes before the progress bar does.
    permit(built, principal, SystemAction.RETENTION_RUN, actor, "user:retention:run")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("sweeping", total=None)

        def step(_recording_id: str, _outcome: str) -> None:
            progress.advance(task)

        report = sweep.run_sweep(built, principal, actor, progress=step)
    err.print(
        f"deleted {len(report.deleted)} recording(s), {report.objects_deleted} object(s); "
        f"finished {report.finished} interrupted deletion(s); decided {report.decided}; "
        f"corrected {len(report.corrected)} stale date(s)"
    )
    for failure in report.failures:
        err.print(f"[red]failed:[/] {failure.recording_id}: {failure.error}")
    out.print_json(report.model_dump_json())
    if report.failures:
        raise typer.Exit(1)


@app.command("preview")
@refusals
def preview(
    ctx: typer.Context,
    at: str = typer.Option(..., "--at", help="The time of the imagined sweep (ISO 8601)."),
    limit: int = typer.Option(100, min=1, max=MAX_PAGE),
    offset: int = typer.Option(0, min=0),
    as_json: bool = typer.Option(False, "--json", help="JSON on stdout instead of a table."),
    as_user: AsUser = "admin",
) -> None:
    """List what a sweep at --at would delete, and why; nothing is deleted."""
    built, principal, actor = acting(ctx, as_user)
    answer = review.preview(built, principal, parse_at(at), actor, limit=limit, offset=offset)
    if as_json:
        out.print_json(answer.model_dump_json())
        return
    title = f"{_how_many(answer)} recording(s) would be deleted by {answer.at}"
    out.print(_table(title, answer.items))
    if answer.undecided:
        err.print(
            f"{answer.undecided} recording(s) have no decision yet: the next sweep "
            "decides them first"
        )


@app.command("pending")
@refusals
def pending(
    ctx: typer.Context,
    limit: int = typer.Option(100, min=1, max=MAX_PAGE),
    offset: int = typer.Option(0, min=0),
    as_json: bool = typer.Option(False, "--json", help="JSON on stdout instead of a table."),
    as_user: AsUser = "admin",
) -> None:
    """List recordings due for deletion within 7 days (restore them before they go)."""
    built, principal, actor = acting(ctx, as_user)
    answer = review.pending(built, principal, actor, limit=limit, offset=offset)
    if as_json:
        out.print_json(answer.model_dump_json())
        return
    out.print(_table(f"{_how_many(answer)} recording(s) pending deletion", answer.items))


@app.command("restore")
@refusals
def restore(
    ctx: typer.Context,
    recording_id: str = typer.Argument(...),
    category: str = typer.Option(..., help="The category it is restored to."),
    reason: str = typer.Option(..., help="Why (kept in the audit trail)."),
    as_user: AsUser = "admin",
) -> None:
    """Restore a recording pending deletion to a category."""
    built, principal, actor = acting(ctx, as_user)
    answer = review.restore(built, principal, recording_id, category, reason, actor)
    if not answer.extended:
        err.print(
            "[yellow]its deletion date did not move:[/] a non-evidential category never "
            "keeps footage past 31 days"
        )
    out.print_json(answer.model_dump_json())


@app.command("review-queue")
@refusals
def review_queue(
    ctx: typer.Context,
    limit: int = typer.Option(100, min=1, max=MAX_PAGE),
    as_user: AsUser = "admin",
) -> None:
    """List retained recordings whose review date has come."""
    built, principal, actor = acting(ctx, as_user)
    answer = review.review_queue(built, principal, actor, limit=limit)
    out.print(_table(f"{_how_many(answer)} recording(s) due for review", answer.items))


@app.command("certificate")
@refusals
def certificate(
    ctx: typer.Context,
    recording_id: str = typer.Argument(...),
    as_user: AsUser = "admin",
) -> None:
    """Print a deleted recording's signed deletion certificate (JSON)."""
    built, principal, actor = acting(ctx, as_user)
    out.print_json(review.certificate(built, principal, recording_id, actor).model_dump_json())


@app.command("verify-certificate")
@refusals
def verify_certificate(ctx: typer.Context, path: Path = typer.Argument(..., exists=True)) -> None:
    """Check a deletion certificate's signature against this server's key."""
    try:
        document = json.loads(path.read_text())
    except ValueError:
        raise InvalidInput(f"{path} is not JSON") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"{path} is not a certificate")
    try:
        signing.verify(document, system(ctx).server_key.public_key())
    except SignatureInvalid:
        err.print("[red]the certificate's signature does not verify[/]")
        raise typer.Exit(1) from None
    err.print(
        f"[green]valid:[/] recording {document.get('recording_id')} deleted at "
        f"{document.get('deleted_at')} under {document.get('rule')}"
    )
