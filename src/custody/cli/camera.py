"""`custody camera`: simulated body-worn cameras that write real, signed footage."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from custody.camera.footage import MAX_VIDEO_BITRATE, MIN_VIDEO_BITRATE
from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraRecording
from custody.domain.clock import isoformat, parse_time
from custody.domain.errors import CustodyError
from custody.domain.manifest import MAX_RECORDING_SECONDS

app = typer.Typer(
    help="Simulated body-worn cameras in the open on-camera format (docs/camera-format.md).",
    no_args_is_help=True,
)

BITRATE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


@app.callback()
def _group() -> None:
    """Simulated body-worn cameras in the open on-camera format."""
    # A callback keeps `simulate` a sub-command even while it is the only one.


@app.command()
def simulate(
    directory: Annotated[Path, typer.Argument(help="The camera directory (created if absent).")],
    serial: Annotated[str, typer.Option(help="The camera's serial number.")],
    officer: Annotated[str, typer.Option(help="The officer the camera is issued to.")],
    recordings: Annotated[int, typer.Option(help="How many recordings to make.")],
    duration: Annotated[float, typer.Option(help="Seconds of footage per recording.")],
    start: Annotated[
        str | None,
        typer.Option(help="ISO 8601 start of the first recording (default: the last ends now)."),
    ] = None,
    gap: Annotated[float, typer.Option(help="Seconds between recordings.")] = 1200.0,
    model: Annotated[str, typer.Option(help="The camera model.")] = "Custody SimCam 1",
    firmware: Annotated[str, typer.Option(help="The firmware version.")] = "1.4.2",
    battery: Annotated[int, typer.Option(help="Battery charge in percent.")] = 80,
    video_bitrate: Annotated[
        str | None,
        typer.Option(help="Constant video bitrate, e.g. 28M or 800k, for files of a chosen size."),
    ] = None,
    say: Annotated[
        list[str] | None,
        typer.Option(
            help="A phrase each recording speaks (espeak-ng), after a 2 s silent pre-event "
            "buffer; repeat for more. The recording lasts as long as its words; what was said "
            "when is written beside it (<id>.speech.json)."
        ),
    ] = None,
) -> None:
    """Write a camera directory with real H.264/AAC footage and signed manifests."""
    if recordings < 0:
        raise typer.BadParameter("must be 0 or more", param_hint="'--recordings'")
    if not 0 < duration <= MAX_RECORDING_SECONDS:
        raise typer.BadParameter(
            f"must be more than 0 and at most {MAX_RECORDING_SECONDS} seconds",
            param_hint="'--duration'",
        )
    if gap < 0:
        raise typer.BadParameter("must not be negative", param_hint="'--gap'")
    if not 0 <= battery <= 100:
        raise typer.BadParameter("must be from 0 to 100", param_hint="'--battery'")
    for value, hint in ((serial, "'--serial'"), (officer, "'--officer'")):
        if not value.strip():
            raise typer.BadParameter("must not be empty", param_hint=hint)
    started = None
    if start is not None:
        try:
            started = parse_time(start)
        except ValueError:
            raise typer.BadParameter(
                "must be an ISO 8601 time, e.g. 2024-05-01T08:00:00Z", param_hint="'--start'"
            ) from None
    bitrate = None if video_bitrate is None else _bitrate(video_bitrate)
    console = Console()
    try:
        made = _record_with_progress(
            console,
            directory,
            serial=serial,
            officer_id=officer,
            recordings=recordings,
            duration=duration,
            start=started,
            model=model,
            firmware=firmware,
            battery_percent=battery,
            gap=timedelta(seconds=gap),
            video_bitrate=bitrate,
            speech=[phrase for phrase in say or () if phrase.strip()] or None,
        )
    except CustodyError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    # Narrow enough for an 80-column terminal with the ids whole: they get copied and pasted.
    table = Table(title=f"camera {serial}", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("recording", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("bytes", justify="right", no_wrap=True)
    for recording in made:
        manifest = recording.manifest
        table.add_row(
            manifest.recording_id,
            isoformat(manifest.started_at),
            f"{manifest.duration_seconds:g}",
            f"{manifest.size:,}",
        )
    console.print(table)


def _record_with_progress(
    console: Console, directory: Path, *, serial: str, recordings: int, **options: Any
) -> list[CameraRecording]:
    """Run the simulator with a Rich progress bar counting finished recordings."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"Recording on {serial}", total=recordings)
        return simulate_camera(
            directory,
            serial=serial,
            recordings=recordings,
            progress=lambda done: progress.update(task, completed=done),
            **options,
        )


def _bitrate(text: str) -> int:
    """Bits per second from `28M`, `800k` or `2000000`."""
    match = BITRATE.match(text.strip())
    if match is None:
        raise typer.BadParameter(
            "must be bits per second, e.g. 28M, 800k or 2000000", param_hint="'--video-bitrate'"
        )
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    bits = int(float(match.group(1)) * scale)
    if not MIN_VIDEO_BITRATE <= bits <= MAX_VIDEO_BITRATE:
        raise typer.BadParameter(
            f"must be from {MIN_VIDEO_BITRATE:,} to {MAX_VIDEO_BITRATE:,} bits per second",
            param_hint="'--video-bitrate'",
        )
    return bits
