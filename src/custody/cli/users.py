"""`custody users …`: people, their roles, API tokens and sessions.

Each command acts as a named user (`--as USER`, default `admin`, or CUSTODY_USER) whom the
rules let manage users, checked and audited as them. The first administrator is made by
`custody init`, the one user nobody creates (`services/identity/setup.py`).
"""

from __future__ import annotations

from datetime import timedelta

import typer
from rich.table import Table

from custody.cli.common import AsUser, acting, err, out, refusals, system
from custody.domain.actor import Actor
from custody.services.identity import resets, roles, users
from custody.services.identity import tokens as api_tokens

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
    as_user: AsUser = "admin",
) -> None:
    """Add a user; prints, alone, the one-time code with which they set their own password.

    Nobody chooses another person's password: hand the code to the person, who completes it
    (`custody users complete-reset`, the portal's "Set your password" page, or
    `POST /api/v1/password-resets`).
    """
    built, principal, actor = acting(ctx, as_user)
    made = users.create_user(
        built,
        principal,
        username,
        role,
        officer=officer,
        unit=unit,
        display_name=display_name,
        actor=actor,
    )
    out.print(made.reset.code, soft_wrap=True, highlight=False)
    err.print(
        f"user {username} added as {role}; they set their password with this code, "
        f"once, until {made.reset.expires_at}"
    )


@app.command("list")
@refusals
def list_users(
    ctx: typer.Context,
    role: str = typer.Option(None, help="Only users of this role."),
    as_user: AsUser = "admin",
) -> None:
    """List users."""
    built, principal, actor = acting(ctx, as_user)
    table = Table("username", "name", "role", "unit", "officer", "sign-in", "disabled")
    for info in users.list_users(built, principal, role=role, actor=actor):
        signs_in = "password" if info.has_password else ""
        if info.single_sign_on:
            signs_in = "single sign-on" + (" + password" if info.has_password else "")
        if not signs_in and info.reset_until:
            signs_in = f"reset code until {info.reset_until}"
        if info.locked_until:
            signs_in += f" (held back until {info.locked_until})"
        table.add_row(
            info.username,
            info.display_name,
            info.role,
            info.unit or "",
            info.officer or "",
            signs_in or "none",
            info.disabled_at or "",
        )
    out.print(table)


@app.command("disable")
@refusals
def disable(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    as_user: AsUser = "admin",
) -> None:
    """Disable a user: their sessions end and their tokens stop working."""
    built, principal, actor = acting(ctx, as_user)
    users.update_user(built, principal, username, disabled=True, actor=actor)
    err.print(f"user {username} disabled")


@app.command("enable")
@refusals
def enable(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    as_user: AsUser = "admin",
) -> None:
    """Re-enable a disabled user."""
    built, principal, actor = acting(ctx, as_user)
    users.update_user(built, principal, username, disabled=False, actor=actor)
    err.print(f"user {username} enabled")


@app.command("set-role")
@refusals
def set_role(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    role: str = typer.Argument(..., help=f"One of: {', '.join(users.ROLES)}."),
    unit: str = typer.Option(None, help="Also move them to this unit."),
    as_user: AsUser = "admin",
) -> None:
    """Change a user's role (and unit)."""
    built, principal, actor = acting(ctx, as_user)
    users.update_user(built, principal, username, role=role, unit=unit, actor=actor)
    err.print(f"user {username} is now {role}")


@app.command("request-role")
@refusals
def request_role(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    role: str = typer.Argument(..., help=f"One of: {', '.join(users.ROLES)}."),
    as_user: AsUser = "admin",
) -> None:
    """Ask to give a user a role that sees footage force-wide; prints the request's id.

    A second, different administrator approves it (`custody users approve-role ID`)."""
    built, principal, actor = acting(ctx, as_user)
    asked = roles.request_role(built, principal, username, role, actor=actor)
    out.print(asked.id, highlight=False)
    state = asked.outcome or "waiting for a second administrator"
    err.print(f"role {role} for {username}: {state}")


@app.command("approve-role")
@refusals
def approve_role(
    ctx: typer.Context,
    request_id: int = typer.Argument(...),
    as_user: AsUser = "admin",
) -> None:
    """Approve another administrator's role request (never your own)."""
    built, principal, actor = acting(ctx, as_user)
    done = roles.decide_role_request(built, principal, request_id, approve=True, actor=actor)
    err.print(f"{done.username} is now {done.role}")


