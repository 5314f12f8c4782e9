"""A real `custody serve` with a small force's real footage, and Debian's Chromium to use it.

The force is made the way a force's IT would make it: `custody` commands, simulated
cameras with real H.264 footage, and the dock agent uploading them over HTTP. alice
is an officer in Hackney whose camera docked three recordings; charlie is an officer
in Camden with one; dana investigates; root administers.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from custody.camera.simulator import simulate_camera
from custody.dock.agent import DockAgent
from custody.tools.screenshots import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
from tests.conftest import ServerProcess, custody, free_port, services_required

PASSWORD = "a long test password"
REFERENCE = "CAD 4411/01NOV"
PEOPLE = {
    "alice": ("officer", ["--officer", "1234AB"]),
    "charlie": ("officer", ["--officer", "5678CD"]),
    "dana": ("investigator", ["--unit", "CID"]),
    "fran": ("disclosure", ["--unit", "CPS liaison"]),
    "root": ("administrator", []),
}


@dataclass
class Portal:
    url: str
    data_dir: Path
    alice: list[str]  # alice's recordings, oldest first
    charlie: str
    # Footage of an arrest (officer 4242GH) that the disclosure tests put in cases, clip,
    # share and bundle: apart from alice's, so that no test changes another's footage
    # (the first two for clips and shares, the third for the court bundle: an exhibit keeps
    # its reference from case to case, so a bundle's exhibit would change what others see).
    arrest: list[str]


def _ok(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    result = custody(data_dir, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _settled(url: str, token: str, count: int) -> list[dict[str, object]]:
    """Wait for the server's worker to probe every recording (thumbnail included)."""
    deadline = time.monotonic() + 120
    while True:
        answer = httpx.get(
            f"{url}/api/v1/recordings",
            params={"limit": 50},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        items: list[dict[str, object]] = answer["items"]
        if len(items) == count and all(i["state"] == "playable" for i in items):
            return items
        assert time.monotonic() < deadline, f"footage not probed in time: {items}"
        time.sleep(0.3)


# The portal's three cameras: (serial, officer, recordings, seconds each).
CAMERAS = (
    ("BWV-0101", "1234AB", 3, 20),
    ("BWV-0202", "5678CD", 1, 10),
    ("BWV-0303", "4242GH", 3, 12),
)


def _cameras(tmp_path_factory: pytest.TempPathFactory, root: Path) -> list[Path]:
    """The portal's cameras in bays under `root`, each a copy of cameras rendered once for
    the test session: every xdist worker builds a portal of its own, and rendering seven
    recordings' H.264 took most of its seconds. A copy is the same camera (its key, its
    signed recordings), docked into this worker's server alone."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's directory, above each worker's own
    rendered = shared / "portal-cameras"
    with open(shared / "portal-cameras.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker renders; the others wait, then copy
        if not (rendered / "done").exists():
            shutil.rmtree(rendered, ignore_errors=True)
            for n, (serial, officer, recordings, seconds) in enumerate(CAMERAS, 1):
                simulate_camera(
                    rendered / f"bay-{n}",
                    serial=serial,
                    officer_id=officer,
                    recordings=recordings,
                    duration=seconds,
                )
            (rendered / "done").touch()
    bays = [root / f"bay-{n}" for n in range(1, len(CAMERAS) + 1)]
    for bay in bays:
        shutil.copytree(rendered / bay.name, bay)
    return bays


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Mark a failed test, so that its browser leaves a screenshot behind."""
    report = yield
    if getattr(report, "when", "") == "call" and getattr(report, "failed", False):
        item.failed = True  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="package")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if services_required():
            pytest.fail(f"{CHROMIUM} is required (CUSTODY_REQUIRE_SERVICES=1) but missing")
        pytest.skip(f"{CHROMIUM} is not installed (make browser)")
    return CHROMIUM


@pytest.fixture(scope="package")
def portal(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    root = tmp_path_factory.mktemp("portal")
    data_dir = root / "server"
    _ok(data_dir, "init")
    _ok(data_dir, "fleet", "add-officer", "1234AB", "--name", "Alice Ash", "--unit", "Hackney")
    _ok(data_dir, "fleet", "add-officer", "5678CD", "--name", "Charlie Cole", "--unit", "Camden")
    _ok(data_dir, "fleet", "add-officer", "4242GH", "--name", "Gita Hale", "--unit", "Islington")
    dock_token = _ok(data_dir, "fleet", "add-dock", "Hackney-1")
    # root, the second administrator, is made by the installation: one administrator
    # cannot make another who approves them (docs/access.md).
    code = _ok(data_dir, "init", "--second-administrator", "root")
    _ok(data_dir, "users", "complete-reset", stdin=f"{code}\n{PASSWORD}\n")
    for name, (role, extra) in PEOPLE.items():
        if name != "root":
            # Each person sets their own password with the code admin was given for them.
            code = _ok(data_dir, "users", "add", name, "--role", role, *extra)
            _ok(data_dir, "users", "complete-reset", stdin=f"{code}\n{PASSWORD}\n")
    bays = _cameras(tmp_path_factory, root)
    for bay, (_, officer, _, _) in zip(bays, CAMERAS, strict=True):
        _ok(data_dir, "fleet", "add-camera", "--from", str(bay), "--officer", officer)
    server = ServerProcess(data_dir, free_port(), {})
    server.start()
    try:
        with DockAgent(server.url, dock_token, bays) as agent:
            assert agent.run_once().ok
        items = _settled(server.url, _ok(data_dir, "users", "token", "--as", "root"), 7)
        alice = sorted(
            (str(i["started_at"]), str(i["id"])) for i in items if i["officer"] == "1234AB"
        )
        charlie = next(str(i["id"]) for i in items if i["officer"] == "5678CD")
        # alice wrote the crime reference on her first recording after the incident.
        answer = httpx.patch(
            f"{server.url}/api/v1/recordings/{alice[0][1]}/annotations",
            json={"reference": REFERENCE},
            headers={"Authorization": f"Bearer {_ok(data_dir, 'users', 'token', '--as', 'alice')}"},
        )
        assert answer.status_code == 200, answer.text
        arrest = sorted(
            (str(i["started_at"]), str(i["id"])) for i in items if i["officer"] == "4242GH"
        )
        yield Portal(
            server.url, data_dir, [rid for _, rid in alice], charlie, [rid for _, rid in arrest]
        )
    finally:
        server.stop()


@pytest.fixture(scope="package")
def browser(chromium: str) -> Iterator[Browser]:
    """One Chromium for the package: each test gets a context of its own (no cookies, storage
    or cache shared), which costs a fraction of starting the browser and its driver again."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context at 1366x768; a failing test leaves a screenshot."""
    expect.set_options(timeout=15_000)
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB", accept_downloads=True)
    page = context.new_page()
    try:
        yield page
    finally:
        if getattr(request.node, "failed", False) or os.environ.get("CUSTODY_SCREENSHOT"):
            page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        context.close()


def sign_in(page: Page, portal: Portal, username: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{portal.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
