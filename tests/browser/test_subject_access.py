"""A subject access request in real Chromium, from registration to the requester reading the
release: nadia (professional standards, the data protection officer) registers Jo Bloggs's
request, finds Sam Ade's footage by time and officer, attaches it and, once its copy with
everything blurred is rendered and approved by omar (a second person), attaches that copy;
omar approves the request and releases it. Jo reads the link from a real SMTP server
(aiosmtpd), proves the one-time code sent to the same address, keeps exactly the redacted
copy and acknowledges; the request's page shows the receipt.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from custody.camera.simulator import simulate_camera
from custody.dock.agent import DockAgent
from tests.browser.conftest import PASSWORD, Portal, sign_in
from tests.conftest import ServerProcess, custody, free_port
from tests.mailbox import Mailbox, smtp_server
from tests.share_world import smtp_env

WARRANT = "7070SA"


def _ok(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    result = custody(data_dir, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@dataclass
class Footage:
    recording: str
    tokens: dict[str, str]

    def api(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def _until(what: str, check: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def footage(portal: Portal, tmp_path_factory: pytest.TempPathFactory) -> Footage:
    """Two data protection officers, and one short recording of Sam Ade's, docked."""
    data_dir = portal.data_dir
    _ok(data_dir, "fleet", "add-officer", WARRANT, "--name", "Sam Ade", "--unit", "Leyton")
    dock_token = _ok(data_dir, "fleet", "add-dock", "Leyton-1")
    for name in ("nadia", "omar"):
        # Force-wide roles are given only when a second administrator approves them.
        code = _ok(data_dir, "users", "add", name, "--role", "fleet_manager", "--unit", "PSD")
        _ok(data_dir, "users", "complete-reset", stdin=f"{code}\n{PASSWORD}\n")
        asked = _ok(data_dir, "users", "request-role", name, "professional_standards")
        _ok(data_dir, "users", "approve-role", asked, "--as", "root")
    tokens = {name: _ok(data_dir, "users", "token", "--as", name) for name in ("nadia", "omar")}
    bay = tmp_path_factory.mktemp("leyton") / "bay"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    (made,) = simulate_camera(
        bay, serial="BWV-0919", officer_id=WARRANT, recordings=1, duration=3, start=start
    )
    _ok(data_dir, "fleet", "add-camera", "--from", str(bay), "--officer", WARRANT)
    with DockAgent(portal.url, dock_token, [bay]) as agent:
        assert agent.run_once().ok
    found = Footage(made.manifest.recording_id, tokens)
    _until(
        "the recording probed",
        lambda: (
            httpx.get(
                f"{portal.url}/api/v1/recordings/{found.recording}", headers=found.api("nadia")
            )
            .json()
            .get("state")
            == "playable"
        ),
    )
    return found


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture(scope="module")
def mailing_portal(portal: Portal, mailbox: Mailbox) -> Iterator[Portal]:
    """The portal's installation, served by a node that sends mail."""
    node = ServerProcess(
        portal.data_dir,
        free_port(),
        {**smtp_env(mailbox.port), "CUSTODY_WORKER_IN_PROCESS": "false"},
    )
    node.start()
    try:
        yield replace(portal, url=node.url)
    finally:
        node.stop()


