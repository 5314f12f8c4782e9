"""`custody fixity` and `custody store migrate|verify`: proving the object store holds the evidence.

Each exits 0 only when every object the database keeps is present and intact (and, for a
verify, every deleted one gone), 1 otherwise, naming each problem.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from custody.cli.common import err, out, refusals, system
from custody.domain.errors import CustodyError
from custody.private import open_private, private_dir
from custody.services.object_keys import open_other_store
from custody.services.objects import fixity, kek_rotation, migration, sealing, verification
from custody.services.objects.answers import ObjectProblem
from custody.services.retention import locks
from custody.services.storage_health import NO_OBJECT_LOCK

app = typer.Typer(
    help="The object store: migrate, verify, seal plaintext, rotate the key-encryption key.",
    no_args_is_help=True,
)


def _show(title: str, problems: list[ObjectProblem]) -> None:
    """One line per object, its full SHA-256 first: easy to read, grep and paste."""
    err.print(f"[red]{title}:[/]")
    for problem in problems:
        err.print(f"{problem.sha256} {problem.outcome}: {problem.detail}", soft_wrap=True)


@refusals
def fixity_command(
    ctx: typer.Context,
    mb_per_second: float | None = typer.Option(
        None, "--mb-per-second", min=0.001, help="Read no faster than this (default: flat out)."
    ),
    as_json: bool = typer.Option(False, "--json", help="The report as JSON on stdout."),
) -> None:
    """Read every stored object back and check its SHA-256 now; exit 1 on any problem.

    The periodic job does the same a slice at a time, at a bounded rate. Problems are kept,
    shown on the administration page and audited; nothing is repaired.
    """
    built = system(ctx)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("checking", total=None)

        def planned(count: int, size: int) -> None:
            progress.update(task, total=size or None, description=f"checking {count} objects")

        def step(_sha: str, read: int) -> None:
            progress.advance(task, read)

        report = fixity.run_fixity(
            built,
            bytes_per_second=mb_per_second * 1e6 if mb_per_second else None,
            progress=step,
            planned=planned,
        )
    rate = report.bytes_read / report.seconds / 1e6 if report.seconds else 0.0
    err.print(
        f"checked {report.checked} object(s), {report.bytes_read / 1e6:.1f} MB in "
        f"{report.seconds:.1f} s ({rate:.1f} MB/s): {report.intact} intact, "
        f"{len(report.problems)} problem(s)"
    )
    if report.problems:
        _show("Objects not proven intact", report.problems)
    if as_json:
        out.print_json(report.model_dump_json())
    if report.problems:
        raise typer.Exit(1)


@app.command("migrate")
@refusals
def migrate(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", help="The target store's URL (file://… or s3://…)."),
    report_path: Path | None = typer.Option(
        None, "--report", help="Where to write the signed report (default: the data dir)."
    ),
) -> None:
    """Copy every object to another store, verifying each copy; a signed report at the end.

    Resumable: run it again after a kill, and objects already copied are verified, not
    copied twice. Exit 0 only when every object is in the target and proven intact.
    """
    built = system(ctx)
    target = open_other_store(built, to)
    try:
        locked = target.object_lock
    except CustodyError:
        locked = True  # said by the migration's first listing, with the store's words
    if not locked:
        err.print(f"[yellow]warning:[/] {to}: {NO_OBJECT_LOCK}", soft_wrap=True)
    stamp = built.clock.now().strftime("%Y%m%dT%H%M%SZ")
    path = report_path or (built.settings.data_dir / "reports" / f"migration-{stamp}.json")
    listing = path.with_name(f"{path.stem}.objects.jsonl")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("migrating", total=None)
        report = migration.migrate_store(
            built,
            target,
            source_name=built.settings.resolved_storage_url,
            target_name=to,
            listing=listing,
            planned=lambda count: progress.update(task, total=count),
            progress=lambda _sha, _outcome: progress.advance(task),
        )
    _write_private(path, json.dumps(report, indent=2, sort_keys=True))
    counts = report["counts"]
    err.print(
        f"{counts['copied']} copied, {counts['verified']} already there and verified, "
        f"{counts['missing']} missing, {counts['changed_at_source']} changed at the source, "
        f"{counts['failed']} failed; signed report: {path}; every object: {listing}",
        soft_wrap=True,
    )
    bad = [
        ObjectProblem(sha256=e["sha256"], outcome=e["outcome"], detail=e["detail"])
        for e in report["problems"]
    ]
    if bad:
        _show("Objects not migrated", bad)
    if not report["complete"]:
        raise typer.Exit(1)
    if locked:
        # Copies carry no retention of their own (S3 copies none): say what locks them.
        err.print(
            "The copies have no Object Lock yet: once CUSTODY_STORAGE_URL names this store, "
            "run `custody store lock --again`.",
            soft_wrap=True,
        )


@app.command("verify")
@refusals
def verify(
    ctx: typer.Context,
    url: str | None = typer.Option(
        None, "--url", help="The store to check (default: the configured one)."
    ),
    as_json: bool = typer.Option(False, "--json", help="The result as JSON on stdout."),
) -> None:
    """Check a store against the database: live objects present and intact, deleted ones gone."""
    built = system(ctx)
    store = built.store if url is None else open_other_store(built, url)
    name = url or built.settings.resolved_storage_url
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("verifying", total=None)
        result = verification.verify_store(
            built,
            store,
            name,
            planned=lambda count: progress.update(task, total=count),
            progress=lambda _sha: progress.advance(task),
        )
    err.print(
        f"{name}: {result.intact} of {result.live} live object(s) intact; "
        f"{result.deleted_checked} deleted object(s) checked; {len(result.differences)} "
        f"difference(s); {result.unreferenced_total} object(s) nobody names"
    )
    if result.differences:
        _show("Differences from the database", result.differences)
    if as_json:
        out.print_json(result.model_dump_json())
    if result.differences:
        raise typer.Exit(1)


@app.command("seal")
@refusals
def seal(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="The report as JSON on stdout."),
) -> None:
    """Seal in place the objects stored before encryption at rest was turned on.

    Each is sealed, proven, and only then put in place of its plaintext; killed half-way,
    nothing is lost and the next run finishes. Exit 0 only when none is left in plaintext.
    """
    built = system(ctx)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("sealing", total=None)
        report = sealing.seal_plaintext_objects(
            built,
            planned=lambda count: progress.update(task, total=count),
            progress=lambda _sha, _outcome: progress.advance(task),
        )
    err.print(
        f"{report.sealed} object(s) sealed; {report.remaining} left in plaintext; "
        f"{len(report.problems)} problem(s)"
    )
    if report.plaintext_versions_kept:
        err.print(
            f"{len(report.plaintext_versions_kept)} object(s) sealed whose older plaintext "
            "version Object Lock keeps until the object is due (every version goes then):"
        )
        for sha in report.plaintext_versions_kept:
            err.print(sha, soft_wrap=True)
    if report.problems:
        _show("Objects not sealed", report.problems)
    if as_json:
        out.print_json(report.model_dump_json())
    if not report.complete:
        raise typer.Exit(1)


@app.command("rotate-kek")
@refusals
def rotate_kek(
    ctx: typer.Context,
    to_label: str | None = typer.Option(
        None, "--to-label", help="With an HSM: the label of the new key on the same token."
    ),
    as_json: bool = typer.Option(False, "--json", help="The report as JSON on stdout."),
) -> None:
    """Wrap every data key by a new key-encryption key, then retire the old one.

    With a key file, the new key is made beside it; with an HSM, name a key made on the
    token. Resumable: run it again after a kill. The objects themselves are not rewritten.
    """
    built = system(ctx)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("wrapping data keys again", total=None)
        report = kek_rotation.rotate_kek(
            built,
            to_label=to_label,
            planned=lambda count: progress.update(task, total=count),
            progress=lambda count: progress.advance(task, count),
        )
    err.print(f"{report.rewrapped} data key(s) wrapped again: {report.from_kek} -> {report.to_kek}")
    err.print(report.retired, soft_wrap=True)
    if as_json:
        out.print_json(report.model_dump_json())


@app.command("lock")
@refusals
def lock(
    ctx: typer.Context,
    again: bool = typer.Option(
        False,
        "--again",
        help="The store changed (a migration): tell it about every object, not only changes.",
    ),
) -> None:
    """Tell the store's Object Lock what Custody's retention asks now (the daily job, run now).

    After switching CUSTODY_STORAGE_URL to the target of a migration, run it with --again:
    the copies carry no retention until the store is told.
    """
    built = system(ctx)
    if not built.store.object_lock:
        err.print(f"[yellow]warning:[/] {NO_OBJECT_LOCK}", soft_wrap=True)
        return
    if again:
        err.print(f"{locks.tell_again(built)} recording(s) to tell the store about again")
    renewal = locks.renew_locks(built)
    err.print(
        f"{renewal.considered} recording(s) read; the store told about {renewal.told} object(s)"
    )


def _write_private(path: Path, text: str) -> None:
    private_dir(path.parent)
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as out_file:
        out_file.write(text)
        out_file.flush()
        os.fsync(out_file.fileno())
