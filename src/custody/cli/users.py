"""`custody users …`: people and their API tokens."""

from __future__ import annotations

import typer

from custody.cli.common import err, out, refusals, system
from custody.domain.access import ROLES
from custody.services import users

app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)


@app.command("add")
@refusals
def add(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    role: str = typer.Option(..., help=f"One of: {', '.join(ROLES)}."),
    officer: str | None = typer.Option(None, help="Link to the officer with this warrant number."),
    unit: str | None = typer.Option(None, help="Borough / BCU or team."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read a password from stdin."
    ),
) -> None:
    """Add a user."""
    password = None
    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\n")
    users.create_user(system(ctx), username, role, password=password, officer=officer, unit=unit)
    err.print(f"user {username} added as {role}")


@app.command("token")
@refusals
def token(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    name: str = typer.Option("cli", help="What the token is for."),
    days: int = typer.Option(90, min=1, max=3650, help="Days until it expires."),
) -> None:
    """Issue an API token; prints it, alone, on stdout."""
    from datetime import timedelta

    secret = users.issue_token(system(ctx), username, name=name, lifetime=timedelta(days=days))
    out.print(secret, soft_wrap=True, highlight=False)
