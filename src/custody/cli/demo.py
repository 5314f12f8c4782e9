"""`custody demo`: a force mid roll-out, served, and a shift of cameras docked with footage."""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import typer
import uvicorn
from rich.panel import Panel
from rich.progress import Progress
from rich.table import Table

from custody.bootstrap import build_system
from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from custody.cli.common import err, settings
from custody.demo.force import (
    BOROUGHS,
    DEMO_PASSWORD,
    POOL_BOROUGH,
    DemoForce,
    Login,
    seed_force,
    take_pool_cameras,
)
from custody.demo.shift import dock_cameras, record_shift
from custody.dock.agent import DockAgent
from custody.jobs.consumer import ThreadConsumer
from custody.services.identity.setup import ADMIN, ensure_admin
from custody.services.identity.users import principal_named
from custody.services.system import NoJobs, System

BAYS_PER_DOCK = 8


def demo_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to serve on."),
    port: int = typer.Option(8000, help="Port to serve on."),
    fresh: bool = typer.Option(False, "--fresh", help="Delete the demo data and start again."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep serving after the shift."),
    seed: int = typer.Option(2016, help="Random seed: the same seed makes the same force."),
) -> None:
    """Seed a small force, start the server, dock a shift of cameras, print the logins."""
    config = settings(ctx)
    demo_dir = config.data_dir / "demo"
    if fresh and config.data_dir.exists():
        shutil.rmtree(config.data_dir)
    rng = random.Random(seed)
    state_file = demo_dir / "force.json"
    if state_file.exists():
        force = _load(state_file)
        system = build_system(config)
        err.print(f"Using the demo force in [bold]{config.data_dir}[/]")
    else:
        if (config.data_dir / "custody.db").exists():
            err.print(
                f"[red]error:[/] {config.data_dir} holds a Custody installation that is "
                "not a demo; use another CUSTODY_DATA_DIR or --fresh"
            )
            raise typer.Exit(2)
        system = build_system(config, create=True, jobs=NoJobs())
        ensure_admin(system, DEMO_PASSWORD)
        with err.status("Seeding a force mid roll-out: boroughs, officers, cameras, docks…"):
            force = seed_force(system, principal_named(system, ADMIN), demo_dir / "cameras", rng)
        _save(state_file, force)
        system.engine.dispose()
        system = build_system(config)

    server, thread, consumer = _start(system, host, port)
    url = f"http://{host}:{port}"
    try:
        _shift(system, force, demo_dir, url, rng)
        _welcome(url, force.logins, serving=serve)
        if serve:
            while thread.is_alive():
                thread.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        consumer.stop()


def _start(
    system: System, host: str, port: int
) -> tuple[uvicorn.Server, threading.Thread, ThreadConsumer]:
    from custody.jobs.queue import start_in_process_consumer
    from custody.web.app import create_app

    consumer = start_in_process_consumer(system, workers=2)
    config = uvicorn.Config(create_app(system), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="custody-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{host}:{port}/api/v1/health", timeout=1).status_code == 200:
                return server, thread, consumer
        except httpx.TransportError:
            time.sleep(0.1)
    consumer.stop()
    err.print(f"[red]error:[/] the server did not start on {host}:{port} (is the port in use?)")
    raise typer.Exit(1)


