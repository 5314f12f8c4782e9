"""`custody dock`: the dock agent, run on the PC the camera bays are plugged into."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from custody.dock import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_CHUNK_SIZE, Backoff, DockAgent
from custody.dock.backoff import RETRY_ATTEMPTS, RETRY_BASE, RETRY_CAP
from custody.dock.errors import Transient
from custody.domain.errors import CustodyError


def dock_command(
    server: Annotated[
        str,
        typer.Option(envvar="CUSTODY_DOCK_SERVER", help="The Custody server's URL."),
    ],
    bay: Annotated[
        list[Path],
        typer.Option(help="A bay directory a camera docks into; repeat for each bay."),
    ],
    token: Annotated[
        str | None,
        typer.Option(
            envvar="CUSTODY_DOCK_TOKEN",
            show_default=False,
            help="This dock's token (better from CUSTODY_DOCK_TOKEN: command lines are public).",
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(envvar="CUSTODY_DOCK_TOKEN_FILE", help="A file holding the dock token."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Ship what is docked now, then exit.")
    ] = False,
    parallel: Annotated[int, typer.Option(min=1, max=64, help="Uploads at a time.")] = 2,
    chunk_size: Annotated[
        int, typer.Option(min=64 * 1024, help="Bytes of the first upload request.")
    ] = DEFAULT_CHUNK_SIZE,
    max_chunk_size: Annotated[
        int,
        typer.Option(
            min=64 * 1024,
            help="Bytes an upload request may grow to while the server answers quickly "
            "(the same as --chunk-size: every request that size).",
        ),
    ] = DEFAULT_MAX_CHUNK_SIZE,
    poll: Annotated[float, typer.Option(min=0.1, help="Seconds between looks at the bays.")] = 5.0,
    server_key: Annotated[
        str | None,
        typer.Option(
            envvar="CUSTODY_DOCK_SERVER_KEY",
            help="Pin the server's receipt key (base64 Ed25519) instead of asking the server.",
        ),
    ] = None,
    retry_base: Annotated[
        float, typer.Option(min=0.0, help="First retry delay, seconds.")
    ] = RETRY_BASE,
    retry_cap: Annotated[
        float, typer.Option(min=0.0, help="Longest retry delay, seconds.")
    ] = RETRY_CAP,
    attempts: Annotated[
        int, typer.Option(min=1, help="Failures in a row before a recording waits for later.")
    ] = RETRY_ATTEMPTS,
) -> None:
    """Upload docked cameras' footage and free their space once the server's receipt verifies."""
    console = Console()
    err = Console(stderr=True)
    secret = _token(token, token_file, err)
    _logging(console)
    for path in bay:
        if not path.is_dir():
            err.print(f"[yellow]warning:[/] bay {path} does not exist (yet)")
    try:
        backoff = Backoff(base=retry_base, cap=max(retry_cap, retry_base), attempts=attempts)
        agent = DockAgent(
            server,
            secret,
            bay,
            parallel=parallel,
            chunk_size=chunk_size,
            max_chunk_size=max(max_chunk_size, chunk_size),
            server_key=server_key,
            backoff=backoff,
            progress=True,
            console=console,
        )
    except (CustodyError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    stop = threading.Event()
    with agent, _stop_on_signals(stop):
        if once:
            result = agent.run_once(stop)
            console.print(result.summary(), highlight=False, markup=False, soft_wrap=True)
            if not result.ok:
                raise typer.Exit(1)
        else:
            agent.run_forever(poll, stop)


def _token(token: str | None, token_file: Path | None, err: Console) -> str:
    """The dock token from the option, the variable or the file; never echoed."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            err.print(f"[red]error:[/] cannot read the token file: {exc.strerror}")
            raise typer.Exit(2) from None
    if not token:
        err.print("[red]error:[/] give the dock token in CUSTODY_DOCK_TOKEN or --token-file")
        raise typer.Exit(2)
    return token


def _logging(console: Console) -> None:
    """Log lines above the progress bars on a terminal; plain timestamped lines elsewhere."""
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    dock_log = logging.getLogger("custody.dock")
    dock_log.handlers[:] = [handler]
    dock_log.setLevel(logging.INFO)
    dock_log.propagate = False


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """The first SIGINT or SIGTERM asks for a clean stop; a second one stops at once.

    Stopping at once loses nothing either: the server drops a chunk that did not arrive
    whole (it carries a checksum) and keeps its offset; the camera keeps its footage.
    """

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            sys.stderr.write(f"{name} again: stopping now, mid-chunk\n")
            sys.stderr.flush()
            os._exit(128 + signum)
        logging.getLogger("custody.dock").warning(
            "%s: finishing the chunks in flight, then stopping (again to stop at once)", name
        )
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def checkout_command(
    server: Annotated[
        str,
        typer.Option(envvar="CUSTODY_DOCK_SERVER", help="The Custody server's URL."),
    ],
    bay: Annotated[Path, typer.Option(help="The bay holding the pool camera to take.")],
    card: Annotated[
        str, typer.Option(help="The officer's card id, as the dock's card reader read it.")
    ],
    token: Annotated[
        str | None,
        typer.Option(
            envvar="CUSTODY_DOCK_TOKEN",
            show_default=False,
            help="This dock's token (better from CUSTODY_DOCK_TOKEN: command lines are public).",
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(envvar="CUSTODY_DOCK_TOKEN_FILE", help="A file holding the dock token."),
    ] = None,
) -> None:
    """An officer presents their card: assign them the pool camera in BAY and program it."""
    console = Console()
    err = Console(stderr=True)
    secret = _token(token, token_file, err)
    try:
        with DockAgent(server, secret, [bay]) as agent:
            taken = agent.checkout(card, bay)
    except CustodyError as exc:
        err.print(f"[red]refused:[/] {exc.message}")
        raise typer.Exit(1) from None
    except Transient as exc:
        err.print(f"[red]error:[/] the server did not answer: {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"camera {taken.camera} is now officer {taken.officer}'s"
        + (f" ({taken.officer_name})" if taken.officer_name else "")
        + " "
        "until it is docked again",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