@app.command("refuse-role")
@refusals
def refuse_role(
    ctx: typer.Context,
    request_id: int = typer.Argument(...),
    as_user: AsUser = "admin",
) -> None:
    """Refuse a role request."""
    built, principal, actor = acting(ctx, as_user)
    done = roles.decide_role_request(built, principal, request_id, approve=False, actor=actor)
    err.print(f"role {done.role} for {done.username} refused")


@app.command("reset-password")
@refusals
def reset_password(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    as_user: AsUser = "admin",
) -> None:
    """Issue a one-time password reset; prints its code, alone, for the user to complete.

    Nobody sets another person's password: the user completes the code with a password of
    their own (`custody users complete-reset`, or `POST /api/v1/password-resets`).
    """
    built, principal, actor = acting(ctx, as_user)
    issued = resets.issue_reset(built, principal, username, actor=actor)
    out.print(issued.code, soft_wrap=True, highlight=False)
    err.print(f"reset for {username} issued; it works once, until {issued.expires_at}")


@app.command("complete-reset")
@refusals
def complete_reset(ctx: typer.Context) -> None:
    """Set your own password with a reset code: the code, then the new password, one line
    each on standard input. It signs nobody in."""
    code = typer.get_text_stream("stdin").readline().strip()
    password = _read_password()
    resets.complete_reset(system(ctx), code, password, Actor("anonymous", None, "custody-cli"))
    err.print("password set; sign in with it")


@app.command("unlock")
@refusals
def unlock(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    as_user: AsUser = "admin",
) -> None:
    """Let a user held back after failed sign-ins sign in again at once."""
    built, principal, actor = acting(ctx, as_user)
    users.unlock_user(built, principal, username, actor=actor)
    err.print(f"{username} may sign in again")


@app.command("sign-out")
@refusals
def sign_out(
    ctx: typer.Context,
    username: str = typer.Argument(...),
    as_user: AsUser = "admin",
) -> None:
    """End every portal session of a user."""
    built, principal, actor = acting(ctx, as_user)
    ended = users.end_sessions(built, principal, username, actor=actor)
    err.print(f"{ended.ended} session(s) of {username} ended")


@app.command("token")
@refusals
def token(
    ctx: typer.Context,
    name: str = typer.Option("cli", help="What the token is for."),
    days: int = typer.Option(
        90, min=1, max=api_tokens.MAX_TOKEN_DAYS, help="Days until it expires."
    ),
    as_user: AsUser = "admin",
) -> None:
    """Issue yourself (the `--as` user) an API token; prints it, alone, on stdout.

    Nobody issues a token for anyone else: a token acts as its owner, and the audit trail
    would name them for what another did.
    """
    built, principal, actor = acting(ctx, as_user)
    issued = api_tokens.create_my_token(
        built, principal, name=name, lifetime=timedelta(days=days), actor=actor
    )
    out.print(issued.token, soft_wrap=True, highlight=False)


@app.command("tokens")
@refusals
def tokens(
    ctx: typer.Context,
    username: str = typer.Argument(None, help="Only this user's tokens."),
    as_user: AsUser = "admin",
) -> None:
    """List API tokens (never their secrets)."""
    built, principal, actor = acting(ctx, as_user)
    table = Table("id", "user", "name", "created", "expires", "state")
    for info in api_tokens.list_tokens(built, principal, username, actor=actor):
        state = "active" if info.active else ("revoked" if info.revoked_at else "expired")
        table.add_row(
            str(info.id),
            info.username,
            info.name,
            info.created_at,
            info.expires_at or "never",
            state,
        )
    out.print(table)


@app.command("revoke-token")
@refusals
def revoke_token(
    ctx: typer.Context,
    token_id: int = typer.Argument(...),
    as_user: AsUser = "admin",
) -> None:
    """Revoke an API token at once (ids are in `custody users tokens`)."""
    built, principal, actor = acting(ctx, as_user)
    info = api_tokens.revoke_token(built, principal, token_id, actor=actor)
    err.print(f"token {info.id} ({info.name or 'unnamed'}) of {info.username} revoked")
