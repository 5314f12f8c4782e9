"""What every command shares: settings from options and CUSTODY_* variables, and clear failures."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from custody.bootstrap import build_system
from custody.config import Settings
from custody.domain.actor import Actor
from custody.domain.errors import CustodyError, WrongKeyEncryptionKey
from custody.domain.principal import Principal
from custody.services.identity.users import principal_named
from custody.services.system import System

P = ParamSpec("P")
R = TypeVar("R")

# Tokens and ids go to stdout alone; everything for people goes to stderr.
err = Console(stderr=True)
out = Console()


def settings(ctx: typer.Context) -> Settings:
    found: Settings = ctx.find_root().obj
    return found


def system(ctx: typer.Context) -> System:
    """The installation at the configured data dir; a clear error if it was never initialised."""
    config = settings(ctx)
    try:
        return build_system(config)
    except FileNotFoundError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except WrongKeyEncryptionKey as exc:
        # Refused at start, before a byte is read: never footage that will not open later.
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from None


def refusals(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a refusal into one red line on stderr and exit status 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CustodyError as exc:
            err.print(f"[red]error:[/] {exc.message}")
            raise typer.Exit(1) from None

    return wrapper


AS_HELP = "Act as this user (checked and audited as them)."
# The `--as` option of every command that acts for a person: `as_user: AsUser = "admin"`.
AsUser = Annotated[str, typer.Option("--as", envvar="CUSTODY_USER", help=AS_HELP)]


def acting(ctx: typer.Context, username: str) -> tuple[System, Principal, Actor]:
    """The system, the user a command acts as, and who the audit trail names."""
    built = system(ctx)
    principal = principal_named(built, username)
    return built, principal, principal.actor(None, "custody-cli")