def _shift(system: System, force: DemoForce, demo_dir: Path, url: str, rng: random.Random) -> None:
    cameras = {serial: Path(path) for serial, path in force.cameras.items()}
    # Each dock takes the cameras of its own borough's officers (serial BWV-<borough><n>).
    # Personal cameras dock at their borough's dock; the pool lives in Lambeth-1's bays.
    docks = [name for name in force.docks if not name.startswith(POOL_BOROUGH)]
    by_dock = {
        name: dict(
            [
                (s, p)
                for s, p in cameras.items()
                if s.startswith(f"BWV-{BOROUGHS.index(name.split('-')[0]) + 1}")
            ][:BAYS_PER_DOCK]
        )
        for name in docks
    }
    docking = {serial: path for mine in by_dock.values() for serial, path in mine.items()}
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("Officers on shift, recording incidents", total=len(docking) * 2)
        made = record_shift(
            docking, system.clock.now(), rng, progress=lambda n: progress.advance(task, 1)
        )
    err.print(f"{len(docking)} cameras recorded {made} incidents; docking them now")
    for name in docks:
        bays = [demo_dir / "docks" / name / f"bay-{n + 1}" for n in range(BAYS_PER_DOCK)]
        for bay in bays:
            bay.mkdir(parents=True, exist_ok=True)
        for serial, bay in dock_cameras(by_dock[name], bays):
            force.cameras[serial] = bay
        with DockAgent(url, force.docks[name], bays, progress=True, console=err) as agent:
            result = agent.run_once()
        err.print(f"[bold]{name}[/]: {result.summary()}")
    _pool_shift(system, force, demo_dir, url, rng)
    _save(demo_dir / "force.json", force)


def _pool_shift(
    system: System, force: DemoForce, demo_dir: Path, url: str, rng: random.Random
) -> None:
    """Lambeth: officers took pool cameras by card, recorded, and docked them again."""
    name = f"{POOL_BOROUGH}-1"
    if name not in force.docks or not force.pool:
        return  # a demo seeded before the pool existed
    bays = [demo_dir / "docks" / name / f"bay-{n + 1}" for n in range(BAYS_PER_DOCK)]
    for bay in bays:
        bay.mkdir(parents=True, exist_ok=True)
    for serial, bay in dock_cameras(
        {s: p for s, p in force.pool.items() if p.parent.name != name}, bays
    ):
        force.pool[serial] = bay
    admin = principal_named(system, ADMIN)
    taken = take_pool_cameras(system, admin, force, force.docks[name], rng)
    if not taken:
        err.print(f"{name}: the pool cameras came back less than a shift ago; none went out")
    for serial, warrant, since in taken:
        camera_dir = force.pool[serial]
        # The camera records what its dock programmed into it: the officer who took it.
        simulate_camera(
            camera_dir,
            serial=serial,
            officer_id=CameraStorage(camera_dir).device.officer_id,
            recordings=2,
            duration=rng.choice((60, 120, 300)),
            start=since + timedelta(minutes=rng.randint(20, 90)),
            gap=timedelta(minutes=rng.randint(60, 150)),
        )
        err.print(f"{name}: officer {warrant} took pool camera {serial} by card")
    with DockAgent(url, force.docks[name], bays, progress=True, console=err) as agent:
        result = agent.run_once()
    err.print(f"[bold]{name}[/] (pool): {result.summary()}")


def _welcome(url: str, logins: list[Login], *, serving: bool) -> None:
    table = Table(title=f"Demo logins (password for all: {DEMO_PASSWORD})")
    table.add_column("username")
    table.add_column("role")
    table.add_column("sees")
    for login in logins:
        table.add_row(login.username, login.role, login.what)
    err.print(table)
    if not serving:
        # --no-serve: the shift is done and the server stops with this command.
        err.print(f"The demo force is in place; `custody serve` serves it at {url}/.")
        return
    err.print(
        Panel.fit(
            f"Portal: [bold]{url}/[/]\nFleet roll-out: {url}/fleet/rollout\n"
            f"API docs: {url}/api/v1/docs\nPress Ctrl-C to stop.",
            title="Custody is running",
        )
    )


def _save(path: Path, force: DemoForce) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "officers": force.officers,
                "cameras": {serial: str(p) for serial, p in force.cameras.items()},
                "docks": force.docks,
                "logins": [login.__dict__ for login in force.logins],
                "pool": {serial: str(p) for serial, p in force.pool.items()},
                "cards": force.cards,
            },
            indent=2,
        )
    )


def _load(path: Path) -> DemoForce:
    data = json.loads(path.read_text())
    return DemoForce(
        officers=data["officers"],
        cameras={serial: Path(p) for serial, p in data["cameras"].items()},
        docks=data["docks"],
        logins=[Login(**login) for login in data["logins"]],
        pool={serial: Path(p) for serial, p in data.get("pool", {}).items()},
        cards=data.get("cards", {}),
    )
