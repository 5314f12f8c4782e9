"""`custody init`: make a new installation ready."""

from __future__ import annotations

import typer

from custody.bootstrap import build_system
from custody.cli.common import err, out, refusals, settings
from custody.services.identity.setup import ensure_admin, installation_administrator
from custody.services.keys import server_key_path
from custody.services.system import NoJobs


@refusals
def init_command(
    ctx: typer.Context,
    admin_password_stdin: bool = typer.Option(
        False, "--admin-password-stdin", help="Read the admin password from standard input."
    ),
    second_administrator: str = typer.Option(
        None,
        "--second-administrator",
        help="Add this administrator too (only while no two administrators could approve "
        "each other's requests); prints, alone, the code with which they set their password.",
    ),
) -> None:
    """Create the database schema, the server's signing key and the user `admin`.

    Run again on an installation, it leaves what exists alone; with --second-administrator,
    it adds the administrator who approves what the first asks for (a lone administrator
    cannot make one: `docs/access.md`)."""
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
    if second_administrator:
        issued = installation_administrator(system, second_administrator)
        out.print(issued.code, soft_wrap=True, highlight=False)
        err.print(
            f"  administrator [bold]{second_administrator}[/] added: they set their password "
            f"with the code above (custody users complete-reset), once, until {issued.expires_at}"
        )
