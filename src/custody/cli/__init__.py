"""The `custody` command (Typer), one module per command group.

A command's module is imported only when that command runs (or shows its own help):
importing them all took longer than most commands themselves. `custody --help` lists
every command from the table below without importing any of them.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    # Typer bundles its own Click; these are the types its group methods take.
    from typer._click.core import Command, Context

# name: (module under custody.cli, its Typer app or command function, the one-line help
# `custody --help` shows). A test checks each line against the command's own help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": (
        "setup",
        "init_command",
        "Create the database schema, the server's signing key and the user `admin`.",
    ),
    "serve": ("serve", "serve_command", "Run the server."),
    "doctor": (
        "doctor",
        "doctor_command",
        "Check the database and the object store (reachable, Object Lock); exit 1 on a fault.",
    ),
    "dock": (
        "dock",
        "dock_command",
        "Upload docked cameras' footage and free their space once the server's receipt verifies.",
    ),
    "worker": (
        "worker",
        "worker_command",
        "Run job workers: media probes, the reconciler and periodic sweeps, until SIGTERM/SIGINT.",
    ),
    "demo": (
        "demo",
        "demo_command",
        "Seed a small force, start the server, dock a shift of cameras, print the logins.",
    ),
    "dock-checkout": (
        "dock",
        "checkout_command",
        "An officer presents their card: assign them the pool camera in BAY and program it.",
    ),
    "fleet": ("fleet", "app", "Officers, cameras and docks, the roll-out and fleet health."),
    "users": ("users", "app", "Users, roles and API tokens."),
    "camera": (
        "camera",
        "app",
        "Simulated body-worn cameras in the open on-camera format (docs/camera-format.md).",
    ),
    "retention": ("retention", "app", "Retention: the 31-day sweep, its preview and certificates."),
    "audit": ("audit", "app", "The audit trail: verify it, checkpoint it, prove it."),
    "categories": ("categories", "app", "Categories: retention, access class and review period."),
    "cases": ("cases", "app", "Cases: crime references, their footage and disposal."),
    "holds": ("holds", "app", "Legal and complaint holds: no deletion until lifted."),
    "bundle": ("bundle", "app", "Court bundles: export a case as BagIt, verify one anywhere."),
    "fixity": (
        "storage",
        "fixity_command",
        "Read every stored object back and check its SHA-256 now; exit 1 on any problem.",
    ),
    "store": (
        "storage",
        "app",
        "The object store: migrate, verify, seal plaintext, rotate the key-encryption key.",
    ),
}


class _Unloaded(TyperCommand):
    """A command known by name and summary only, until it is run."""


def installed(name: str) -> bool:
    """Whether the command's module is present (command groups may be added one at a time)."""
    return importlib.util.find_spec(f"custody.cli.{COMMANDS[name][0]}") is not None


def load(name: str) -> Command:
    """The command `name` as Typer builds it, its module imported now."""
    module, attribute, _ = COMMANDS[name]
    found = getattr(importlib.import_module(f"custody.cli.{module}"), attribute)
    holder = typer.Typer()
    if isinstance(found, typer.Typer):
        holder.add_typer(found, name=name)
    else:
        holder.command(name)(found)
    return typer.main.get_group(holder).commands[name]


class _LazyGroup(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, (_, _, summary) in COMMANDS.items():
            if installed(name):
                self.commands[name] = _Unloaded(name, help=summary)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if args and isinstance(self.commands.get(args[0]), _Unloaded):
            self.commands[args[0]] = load(args[0])
        return super().resolve_command(ctx, args)


def _root(
    ctx: typer.Context,
    data_dir: str | None = typer.Option(
        None, envvar="CUSTODY_DATA_DIR", help="Where Custody keeps its data."
    ),
    database_url: str | None = typer.Option(
        None, envvar="CUSTODY_DATABASE_URL", help="SQLAlchemy URL."
    ),
    storage_url: str | None = typer.Option(
        None, envvar="CUSTODY_STORAGE_URL", help="Object store URL."
    ),
    queue_url: str | None = typer.Option(None, envvar="CUSTODY_QUEUE_URL", help="Job queue URL."),
) -> None:
    """Custody: body-worn video evidence, from the dock to the court."""
    from custody.config import load_settings

    ctx.obj = load_settings(
        data_dir=data_dir, database_url=database_url, storage_url=storage_url, queue_url=queue_url
    )


app = typer.Typer(
    cls=_LazyGroup,
    help="Custody: body-worn video evidence, from the dock to the court.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    callback=_root,
)


def main() -> None:
    app()
