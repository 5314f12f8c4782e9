"""`custody users …`: people, their roles, API tokens and sessions."""

from __future__ import annotations

from datetime import timedelta

import typer
from rich.table import Table

from custody.cli.common import err, out, refusals, system
from custody.domain.clock import isoformat
from custody.services.identity import users

app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)


def _read_password() -> str:
    """One line from standard input, so that a password never sits in a shell's history."""
    password = typer.get_text_stream("stdin").readline().rstrip("\r\n")
    if not password:
        raise typer.BadParameter("no password on standard input")
    return password


@app.command("add")
@refusals
def add(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    role: str = typer.Option(..., help=f"One of: {', '.join(users.ROLES)}."),
    officer: str = typer.Option(None, help="Link to the officer with this warrant number."),
    unit: str = typer.Option(None, help="Borough / BCU or team."),
    display_name: str = typer.Option("", help="The name people see."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read a password from stdin (else: single sign-on only)."
    ),
) -> None:
    """Add a user."""
    password = _read_password() if password_stdin else None
    users.create_user(
        system(ctx),
        username,
        role,
        password=password,
        officer=officer,
        unit=unit,
        display_name=display_name,
    )
    err.print(f"user {username} added as {role}")


@app.command("list")
@refusals
def list_users(
    ctx: typer.Context,
    role: str = typer.Option(None, help="Only users of this role."),
) -> None:
    """List users."""
    table = Table("username", "name", "role", "unit", "officer", "sign-in", "disabled")
    for info in users.list_users(system(ctx), role=role):
        signs_in = "password" if info.has_password else ""
        if info.external_issuer:
            signs_in = "single sign-on" + (" + password" if info.has_password else "")
        table.add_row(
            info.username,
            info.display_name,
            info.role,
            info.unit or "",
            info.officer or "",
            signs_in or "none",
            isoformat(info.disabled_at) if info.disabled_at else "",
        )
    out.print(table)


@app.command("disable")
@refusals
def disable(ctx: typer.Context, username: str = typer.Argument(...)) -> None:
    """Disable a user: their sessions end and their tokens stop working."""
    users.update_user(system(ctx), username, disabled=True)
    err.print(f"user {username} disabled")


@app.command("enable")
@refusals
def enable(ctx: typer.Context, username: str = typer.Argument(...)) -> None:
    """Re-enable a disabled user."""
    users.update_user(system(ctx), username, disabled=False)
    err.print(f"user {username} enabled")


@app.command("set-role")
@refusals
def set_role(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    role: str = typer.Argument(..., help=f"One of: {', '.join(users.ROLES)}."),
    unit: str = typer.Option(None, help="Also move them to this unit."),
) -> None:
    """Change a user's role (and unit)."""
    users.update_user(system(ctx), username, role=role, unit=unit)
    err.print(f"user {username} is now {role}")


@app.command("password")
@refusals
def password(ctx: typer.Context, username: str = typer.Argument(...)) -> None:
    """Set a user's password, read from stdin; their sessions end."""
    users.set_password(system(ctx), username, _read_password())
    err.print(f"password of {username} set")


@app.command("sign-out")
@refusals
def sign_out(ctx: typer.Context, username: str = typer.Argument(...)) -> None:
    """End every portal session of a user."""
    ended = users.end_sessions(system(ctx), username)
    err.print(f"{ended} session(s) of {username} ended")


@app.command("token")
@refusals
def token(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    name: str = typer.Option("cli", help="What the token is for."),
    days: int = typer.Option(90, min=1, max=users.MAX_TOKEN_DAYS, help="Days until it expires."),
) -> None:
    """Issue an API token; prints it, alone, on stdout."""
    secret = users.issue_token(system(ctx), username, name=name, lifetime=timedelta(days=days))
    out.print(secret, soft_wrap=True, highlight=False)


@app.command("tokens")
@refusals
def tokens(
    ctx: typer.Context,
    username: str = typer.Argument(None, help="Only this user's tokens."),
) -> None:
    """List API tokens (never their secrets)."""
    running = system(ctx)
    now = running.clock.now()
    table = Table("id", "user", "name", "created", "expires", "state")
    for info in users.list_tokens(running, username):
        state = "active" if info.active(now) else ("revoked" if info.revoked_at else "expired")
        table.add_row(
            str(info.id),
            info.username,
            info.name,
            isoformat(info.created_at),
            isoformat(info.expires_at) if info.expires_at else "never",
            state,
        )
    out.print(table)


@app.command("revoke-token")
@refusals
def revoke_token(ctx: typer.Context, token_id: int = typer.Argument(...)) -> None:
    """Revoke an API token at once (ids are in `custody users tokens`)."""
    info = users.revoke_token(system(ctx), token_id)
    err.print(f"token {info.id} ({info.name or 'unnamed'}) of {info.username} revoked")