def test_a_subject_access_request_from_registration_to_the_requester_reading_it(
    page: Page, portal: Portal, mailing_portal: Portal, mailbox: Mailbox, footage: Footage
) -> None:
    site = mailing_portal
    today = datetime.now(UTC).date()
    sign_in(page, site, "nadia")
    page.goto(f"{site.url}/subject-access")
    page.get_by_label("Requester's name").fill("Jo Bloggs")
    page.get_by_label("Requester's email").fill("jo.bloggs@example.org")
    page.get_by_label("Received on").fill(today.isoformat())
    page.get_by_label("What they ask for").fill("Stopped in Leyton two days ago")
    page.get_by_role("button", name="Register request").click()
    expect(page.locator("p.flash")).to_contain_text("registered")
    request_url = page.url
    reference = request_url.rsplit("/", 1)[1]

    # A window wide enough for any time zone, narrowed by the officer.
    page.get_by_label("From", exact=True).fill(f"{today - timedelta(days=4)}T00:00")
    page.get_by_label("To", exact=True).fill(f"{today + timedelta(days=1)}T00:00")
    page.get_by_label("Officer's warrant number").fill(WARRANT)
    page.get_by_role("button", name="Search").click()
    page.locator("#candidates").get_by_role("button", name="Attach").click()
    expect(page.locator("p.flash")).to_contain_text("attached and held")

    # The editor: two boxes (the page's script adds the row), one moving; a preview of the
    # plan first; the second row removed again; then everything blurred and the sound removed.
    page.goto(f"{site.url}/recordings/{footage.recording}/redaction")
    expect(page.locator("#manual-boxes")).to_contain_text("25 frames a second")
    page.get_by_role("button", name="Add another box").click()
    expect(page.locator("[data-box-row]")).to_have_count(2)
    for n, (label, values) in enumerate(
        (("plate", ("0", "2", "10", "10", "60", "40", "", "", "", "")),
         ("screen", ("0.5", "1.5", "20", "50", "80", "90", "90", "50", "150", "90"))), start=1
    ):  # fmt: skip
        page.locator(f"#box-{n}-label").fill(label)
        names = ("from", "to", "x1", "y1", "x2", "y2", "ex1", "ey1", "ex2", "ey2")
        for name, value in zip(names, values, strict=True):
            page.locator(f"#box-{n}-{name}").fill(value)
    page.get_by_label("At (seconds)").fill("1")
    page.get_by_role("button", name="Preview this moment").click()
    shown = page.locator("figure.preview")
    expect(shown).to_have_attribute("data-preview-boxes", "2")
    assert page.locator("figure.preview img").evaluate("img => img.naturalWidth") > 0
    expect(page.locator("#box-2-label")).to_have_value("screen")
    page.get_by_role("button", name="Remove box 2").click()
    expect(page.locator("[data-box-row]")).to_have_count(1)
    page.get_by_label("Blur everything").check()
    page.get_by_label("Remove the sound").check()
    page.get_by_role("button", name="Render the redacted copy").click()
    expect(page.locator("p.flash")).to_contain_text("Rendering the redacted copy")
    copy_id = page.locator("[data-redaction]").first.get_attribute("data-redaction")
    assert copy_id
    page.goto(request_url)

    # Rendered by the worker and approved by omar.
    copy_url = f"{portal.url}/api/v1/redactions/{copy_id}"
    _until(
        "the copy rendered",
        lambda: httpx.get(copy_url, headers=footage.api("nadia")).json()["state"] == "rendered",
    )
    approved = httpx.post(f"{copy_url}/approval", headers=footage.api("omar"))
    assert approved.status_code == 200, approved.text
    copy_sha = approved.json()["sha256"]

    page.goto(request_url)
    page.get_by_role("button", name="Attach redacted copy").click()
    expect(page.locator("p.flash")).to_contain_text("released in its place")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, site, "omar")
    page.goto(request_url)
    page.get_by_role("button", name="Approve release").click()
    expect(page.locator("p.flash")).to_contain_text("Release approved")
    sent = len(mailbox.messages)
    page.get_by_role("button", name="Release to requester").click()
    expect(page.locator("p.flash")).to_contain_text("e-mailed to jo.bloggs@example.org")
    expect(page.locator("#receipt-state")).to_have_text("Not yet acknowledged by the requester.")
    expect(page.get_by_role("button", name="Release to requester")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()

    # Jo: the e-mail, the code from a second e-mail, the redacted copy to keep.
    mailbox.wait_for(sent + 1)
    assert reference in str(mailbox.messages[sent]["Subject"])
    link = mailbox.link(sent)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Prove your e-mail address")
    page.get_by_role("button", name="Send me a code").click()
    mailbox.wait_for(sent + 2)
    page.get_by_label("One-time code").fill(mailbox.code(sent + 1))
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Your subject access request {reference}"
    )
    expect(page.locator("main")).to_contain_text(copy_sha)
    with page.expect_download() as downloading:
        page.get_by_role("link", name=f"Download {reference}/1").click()
    saved = Path(downloading.value.path()).read_bytes()
    assert hashlib.sha256(saved).hexdigest() == copy_sha
    page.get_by_role("button", name="Acknowledge receipt").click()
    expect(page.get_by_role("status")).to_contain_text("You acknowledged receipt")

    sign_in(page, site, "nadia")
    page.goto(request_url)
    expect(page.locator("#receipt-state")).to_contain_text("Receipt acknowledged")
