"""`custody holds …`: legal and complaint holds."""

from __future__ import annotations

import typer
from rich.table import Table

from custody.cli.common import AS_HELP, acting, err, out, refusals
from custody.cli.retention import parse_at
from custody.services.evidence import holds as hold_service

app = typer.Typer(help="Legal and complaint holds: no deletion until lifted.", no_args_is_help=True)


@app.command("list")
@refusals
def list_holds(
    ctx: typer.Context,
    recording_id: str | None = typer.Option(None, "--recording"),
    lifted: bool = typer.Option(False, help="Include lifted holds."),
    as_user: str = typer.Option(..., "--as", envvar="CUSTODY_USER", help=AS_HELP),
) -> None:
    """Holds you may see."""
    built, principal, actor = acting(ctx, as_user)
    table = Table(title="Holds")
    for column in ("id", "recording", "kind", "reason", "placed by", "placed at", "lifted"):
        table.add_column(column, overflow="fold")
    for hold in hold_service.list_holds(
        built, principal, actor, recording_id=recording_id, active=not lifted
    ):
        table.add_row(
            str(hold.id),
            hold.recording_id,
            hold.kind,
            hold.reason,
            hold.placed_by,
            hold.placed_at,
            hold.lifted_at or "-",
        )
    out.print(table)


@app.command("place")
@refusals
def place(
    ctx: typer.Context,
    kind: str = typer.Argument(..., help="legal or complaint"),
    reason: str = typer.Option(...),
    recording: list[str] | None = typer.Option(
        None, "--recording", help="A recording id (repeat)."
    ),
    officer: str | None = typer.Option(
        None, help="Hold this officer's footage (warrant number) ..."
    ),
    since: str | None = typer.Option(None, help="... recorded from this time (ISO 8601) ..."),
    until: str | None = typer.Option(None, help="... until before this time."),
    as_user: str = typer.Option(..., "--as", envvar="CUSTODY_USER", help=AS_HELP),
) -> None:
    """Place a hold on recordings, or on an officer's footage in a time window."""
    built, principal, actor = acting(ctx, as_user)
    placed = hold_service.place_hold(
        built,
        principal,
        kind=kind,
        reason=reason,
        actor=actor,
        recording_ids=recording or None,
        officer=officer,
        since=parse_at(since) if since else None,
        until=parse_at(until) if until else None,
    )
    err.print(f"{len(placed)} {kind} hold(s) placed")
    for hold in placed:
        out.print(f"{hold.id}\t{hold.recording_id}", highlight=False)


@app.command("lift")
@refusals
def lift(
    ctx: typer.Context,
    hold_id: int = typer.Argument(...),
    reason: str = typer.Option(...),
    as_user: str = typer.Option(..., "--as", envvar="CUSTODY_USER", help=AS_HELP),
) -> None:
    """Lift a hold; the recording's other rules then decide (after 7 days' notice)."""
    built, principal, actor = acting(ctx, as_user)
    hold_service.lift_hold(built, principal, hold_id, reason, actor)
    err.print(f"hold {hold_id} lifted")
