"""The `custody` command (Typer), one module per command group."""

from __future__ import annotations

import typer

from custody.cli import common, fleet, setup, users
from custody.cli.serve import serve_command

app = typer.Typer(
    help="Custody: body-worn video evidence, from the dock to the court.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    callback=common.root_callback,
)
app.command("init")(setup.init_command)
app.command("serve")(serve_command)
app.add_typer(fleet.app, name="fleet")
app.add_typer(users.app, name="users")


# Command groups and commands by module; each module owns its own commands.
GROUPS = {
    "camera": "camera",
    "retention": "retention",
    "audit": "audit",
    "categories": "categories",
    "cases": "cases",
    "holds": "holds",
}
COMMANDS = {
    "dock": ("dock", "dock_command"),
    "worker": ("worker", "worker_command"),
    "demo": ("demo", "demo_command"),
    "dock-checkout": ("dock", "checkout_command"),
}


def _mount() -> None:
    """Mount every command module that is installed."""
    import importlib

    for name, module_name in GROUPS.items():
        try:
            module = importlib.import_module(f"custody.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"custody.cli.{module_name}":
                raise
            continue
        app.add_typer(module.app, name=name)
    for name, (module_name, attribute) in COMMANDS.items():
        try:
            module = importlib.import_module(f"custody.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"custody.cli.{module_name}":
                raise
            continue
        app.command(name)(getattr(module, attribute))


_mount()


def main() -> None:
    app()
