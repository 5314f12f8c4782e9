"""`custody audit …`: verify the log, publish checkpoints, print and check proofs.

`check-proof` needs no database and no installation: a third party (a court's
expert, a defence lawyer) runs it on a proof file with the server's public key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

from custody.cli.common import err, refusals, system
from custody.domain import signing
from custody.domain.errors import SignatureInvalid

app = typer.Typer(help="The audit trail: verify it, checkpoint it, prove it.", no_args_is_help=True)


def _print_json(document: object) -> None:
    # Plain text, never wrapped or coloured: the output is a file for other programs.
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


@app.command("verify")
@refusals
def verify(
    ctx: typer.Context,
    since_last: bool = typer.Option(
        False,
        "--since-last",
        help="Check only what is new since the last checkpoint an earlier verify found intact.",
    ),
) -> None:
    """Recompute every event's hash and every checkpoint; exit 1 naming the first bad event."""
    from custody.services.audit_trail import trail

    running = system(ctx)
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("verifying the audit log", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = trail.verify(
            running, advance, since_last=since_last, record_as="custody audit verify"
        )
    if report.intact:
        err.print(
            f"[green]intact:[/] {report.events} events chained, "
            f"{report.checkpoints} signed checkpoint(s) recomputed"
            + (f" (after event {report.skipped}, verified before)" if report.skipped else "")
        )
        return
    first = report.first
    if first is not None and first.seq is not None:
        err.print(f"[red]TAMPERED:[/] first bad event: {first.seq}")
    for fault in report.faults:
        err.print(f"[red]  {fault.problem}[/]")
    err.print(f"({report.events} events before it fit)")
    raise typer.Exit(1)


@app.command("checkpoint")
@refusals
def checkpoint(ctx: typer.Context) -> None:
    """Sign and publish a checkpoint over the log now (prints it as JSON)."""
    from custody.services.audit_trail import trail

    published = trail.publish_checkpoint(system(ctx))
    if published is None:
        err.print("no event since the last checkpoint: nothing to sign")
        return
    _print_json(published.model_dump())
    err.print(f"checkpoint {published.id} over {published.size} events published")


@app.command("proof")
@refusals
def proof(
    ctx: typer.Context,
    event_id: int = typer.Argument(..., help="The event's sequence number."),
    checkpoint_id: int = typer.Option(None, "--checkpoint", help="Default: the latest."),
) -> None:
    """Print a proof that an event is in the log, which anyone can check without the database."""
    from custody.services.audit_trail import trail

    document = trail.inclusion_proof(system(ctx), event_id, checkpoint_id=checkpoint_id)
    _print_json(document.model_dump())


@app.command("consistency")
@refusals
def consistency(
    ctx: typer.Context,
    old_id: int = typer.Argument(..., help="The older checkpoint's id."),
    new_id: int = typer.Option(None, "--to", help="The newer checkpoint's id (default: latest)."),
) -> None:
    """Print a proof that a newer checkpoint extends an older one."""
    from custody.services.audit_trail import trail

    _print_json(trail.consistency_proof(system(ctx), old_id, new_id=new_id).model_dump())


@app.command("check-proof")
def check_proof(
    file: Path = typer.Argument(..., help="A proof (JSON); - for standard input."),
    public_key: str = typer.Option(
        None,
        help="The server's public key (base64), obtained independently: GET /api/v1/server-key.",
    ),
) -> None:
    """Check an inclusion or consistency proof, with no database: exit 0 when it holds."""
    from custody.audit.proofs import check_proof as check

    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
        key = signing.load_public_key(public_key) if public_key else None
    except (json.JSONDecodeError, SignatureInvalid) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if not isinstance(document, dict):
        err.print("[red]error:[/] a proof is a JSON object")
        raise typer.Exit(2)
    result = check(document, key)
    for step, held in result.steps:
        err.print(f"  {'[green]ok[/]  ' if held else '[red]FAIL[/]'} {step}")
    if key is None:
        err.print(
            "[yellow]note:[/] checked against the key inside the file; pass --public-key "
            "to prove it came from the server"
        )
    if not result.ok:
        err.print("[red]the proof does not hold[/]")
        raise typer.Exit(1)
    err.print("[green]the proof holds[/]")


@app.command("report")
@refusals
def report(
    ctx: typer.Context,
    recording_id: str = typer.Argument(...),
    as_user: str = typer.Option(..., "--as", help="Who prints it: their access rules apply."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the PDF."),
) -> None:
    """Write the PDF audit trail (continuity record) of a recording; the printing is audited."""
    from custody.services.audit_trail import trail
    from custody.services.identity import users

    running = system(ctx)
    principal = users.principal_named(running, as_user)
    pdf = trail.recording_report(
        running, principal, recording_id, principal.actor(None, "custody-cli")
    )
    output.write_bytes(pdf)
    err.print(f"audit trail of {recording_id} written to {output}")
