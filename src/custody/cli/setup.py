"""`custody init`: make a new installation ready."""

from __future__ import annotations

import typer

from custody.bootstrap import build_system
from custody.cli.common import err, settings
from custody.services.identity.setup import ensure_admin
from custody.services.keys import server_key_path
from custody.services.system import NoJobs


def init_command(
    ctx: typer.Context,
    admin_password_stdin: bool = typer.Option(
        False, "--admin-password-stdin", help="Read the admin password from standard input."
    ),
) -> None:
    """Create the database schema, the server's signing key and the user `admin`."""
    config = settings(ctx)
    password = None
    if admin_password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\n") or None
    system = build_system(config, create=True, jobs=NoJobs())
    result = ensure_admin(system, password)
    err.print(f"Custody initialised in [bold]{config.data_dir}[/]")
    err.print(f"  server key: {server_key_path(config.keys_dir)}")
    if result.admin_created and not admin_password_stdin:
        err.print(f"  user [bold]admin[/] created with password: [bold]{result.admin_password}[/]")
    elif result.admin_created:
        err.print("  user [bold]admin[/] created")
