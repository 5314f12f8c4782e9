"""`custody fleet …`: officers, cameras and docks."""

from __future__ import annotations

from pathlib import Path

import typer

from custody.cli.common import err, out, refusals, system
from custody.services import fleet

app = typer.Typer(help="Officers, cameras and docks.", no_args_is_help=True)


@app.command("add-officer")
@refusals
def add_officer(
    ctx: typer.Context,
    warrant_number: str = typer.Argument(..., help="Warrant or shoulder number."),
    name: str = typer.Option(..., help="The officer's name."),
    unit: str = typer.Option(..., help="Borough / BCU or team."),
    rank: str = typer.Option("PC", help="Rank."),
) -> None:
    """Add an officer."""
    fleet.add_officer(system(ctx), warrant_number, name=name, unit=unit, rank=rank)
    err.print(f"officer {warrant_number} added")


@app.command("add-camera")
@refusals
def add_camera(
    ctx: typer.Context,
    from_dir: Path | None = typer.Option(None, "--from", help="A camera directory: reads device.json."),
    serial: str | None = typer.Option(None, help="Serial (without --from)."),
    model: str = typer.Option("", help="Model (without --from)."),
    firmware: str = typer.Option("", help="Firmware (without --from)."),
    public_key: str | None = typer.Option(None, help="base64 Ed25519 public key (without --from)."),
    officer: str | None = typer.Option(None, help="Issue it to this officer (warrant number)."),
) -> None:
    """Register a camera and the key its manifests are signed with."""
    if from_dir is not None:
        from custody.camera import CameraStorage

        device = CameraStorage(from_dir).device
        serial, model, firmware = device.serial, device.model, device.firmware
        public_key = device.public_key
        officer = officer or device.officer_id
    if not serial or not public_key:
        raise typer.BadParameter("give --from CAMERA_DIR, or --serial and --public-key")
    fleet.add_camera(
        system(ctx),
        serial=serial,
        model=model or "unknown",
        firmware=firmware or "unknown",
        public_key=public_key,
        officer=officer,
    )
    err.print(f"camera {serial} registered")


@app.command("add-dock")
@refusals
def add_dock(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Dock name, e.g. Hackney-1."),
    station: str | None = typer.Option(None, help="Station (default: the name before its last '-')."),
    bays: int = typer.Option(8, help="Number of bays."),
) -> None:
    """Register a dock; prints its token, alone, on stdout."""
    token = fleet.add_dock(system(ctx), name, station=station, bays=bays)
    out.print(token, soft_wrap=True, highlight=False)
