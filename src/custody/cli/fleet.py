"""`custody fleet …`: officers, cameras and docks; issue, pool, return, retire; CSV import;
the roll-out plan; health alerts.

Each command acts as a named user (`--as USER`, default `admin`, or CUSTODY_USER), checked
and audited as them, like a request to the API. Lists and tables go to stdout; messages
and refusals to stderr.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from custody.cli.common import AsUser, acting, err, out, refusals
from custody.domain.clock import parse_time
from custody.services.answers import MAX_OFFSET, MAX_PAGE, Page
from custody.services.fleet import assignments, importing, registry, rollout, views
from custody.services.fleet import docks as dock_tokens
from custody.services.fleet import health as fleet_health
from custody.services.fleet.answers import Rollout

app = typer.Typer(
    help="Officers, cameras and docks, the roll-out and fleet health.", no_args_is_help=True
)


def _table(title: str, *columns: str, wrap: tuple[str, ...] = ()) -> Table:
    """A plain table; only the `wrap` columns (names, messages) fold on a narrow terminal."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in columns:
        if column in wrap:
            table.add_column(column, overflow="fold", min_width=min(12, len(column) + 4))
        else:
            table.add_column(column, no_wrap=True)
    return table


def _show(table: Table) -> None:
    """Print a table; piped into a file or another program it is not cut at 80 columns."""
    (out if out.is_terminal else Console(width=200)).print(table)


def _next(cursor: str | None) -> None:
    """Say how to ask for the page after this one, if there is one."""
    if cursor is not None:
        err.print(f"more: the next page is --cursor {cursor}")


