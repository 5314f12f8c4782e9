"""Screenshots of the review portal for the README: a small demo force, served, photographed.

    python -m custody.tools.screenshots docs/screenshots     (or: make screenshots)

It seeds the demo force of `custody demo` in a temporary data directory, with a
clock that can be set back so that the force has a history: Camden's footage of a
shift 26 days ago is pending deletion, Hackney docked yesterday's shift, and today
Hackney and Camden dock their cameras (the demo force's own fleet troubles stay).
People then do what they do (an officer categorises and bookmarks, an investigator
opens a case and flags evidence) through the same services the portal calls, and
Debian's Chromium takes 1366x768 pictures of the main pages, saved as small PNGs.

With Debian's `espeak-ng` (`make espeak`) the officer's camera also records a short stop
with words spoken, transcribed by the worker: its transcript beside the player, and the
redaction editor with words chosen there to mute and a box previewed, are photographed too.
Without it those two pictures are left as they are.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from PIL import Image
from sqlalchemy import func, select

from custody.bootstrap import build_system
from custody.camera.simulator import simulate_camera
from custody.camera.speech import voice_available
from custody.camera.storage import CameraStorage
from custody.config import Settings
from custody.db.models import Recording
from custody.db.models.speech import Transcript
from custody.demo.force import DEMO_PASSWORD, DemoForce, seed_force
from custody.demo.shift import dock_cameras
from custody.dock.agent import DockAgent
from custody.services.evidence import annotations as notes
from custody.services.evidence import cases, categories, complaints, flags, holds
from custody.services.identity import users
from custody.services.identity.setup import ADMIN, ensure_admin
from custody.services.speech import transcripts
from custody.services.system import System

CHROMIUM = os.environ.get("CUSTODY_CHROMIUM", "/usr/bin/chromium")
# Headless, offline and quiet: no network beyond the server under test.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: Any = {"width": 1366, "height": 768}
BAYS = 8
CASE_REFERENCE = "CAD 2291/26OCT"
COMPLAINT = "CO-2026-0142"
# What the officer says at the stop that is transcribed (and a bystander's name to mute).
SPOKEN = (
    "Police officer, stop where you are.",
    "Put the knife down on the ground now.",
    "Sarah, step back from him please.",
    "You are under arrest for assault.",
)
INVESTIGATION = f"Robbery at the Mare Street bus stop, {CASE_REFERENCE}"
logger = logging.getLogger(__name__)


class ShiftedClock:
    """Wall-clock time moved by `offset`: set back to seed a history, then set to zero."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Scene:
    """A served demo force and what happened in it."""

    system: System
    url: str
    force: DemoForce
    officer_recordings: list[str] = field(default_factory=list)
    case_id: int = 0
    busy_camera: str = ""  # the officer's own camera, with the longest history
    spoken: str = ""  # a recording with words in it, transcribed ("" without espeak-ng)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(system: System, port: int) -> Iterator[str]:
    """The app and an in-process job worker on 127.0.0.1:`port`, as `custody serve` runs."""
    from custody.jobs.queue import start_in_process_consumer
    from custody.web.app import create_app

    consumer = start_in_process_consumer(system, workers=2, periodic=False)
    config = uvicorn.Config(create_app(system), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="custody-screenshots", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        consumer.stop()


def _shift(
    cameras: dict[str, Path],
    shift_end: datetime,
    rng: random.Random,
    busy: str | None = None,
) -> None:
    """Each camera records an incident or a few in the eight hours before `shift_end`."""
    for serial, camera_dir in cameras.items():
        count = 4 if serial == busy else rng.randint(1, 3)
        start = shift_end - timedelta(hours=8) + timedelta(minutes=rng.randint(5, 60))
        simulate_camera(
            camera_dir,
            serial=serial,
            officer_id=CameraStorage(camera_dir).device.officer_id,
            recordings=count,
            duration=rng.choice((45, 60, 90, 120)),
            start=start,
            gap=timedelta(minutes=rng.randint(35, 80)),
        )


def _dock(url: str, token: str, cameras: dict[str, Path], bays_dir: Path) -> None:
    bays = [bays_dir / f"bay-{n + 1}" for n in range(BAYS)]
    for bay in bays:
        bay.mkdir(parents=True, exist_ok=True)
    # Cameras already in one of this dock's bays stay there; the others take free bays.
    away = {s: p for s, p in cameras.items() if p.parent != bays_dir}
    cameras.update(dict(dock_cameras(away, bays)))
    with DockAgent(url, token, bays) as agent:
        result = agent.run_once()
    if not result.ok:
        raise RuntimeError(f"docking failed: {result.summary()}")


def _settled(system: System, timeout: float = 300) -> None:
    """Wait until the worker has probed every recording and made its strip."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with system.unit_of_work() as uow:
            waiting = uow.session.scalar(
                select(func.count())
                .select_from(Recording)
                .where(
                    (Recording.state == "stored")
                    | ((Recording.state == "playable") & Recording.preview_sha256.is_(None))
                )
            )
        if not waiting:
            return
        time.sleep(0.5)
    raise RuntimeError("the worker did not finish probing the footage")


def _borough(force: DemoForce, number: int) -> dict[str, Path]:
    return {s: p for s, p in force.cameras.items() if s.startswith(f"BWV-{number}")}


@contextmanager
def scene(data_dir: Path) -> Iterator[Scene]:
    """The demo force with a month of footage behind it, served on a free port."""
    clock = ShiftedClock()
    settings = Settings(data_dir=data_dir)
    system = build_system(settings, create=True, clock=clock)
    ensure_admin(system, DEMO_PASSWORD)
    rng = random.Random(2016)
    admin = users.principal_named(system, ADMIN)
    force = seed_force(system, admin, data_dir / "cameras", rng)
    officer = users.get_user(system, admin, "officer").officer or ""
    # Demo serials follow warrant numbers: officer 1002HA carries camera BWV-1002.
    busy = f"BWV-{officer[:4]}"
    hackney = dict(list(_borough(force, 1).items())[:BAYS])
    camden = dict(list(_borough(force, 2).items())[:BAYS])
    docks = data_dir / "docks"
    with serving(system, free_port()) as url:
        # 26 days ago Camden docked a shift: what nobody categorised is due for deletion.
        clock.offset = -timedelta(days=26)
        _shift(camden, clock.now() - timedelta(hours=1), rng)
        _dock(url, force.docks["Camden-1"], camden, docks / "Camden-1")
        # Yesterday Hackney docked; today Hackney and Camden come off shift.
        clock.offset = -timedelta(days=1)
        _shift(hackney, clock.now() - timedelta(hours=2), rng)
        _dock(url, force.docks["Hackney-1"], hackney, docks / "Hackney-1")
        clock.offset = timedelta(0)
        _shift(hackney, clock.now() - timedelta(minutes=20), rng, busy=busy)
        _shift(camden, clock.now() - timedelta(minutes=20), rng)
        spoken = _spoken(hackney[busy], busy, clock.now() - timedelta(minutes=15))
        _dock(url, force.docks["Hackney-1"], hackney, docks / "Hackney-1")
        _dock(url, force.docks["Camden-1"], camden, docks / "Camden-1")
        _settled(system)
        done = Scene(system, url, force, busy_camera=busy, spoken=spoken)
        _people_at_work(done)
        yield done


def _spoken(camera_dir: Path, serial: str, start: datetime) -> str:
    """A short stop with words spoken in it (espeak-ng), its recording id; "" without it."""
    if not voice_available():
        logger.warning("espeak-ng is missing: no transcript or redaction pictures")
        return ""
    (made,) = simulate_camera(
        camera_dir,
        serial=serial,
        officer_id=CameraStorage(camera_dir).device.officer_id,
        recordings=1,
        duration=1,
        start=start,
        speech=SPOKEN,
    )
    return made.manifest.recording_id


def _transcribed(system: System, recording_id: str, timeout: float = 300) -> None:
    """Wait for the worker to write down what was said."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with system.unit_of_work() as uow:
            state = uow.session.scalar(
                select(Transcript.state).where(Transcript.recording_id == recording_id)
            )
        if state not in (None, "transcribing"):
            if state != "complete":
                raise RuntimeError(f"the transcription ended {state}")
            return
        time.sleep(0.5)
    raise RuntimeError("the worker did not finish the transcript")


def _people_at_work(done: Scene) -> None:
    """What people do at the end of the shift, through the services the portal calls."""
    system = done.system
    officer = users.principal_named(system, "officer")
    with system.unit_of_work() as uow:
        mine = list(
            uow.session.scalars(
                select(Recording.id)
                .where(
                    Recording.officer_id == officer.officer_id,
                    Recording.started_at > uow.now() - timedelta(hours=12),
                )
                .order_by(Recording.started_at)
            )
        )
        camden_old = list(
            uow.session.scalars(
                select(Recording.id)
                .where(Recording.started_at < uow.now() - timedelta(days=20))
                .order_by(Recording.started_at)
            )
        )
    done.officer_recordings = mine
    act = officer.actor("10.20.1.15", "Chromium")
    categories.set_categories(system, officer, mine[0], ["Stop and search"], None, act)
    categories.set_categories(system, officer, mine[1], ["Arrest"], None, act)
    notes.annotate(
        system,
        officer,
        mine[1],
        act,
        title="Arrest at the Mare Street bus stop",
        reference=CASE_REFERENCE,
        tags=["robbery", "mare-street"],
    )
    notes.add_bookmark(system, officer, mine[1], 8.0, "Suspect runs towards the bus", act)
    notes.add_bookmark(system, officer, mine[1], 31.0, "Arrest and caution", act)
    notes.add_note(
        system, officer, mine[1], "Victim's phone recovered from the suspect's left pocket.", act
    )
    standards = users.principal_named(system, "standards")
    for recording_id in camden_old[::3]:
        categories.set_categories(system, standards, recording_id, ["Non-evidential"], None, act)
    investigator = users.principal_named(system, "investigator").stating(INVESTIGATION)
    inv = investigator.actor("10.20.4.2", "Chromium")
    case = cases.create_case(
        system,
        investigator,
        reference=CASE_REFERENCE,
        title="Robbery at the Mare Street bus stop",
        actor=inv,
        members=["supervisor"],
    )
    done.case_id = case.id
    cases.add_to_case(system, investigator, done.case_id, mine[1], "the arrest", inv)
    cases.add_to_case(system, investigator, done.case_id, mine[2], "the approach", inv)
    flags.flag_evidence(
        system, investigator, mine[1], "Shows the arrest and the suspect's first account", inv
    )
    # Professional standards: the suspect complains of the arrest; a civil claim is expected.
    psd = standards.actor("10.20.9.7", "Chromium")
    with system.unit_of_work() as uow:
        now = uow.now()
    complaints.register_complaint(
        system,
        standards,
        reference=COMPLAINT,
        officers=[
            users.get_user(system, users.principal_named(system, ADMIN), "officer").officer or ""
        ],
        since=now - timedelta(hours=12),
        until=now,
        summary="The person arrested at the bus stop says the handcuffs were too tight.",
        actor=psd,
        place="Mare Street, E8",
    )
    holds.hold_case(
        system,
        standards,
        done.case_id,
        kind="legal",
        reason="Civil claim expected from the person arrested",
        actor=psd,
    )
    if done.spoken:
        transcripts.request_transcription(system, officer, done.spoken, act)
        _transcribed(system, done.spoken)


# --- pictures ----------------------------------------------------------------------------


def _sign_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _until(page: Any, condition: str, timeout: float = 15.0) -> None:
    """Poll a condition in the page (the portal's CSP rightly forbids Playwright's eval)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({condition})") and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # let the frame paint


def _save(page: Any, path: Path) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path))
    _shrink(path)


def _shrink(path: Path) -> None:
    """A 256-colour PNG: a fraction of the size, and the portal has few colours."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    small.save(path, optimize=True)


def photograph(done: Scene, out_dir: Path, browser_dir: Path) -> list[Path]:
    """Take the pictures; returns the files written."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    url = done.url
    made: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(browser_dir),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
            locale="en-GB",
            timezone_id="Europe/London",
        )
        page = browser.new_page()

        def shot(name: str) -> None:
            path = out_dir / f"{name}.png"
            _save(page, path)
            made.append(path)

        page.goto(f"{url}/login")
        shot("login")

        _sign_in(page, url, "officer")
        page.goto(f"{url}/footage")
        page.check(f"#pick-{done.officer_recordings[-1]}")
        shot("my-footage")
        browser.clear_cookies()

        _sign_in(page, url, "investigator")
        page.goto(f"{url}/search")
        page.fill("#reason", INVESTIGATION)
        page.fill("#unit", "Hackney")
        page.click("form.filters button[type=submit]")
        shot("search")
        page.goto(f"{url}/recordings/{done.officer_recordings[1]}")
        page.wait_for_load_state("networkidle")
        # Played a little from 0:23 and paused: the timeline and the map follow the video.
        page.evaluate("() => { const v = document.querySelector('video'); v.muted = true;"
                      " v.currentTime = 23; return v.play(); }")  # fmt: skip
        _until(page, "document.querySelector('video').currentTime > 24")
        page.evaluate("() => document.querySelector('video').pause()")
        shot("recording")
        page.goto(f"{url}/cases/{done.case_id}")
        shot("case")
        browser.clear_cookies()

        _sign_in(page, url, "admin")
        page.goto(f"{url}/retention")
        shot("retention")
        page.goto(f"{url}/admin/categories")
        shot("admin-categories")
        page.goto(f"{url}/admin/users")
        shot("admin-users")
        # Stop and search kept for 90 days rather than a year: its effect, before saving.
        stop_search = next(
            c.id for c in categories.list_categories(done.system) if c.name == "Stop and search"
        )
        page.goto(f"{url}/admin/categories/{stop_search}/retention")
        page.fill("#retention_days", "90")
        page.click("button[name=step][value=preview]")
        shot("admin-category-retention")
        page.goto(f"{url}/admin/docks/Camden-1/revoke")
        shot("admin-dock-revoke")
        # An administrator lists what is stored, as records: they do not watch footage.
        page.goto(f"{url}/search")
        shot("admin-search")
        browser.clear_cookies()

        _sign_in(page, url, "fleet")
        page.goto(f"{url}/fleet")
        shot("fleet")
        page.goto(f"{url}/fleet/cameras/{done.busy_camera}")
        shot("camera")
        page.goto(f"{url}/fleet/rollout")
        shot("rollout")
        browser.clear_cookies()

        _sign_in(page, url, "auditor")
        page.goto(f"{url}/recordings/{done.officer_recordings[1]}/audit")
        shot("audit-trail")
        page.goto(f"{url}/audit?person=investigator")
        shot("audit-search")
        browser.clear_cookies()

        _sign_in(page, url, "supervisor")
        page.goto(f"{url}/compliance")
        shot("compliance")
        browser.clear_cookies()

        _sign_in(page, url, "standards")
        page.goto(f"{url}/holds")
        shot("holds")
        page.goto(f"{url}/complaints/{COMPLAINT}")
        shot("complaint")
        page.goto(f"{url}/cases/{done.case_id}#holds")
        page.click("text=Hold the case's footage")
        shot("case-holds")
        if done.spoken:
            _speech_pictures(page, url, done.spoken, shot)
        browser.close()
    return made


def _speech_pictures(page: Any, url: str, spoken: str, shot: Callable[[str], None]) -> None:
    """As professional standards: the transcript beside the player, then a bystander's name
    chosen there to mute, a box over the suspect, and the editor's preview of one frame."""
    page.goto(f"{url}/recordings/{spoken}")
    page.wait_for_selector("[data-word]")
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true;"
                  " v.currentTime = 6.5; }")  # fmt: skip
    _until(page, "document.querySelector('video').readyState >= 2")
    shot("transcript")
    words = page.locator("[data-word]")
    texts = [text.strip(" ,.") for text in words.all_inner_texts()]
    name = texts.index("Sarah")
    first = words.nth(name).get_attribute("data-word")
    page.goto(f"{url}/recordings/{spoken}#transcript")
    form = page.locator("form[action$='/transcript/mute']")
    form.locator("[name=first_word]").fill(str(first))
    form.locator("[name=last_word]").fill(str(first))
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/redaction?*")
    for name_part, value in (("label", "suspect"), ("x1", "110"), ("y1", "40"), ("x2", "210"),
                         ("y2", "170"), ("from", "0"), ("to", "12")):  # fmt: skip
        page.fill(f"[name=box-1-{name_part}]", value)
    page.fill("#preview_at", "6.5")
    page.click("button[name=action][value=preview]:not(.visually-hidden)")
    page.wait_for_selector("figure.preview img")
    _until(page, "document.querySelector('figure.preview img').complete")
    page.locator("#choose").scroll_into_view_if_needed()
    shot("redaction-editor")


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, photograph; the PNGs go to the directory named (docs/screenshots)."""
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0] if args else "docs/screenshots")
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} is missing (make browser installs Debian's chromium)")
        return 2
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="custody-screenshots-"))
    try:
        with scene(work / "data") as done:
            made = photograph(done, out_dir, work / "browser")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for path in made:
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
