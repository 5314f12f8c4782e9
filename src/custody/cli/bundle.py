"""`custody bundle …`: court bundles, made from a case and checked by anyone.

`verify` needs nothing of the server (no database, no settings): this module imports
the server's parts only inside `export`, so a defence expert's `custody bundle verify`
starts quickly and small.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from custody.bundle.verify import verify_bundle
from custody.domain.errors import CustodyError

app = typer.Typer(
    help="Court bundles: export a case as BagIt, verify one anywhere.", no_args_is_help=True
)
err = Console(stderr=True)
out = Console()
AS_HELP = "Act as this user (checked and audited as them)."
AsUser = Annotated[str, typer.Option("--as", envvar="CUSTODY_USER", help=AS_HELP)]


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=True,
    )


@app.command("export")
def export(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="The case: its id or crime reference."),
    out_path: Path = typer.Option(..., "--out", help="Where to write the bundle (must not exist)."),
    as_zip: bool = typer.Option(False, "--zip", help="One zip file instead of a folder."),
    as_user: AsUser = "admin",
) -> None:
    """Write a case's court bundle: its disclosable footage, custody records and proofs."""
    from custody.cli.common import acting
    from custody.services.disclosure import bundles
    from custody.services.disclosure.bag_targets import BagTarget, FolderTarget, ZipTarget

    def target(made_at: datetime) -> BagTarget:
        return ZipTarget(out_path, made_at) if as_zip else FolderTarget(out_path)

    try:
        built, principal, actor = acting(ctx, as_user)
        case_id = bundles.case_named(built, principal, case)
        with _bar() as bar:
            task = bar.add_task("exporting", total=None)

            def progress(name: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total or None, description=name[-48:])

            made = bundles.export_bundle(built, principal, case_id, actor, target, progress)
    except CustodyError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from None
    err.print(
        f"bundle of case {made.case_reference}: {made.recordings} recording(s), "
        f"{made.clips} clip(s), {made.withheld} withheld as sensitive, {made.deleted} deleted "
        f"under retention; {made.files} files, {made.bytes} bytes"
    )
    out.print(str(out_path), highlight=False)


@app.command("verify")
def verify(
    path: Path = typer.Argument(..., help="A bundle: its folder or its zip."),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="The server's public key (PEM), obtained independently."
    ),
) -> None:
    """Check every hash, signature and proof of a bundle (no database, no server needed)."""
    key = None
    if public_key is not None:
        try:
            loaded = load_pem_public_key(public_key.read_bytes())
        except (OSError, ValueError):
            loaded = None
        if not isinstance(loaded, Ed25519PublicKey):
            err.print(f"[red]error:[/] {public_key} is not an Ed25519 public key (PEM)")
            raise typer.Exit(2)
        key = loaded
    with _bar() as bar:
        task = bar.add_task("hashing", total=None)
        verdict = verify_bundle(
            path, key, lambda done, total: bar.update(task, completed=done, total=total)
        )
    if verdict.failure is not None:
        err.print(f"[red]FAILED[/] {verdict.failure}", highlight=False)
        raise typer.Exit(1)
    out.print(
        f"intact: {verdict.files} files ({verdict.bytes} bytes), {verdict.signatures} "
        f"signatures, {verdict.proofs} proofs; {verdict.recordings} recording(s), "
        f"{verdict.clips} clip(s), {verdict.redactions} redacted copy(ies)"
        + ("" if key is not None else " (checked against the key inside the bundle)"),
        highlight=False,
    )
