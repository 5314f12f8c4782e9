"""`custody cases …`: cases, their recordings and their closure."""

from __future__ import annotations

import typer
from rich.table import Table

from custody.cli.common import AS_HELP, AsUser, acting, err, out, refusals
from custody.services.answers import MAX_PAGE, Page
from custody.services.evidence import cases

app = typer.Typer(help="Cases: crime references, their footage and disposal.", no_args_is_help=True)


@app.command("list")
@refusals
def list_cases(
    ctx: typer.Context,
    status: str | None = typer.Option(None, help="open or closed"),
    as_user: AsUser = "admin",
) -> None:
    """Cases you may see."""
    built, principal, actor = acting(ctx, as_user)
    table = Table(title="Cases")
    for column in ("id", "reference", "title", "officer in case", "status", "disposal"):
        table.add_column(column)
    after: str | None = None
    while True:
        page = Page(limit=MAX_PAGE, after=after)
        found = cases.list_cases(built, principal, actor, status=status, page=page)
        for case in found.items:
            disposal = case.disposal_days
            table.add_row(
                str(case.id),
                case.reference,
                case.title,
                case.officer_in_case,
                case.status,
                "until manually deleted" if disposal is None else f"{disposal} days",
            )
        after = found.next_cursor
        if after is None:
            break
    out.print(table)


@app.command("create")
@refusals
def create(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="The crime reference."),
    title: str = typer.Option(...),
    officer_in_case: str | None = typer.Option(None, help="Username (default: you)."),
    disposal_days: int = typer.Option(
        None, help="Days its footage stays after closure (default: until manually deleted)."
    ),
    as_user: str = typer.Option(..., "--as", envvar="CUSTODY_USER", help=AS_HELP),
) -> None:
    """Open a case."""
    built, principal, actor = acting(ctx, as_user)
    case = cases.create_case(
        built,
        principal,
        reference=reference,
        title=title,
        actor=actor,
        officer_in_case=officer_in_case,
        disposal_days=disposal_days,
    )
    err.print(f"case {case.reference} opened (id {case.id})")


@app.command("add")
@refusals
def add(
    ctx: typer.Context,
    case_id: int = typer.Argument(...),
    recording_id: str = typer.Argument(...),
    reason: str | None = typer.Option(None),
    as_user: str = typer.Option(..., "--as", envvar="CUSTODY_USER", help=AS_HELP),
) -> None:
    """Add a recording to a case."""
    built, principal, actor = acting(ctx, as_user)
    cases.add_to_case(built, principal, case_id, recording_id, reason, actor)
    err.print(f"recording {recording_id} added to case {case_id}")


@app.command("close")
@refusals
def close(
    ctx: typer.Context,
    case_id: int = typer.Argument(...),
    reason: str = typer.Option(...),
    as_user: str = typer.Option(..., "--as", envvar="CUSTODY_USER", help=AS_HELP),
) -> None:
    """Close a case and apply its disposal rule."""
    built, principal, actor = acting(ctx, as_user)
    case = cases.close_case(built, principal, case_id, reason, actor)
    err.print(f"case {case.reference} closed; {len(case.recordings)} recording(s) decided again")