def _text(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _when(text: str | None) -> str:
    """An ISO time from a service's answer, to the minute (UTC), for a table."""
    return "-" if not text else parse_time(text).strftime("%Y-%m-%d %H:%M")


@app.command("add-officer")
@refusals
def add_officer(
    ctx: typer.Context,
    warrant_number: str = typer.Argument(..., help="Warrant or shoulder number."),
    name: str = typer.Option(..., help="The officer's name."),
    unit: str = typer.Option(..., help="Borough / BCU or team."),
    rank: str = typer.Option("PC", help="Rank."),
    card: str | None = typer.Option(None, help="Warrant card id (RFID), to take pool cameras."),
    as_user: AsUser = "admin",
) -> None:
    """Add an officer."""
    built, principal, actor = acting(ctx, as_user)
    registry.add_officer(
        built, principal, warrant_number, name=name, unit=unit, rank=rank, card_id=card, actor=actor
    )
    err.print(f"officer {warrant_number} added")


@app.command("card")
@refusals
def set_card(
    ctx: typer.Context,
    warrant_number: str = typer.Argument(..., help="Warrant or shoulder number."),
    card: str | None = typer.Argument(None, help="The new card's id (RFID)."),
    clear: bool = typer.Option(False, "--clear", help="The card was lost: stop it working."),
    as_user: AsUser = "admin",
) -> None:
    """Give an officer a card for pool cameras, or clear a lost one."""
    if (card is None) != clear:
        raise typer.BadParameter("give the card's id, or --clear")
    built, principal, actor = acting(ctx, as_user)
    registry.update_officer(
        built, principal, warrant_number, card_id=card, clear_card=clear, actor=actor
    )
    err.print(f"officer {warrant_number}: card {'cleared' if clear else 'set'}")


@app.command("add-camera")
@refusals
def add_camera(
    ctx: typer.Context,
    from_dir: Path | None = typer.Option(
        None, "--from", help="A camera directory: reads device.json."
    ),
    serial: str | None = typer.Option(None, help="Serial (without --from)."),
    model: str = typer.Option("", help="Model (without --from)."),
    firmware: str = typer.Option("", help="Firmware (without --from)."),
    public_key: str | None = typer.Option(None, help="base64 Ed25519 public key (without --from)."),
    officer: str | None = typer.Option(None, help="Issue it to this officer (warrant number)."),
    pool: bool = typer.Option(False, "--pool", help="Put it in --borough's pool."),
    borough: str | None = typer.Option(None, help="The pool's borough (with --pool)."),
    status: str | None = typer.Option(
        None, help="in_stock, issued, in_repair… (default: by issue)"
    ),
    as_user: AsUser = "admin",
) -> None:
    """Register a camera and the key its manifests are signed with."""
    if from_dir is not None:
        from custody.camera import CameraStorage

        device = CameraStorage(from_dir).device
        serial, model, firmware = device.serial, device.model, device.firmware
        public_key = device.public_key
        if not pool:
            officer = officer or device.officer_id
    if not serial or not public_key:
        raise typer.BadParameter("give --from CAMERA_DIR, or --serial and --public-key")
    built, principal, actor = acting(ctx, as_user)
    registry.add_camera(
        built,
        principal,
        serial=serial,
        model=model or "unknown",
        firmware=firmware or "unknown",
        public_key=public_key,
        officer=officer,
        status=status,
        pool=pool,
        borough=borough,
        actor=actor,
    )
    err.print(f"camera {serial} registered")


@app.command("add-dock")
@refusals
def add_dock(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Dock name, e.g. Hackney-1."),
    station: str | None = typer.Option(
        None, help="Station (default: the name before its last '-')."
    ),
    bays: int = typer.Option(8, help="Number of bays."),
    as_user: AsUser = "admin",
) -> None:
    """Register a dock; prints its token, alone, on stdout."""
    built, principal, actor = acting(ctx, as_user)
    registered = registry.add_dock(built, principal, name, station=station, bays=bays, actor=actor)
    out.print(registered.token, soft_wrap=True, highlight=False)


@app.command("revoke-dock")
@refusals
def revoke_dock(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Dock name, e.g. Hackney-1."),
    reason: str = typer.Option(..., help="Why (kept in the audit trail)."),
    as_user: AsUser = "admin",
) -> None:
    """Revoke a dock's token: it uploads and reports nothing more (its footage stays)."""
    built, principal, actor = acting(ctx, as_user)
    dock_tokens.revoke_dock(built, principal, name, reason=reason, actor=actor)
    err.print(f"dock {name}: token revoked")


@app.command("import")
@refusals
def import_file(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A CSV file of officers or of cameras."),
    as_user: AsUser = "admin",
) -> None:
    """Import officers (warrant_number,name,rank,unit) or cameras
    (serial,model,firmware,public_key,status) from CSV: every row, or none."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        err.print(f"[red]error:[/] cannot read {file}: {exc.strerror}")
        raise typer.Exit(2) from None
    try:
        built, principal, actor = acting(ctx, as_user)
        result = importing.import_csv(built, principal, data, actor=actor)
    except importing.ImportRefused as exc:
        table = _table(f"{file.name}: nothing was imported", "row", "column", "problem")
        table.columns[0].justify = "right"
        for failure in exc.failures:
            table.add_row(str(failure.row), _text(failure.column), failure.why)
        err.print(table)
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from None
    err.print(f"imported {result.created} {result.kind} from {file.name}")


@app.command("issue")
@refusals
def issue(
    ctx: typer.Context,
    serial: str = typer.Argument(..., help="The camera's serial."),
    officer: str | None = typer.Argument(None, help="The officer's warrant number."),
    pool: bool = typer.Option(False, "--pool", help="Into --borough's pool instead."),
    borough: str | None = typer.Option(None, help="The pool's borough (with --pool)."),
    as_user: AsUser = "admin",
) -> None:
    """Issue a camera to an officer (personal issue), or into a borough's pool."""
    if pool == (officer is not None):
        raise typer.BadParameter("name the officer, or give --pool --borough BOROUGH")
    built, principal, actor = acting(ctx, as_user)
    if officer is not None:
        assignments.issue(built, principal, serial, officer, actor=actor)
        err.print(f"camera {serial} issued to officer {officer}")
    else:
        assignments.issue_to_pool(built, principal, serial, borough or "", actor=actor)
        err.print(f"camera {serial} is in {borough}'s pool")


@app.command("return")
@refusals
def return_camera(
    ctx: typer.Context,
    serial: str = typer.Argument(..., help="The camera's serial."),
    repair: bool = typer.Option(False, "--repair", help="To repair rather than to stock."),
    reason: str | None = typer.Option(None, help="Why (kept in the audit trail)."),
    as_user: AsUser = "admin",
) -> None:
    """A camera comes back to stock (or goes to repair); a lost one that turned up too."""
    built, principal, actor = acting(ctx, as_user)
    assignments.return_to_stock(built, principal, serial, repair=repair, reason=reason, actor=actor)
    err.print(f"camera {serial} is {'in repair' if repair else 'in stock'}")


@app.command("retire")
@refusals
def retire(
    ctx: typer.Context,
    serial: str = typer.Argument(..., help="The camera's serial."),
    reason: str | None = typer.Option(None, help="Why (kept in the audit trail)."),
    as_user: AsUser = "admin",
) -> None:
    """Retire a camera for good; its history and its footage's provenance stay."""
    built, principal, actor = acting(ctx, as_user)
    assignments.retire(built, principal, serial, reason=reason, actor=actor)
    err.print(f"camera {serial} retired")


@app.command("report-lost")
@refusals
def report_lost(
    ctx: typer.Context,
    serial: str = typer.Argument(..., help="The camera's serial."),
    reason: str | None = typer.Option(None, help="What happened (kept in the audit trail)."),
    as_user: AsUser = "admin",
) -> None:
    """Report a camera lost: if a dock sees it again, that raises an alert."""
    built, principal, actor = acting(ctx, as_user)
    assignments.report_lost(built, principal, serial, reason=reason, actor=actor)
    err.print(f"camera {serial} reported lost")


@app.command("history")
@refusals
def history(
    ctx: typer.Context,
    serial: str | None = typer.Argument(None, help="A camera's serial."),
    officer: str | None = typer.Option(None, help="An officer's warrant number instead."),
    as_user: AsUser = "admin",
) -> None:
    """Who held a camera when (or which cameras an officer held), newest first."""
    built, principal, actor = acting(ctx, as_user)
    found = assignments.history(built, principal, camera=serial, officer=officer, actor=actor)
    table = _table(
        f"assignments of {serial or 'officer ' + (officer or '')}",
        "camera",
        "officer",
        "kind",
        "from",
        "until",
        "ended",
        "by",
        wrap=("officer", "by"),
    )
    for a in found:
        table.add_row(
            a.camera,
            f"{a.officer} {a.officer_name}",
            a.kind,
            _when(a.started_at),
            _when(a.ended_at),
            _text(a.end_reason),
            a.started_by,
        )
    _show(table)


@app.command("officers")
@refusals
def officers(
    ctx: typer.Context,
    unit: str | None = typer.Option(None, help="Only this unit / borough."),
    limit: int = typer.Option(100, min=1, max=MAX_PAGE),
    offset: int = typer.Option(0, min=0, help=f"A first page's offset, at most {MAX_OFFSET}."),
    cursor: str | None = typer.Option(None, help="The page after another: its next cursor."),
    as_user: AsUser = "admin",
) -> None:
    """Officers, with the camera each holds."""
    built, principal, actor = acting(ctx, as_user)
    found = views.list_officers(
        built, principal, unit=unit, page=Page(offset, limit, after=cursor), actor=actor
    )
    table = _table(
        f"officers ({found.total})",
        "warrant",
        "name",
        "rank",
        "unit",
        "card",
        "camera",
        wrap=("name", "unit"),
    )
    for o in found.items:
        table.add_row(
            o.warrant_number,
            o.name,
            o.rank,
            o.unit,
            "yes" if o.has_card else "-",
            _text(o.camera),
        )
    _show(table)
    _next(found.next_cursor)


@app.command("cameras")
@refusals
def cameras(
    ctx: typer.Context,
    status: str | None = typer.Option(None, help="in_stock, issued, in_repair, retired, lost"),
    borough: str | None = typer.Option(None, help="Only cameras serving this borough."),
    limit: int = typer.Option(100, min=1, max=MAX_PAGE),
    offset: int = typer.Option(0, min=0, help=f"A first page's offset, at most {MAX_OFFSET}."),
    cursor: str | None = typer.Option(None, help="The page after another: its next cursor."),
    as_user: AsUser = "admin",
) -> None:
    """Cameras with their health as the docks last reported it."""
    built, principal, actor = acting(ctx, as_user)
    found = views.list_cameras(
        built,
        principal,
        status=status,
        borough=borough,
        page=Page(offset, limit, after=cursor),
        actor=actor,
    )
    table = _table(
        f"cameras ({found.total})",
        "serial",
        "status",
        "holder",
        "borough",
        "firmware",
        "last docked",
        "battery",
        "free",
        wrap=("borough",),
    )
    for c in found.items:
        holder = c.officer or ("pool" if c.pool else None)
        battery = None if c.battery_percent is None else f"{c.battery_percent}%"
        free = None if c.free_bytes is None else f"{c.free_bytes / 1e9:.1f} GB"
        table.add_row(
            c.serial,
            c.status,
            _text(holder),
            _text(c.borough),
            c.firmware,
            _when(c.last_docked_at),
            _text(battery),
            _text(free),
        )
    _show(table)
    _next(found.next_cursor)


@app.command("docks")
@refusals
def docks(
    ctx: typer.Context,
    as_user: AsUser = "admin",
) -> None:
    """Docks and when each was last heard from."""
    built, principal, actor = acting(ctx, as_user)
    found = views.list_docks(built, principal, page=Page(0, MAX_PAGE), actor=actor)
    table = _table(
        f"docks ({found.total})",
        "name",
        "station",
        "bays",
        "last heard",
        "cameras",
        wrap=("station",),
    )
    for d in found.items:
        name = d.name + (" (revoked)" if d.revoked else "")
        table.add_row(
            name,
            d.station,
            str(d.bays),
            _when(d.last_seen_at),
            str(d.cameras_last_docked_here),
        )
    _show(table)


@app.command("plan")
@refusals
def plan(
    ctx: typer.Context,
    borough: str = typer.Argument(..., help="The borough (officers' unit)."),
    phase: int = typer.Option(..., min=1, max=rollout.MAX_PHASE, help="Its phase number."),
    target: str = typer.Option(..., help="Target date, e.g. 2026-12-01."),
    status: str | None = typer.Option(None, help="planned, issuing or complete."),
    as_user: AsUser = "admin",
) -> None:
    """Put a borough in the roll-out plan, or change its phase, target date or status."""
    try:
        when = date.fromisoformat(target)
    except ValueError:
        raise typer.BadParameter("a date like 2026-12-01", param_hint="'--target'") from None
    built, principal, actor = acting(ctx, as_user)
    rollout.set_phase(
        built, principal, borough, phase=phase, target_date=when, status=status, actor=actor
    )
    err.print(f"{borough}: phase {phase}, target {when.isoformat()}")


def _rollout_table(found: Rollout, *, figures: bool) -> Table:
    columns = ["phase", "borough", "target", "status"]
    if figures:
        columns += ["officers", "issued", "equipped", "uploaded", "idle"]
    table = _table(f"roll-out as of {_when(found.as_of)} UTC", *columns, wrap=("borough",))
    for column in table.columns[4:]:
        column.justify = "right"
    for b in found.boroughs:
        if not figures and b.phase is None:
            continue
        status = b.status + (" [red]late[/]" if b.overdue else "")
        row = [_text(b.phase), b.borough, _text(b.target_date), status]
        if figures:
            row += [
                str(b.officers),
                str(b.cameras_issued),
                f"{b.officers_with_camera} {b.equipped_percent}%",
                f"{b.officers_uploaded} {b.uploaded_percent}%",
                str(b.cameras_idle),
            ]
        table.add_row(*row)
    return table


@app.command("phases")
@refusals
def phases(
    ctx: typer.Context,
    as_user: AsUser = "admin",
) -> None:
    """The roll-out plan: each borough's phase, target date and status."""
    built, principal, actor = acting(ctx, as_user)
    _show(_rollout_table(rollout.rollout(built, principal, actor=actor), figures=False))


@app.command("rollout")
@refusals
def show_rollout(
    ctx: typer.Context,
    idle_days: int = typer.Option(
        rollout.DEFAULT_IDLE_DAYS, min=1, max=366, help="No footage for this long is idle."
    ),
    as_user: AsUser = "admin",
) -> None:
    """The roll-out borough by borough: cameras issued, officers equipped and uploading."""
    built, principal, actor = acting(ctx, as_user)
    found = rollout.rollout(built, principal, idle_days=idle_days, actor=actor)
    _show(_rollout_table(found, figures=True))
    t = found.totals
    out.print(
        f"{t.boroughs_complete} of {t.boroughs_planned} planned boroughs complete, "
        f"{t.boroughs_overdue} overdue; {t.officers_with_camera} of {t.officers} "
        f"officers equipped, {t.officers_uploaded} uploading; "
        f"{t.cameras_by_status['in_stock']} cameras in stock",
        highlight=False,
    )


@app.command("health")
@refusals
def health(
    ctx: typer.Context,
    camera_idle_days: int | None = typer.Option(
        None, min=1, help="Alert for cameras not docked this long (default: configured)."
    ),
    dock_silent_hours: int | None = typer.Option(
        None, min=1, help="Alert for docks silent this long (default: configured)."
    ),
    as_user: AsUser = "admin",
) -> None:
    """Alerts: cameras not docked, docks gone silent, old firmware, lost cameras seen."""
    built, principal, actor = acting(ctx, as_user)
    found = fleet_health.alerts(
        built,
        principal,
        camera_idle_days=camera_idle_days,
        dock_silent_hours=dock_silent_hours,
        actor=actor,
    )
    table = _table(
        f"fleet alerts ({found.total})",
        "severity",
        "what",
        "since",
        "message",
        wrap=("what", "message"),
    )
    for a in found.alerts:
        colour = "red" if a.severity == "critical" else "yellow"
        table.add_row(
            f"[{colour}]{a.severity}[/]",
            f"{a.subject} {a.name}",
            _when(a.since),
            a.message,
        )
    _show(table)
    policy = found.policy
    err.print(
        f"cameras alert after {policy.camera_idle_days} days undocked, docks after "
        f"{policy.dock_silent_hours} hours silent"
    )
