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


def _mount_optional() -> None:
    """Commands whose modules are built in parallel; mounted when present."""
    try:
        from custody.cli import camera

        app.add_typer(camera.app, name="camera")
    except ImportError:
        pass
    try:
        from custody.cli.dock import dock_command

        app.command("dock")(dock_command)
    except ImportError:
        pass
    try:
        from custody.cli.worker import worker_command

        app.command("worker")(worker_command)
    except ImportError:
        pass


_mount_optional()


def main() -> None:
    app()
