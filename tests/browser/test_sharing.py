"""Sharing with the prosecution in real Chromium, end to end: fran, a disclosure officer,
shares an exhibit of dana's case with a prosecutor; the prosecutor reads the e-mail from a
real SMTP server (aiosmtpd), proves the code, plays, downloads and acknowledges; fran sees
the receipt and who opened what; the share is revoked and the link dies.

A second `custody serve` node runs on the portal's installation with mail set up (nodes
share the database and the store, nothing else), so the other browser tests' server
stays as it is.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Portal, sign_in
from tests.conftest import ServerProcess, custody, free_port
from tests.mailbox import Mailbox, smtp_server
from tests.share_world import mark, open_case, smtp_env

VIDEO = "document.querySelector('video')"


def wait_until(page: Page, condition: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript condition through the browser's debugger (the page's CSP forbids
    the page evaluating strings itself)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({condition})"):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {condition}"
        time.sleep(0.1)


def _ok(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    result = custody(data_dir, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


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


def test_a_disclosure_officer_shares_with_a_prosecutor_who_watches_downloads_and_acknowledges(
    page: Page, mailing_portal: Portal, mailbox: Mailbox, tmp_path: Path
) -> None:
    portal = mailing_portal
    data_dir = portal.data_dir
    dana = _ok(data_dir, "users", "token", "--as", "dana")
    exhibit_id, sensitive_id = portal.arrest[0], portal.arrest[1]
    case_id = open_case(portal.url, dana, "CAD 9100/01DEC", ["fran"], [exhibit_id, sensitive_id])
    fran = _ok(data_dir, "users", "token", "--as", "fran")
    mark(portal.url, fran, case_id, exhibit_id, "exhibit", "AA/1", "The arrest at the bus stop")
    mark(portal.url, fran, case_id, sensitive_id, "unused_sensitive", None, "Witness's home")
    sha256 = httpx.get(
        f"{portal.url}/api/v1/recordings/{exhibit_id}",
        headers={"Authorization": f"Bearer {dana}"},
    ).json()["sha256"]

    # fran shares the exhibit; the sensitive item is offered to no one.
    sign_in(page, portal, "fran")
    page.goto(f"{portal.url}/cases/{case_id}")
    page.get_by_role("link", name="Shares with prosecution and defence").click()
    expect(page.get_by_label(re.compile("Witness's home"))).to_be_disabled()
    page.get_by_label(re.compile("AA/1")).check()
    page.get_by_label("Recipient's name").fill("Priya Shah")
    page.get_by_label("E-mail address").fill("priya.shah@cps.example")
    page.get_by_label("Prosecutor or defence").select_option("prosecutor")
    page.get_by_label("Allow downloads").check()
    page.get_by_role("button", name="Share").click()
    expect(page.locator("p.flash")).to_contain_text("the link was e-mailed")
    share_path = re.sub(r"^https?://[^/]+", "", page.url)
    page.get_by_role("button", name="Sign out").click()

    # The prosecutor: the e-mail, the code from a second e-mail, her items.
    mailbox.wait_for(1)
    link = mailbox.link(len(mailbox.messages) - 1)
    sent = len(mailbox.messages)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Prove your e-mail address")
    expect(page.locator("main")).to_contain_text("p***@cps.example")
    page.get_by_role("button", name="Send me a code").click()
    mailbox.wait_for(sent + 1)
    page.get_by_label("One-time code").fill(mailbox.code(sent))
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("CAD 9100/01DEC")
    expect(page.locator("main")).not_to_contain_text("Witness")
    expect(page.get_by_role("navigation")).to_have_count(0)  # no portal chrome at all

    wait_until(page, f"{VIDEO}.readyState >= 1")
    page.locator("video").click()  # the browser's own player: a click plays
    wait_until(page, f"{VIDEO}.currentTime > 1.0")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download AA/1").click()
    saved = downloading.value.path()
    assert hashlib.sha256(Path(saved).read_bytes()).hexdigest() == sha256

    page.get_by_role("button", name="Acknowledge receipt").click()
    expect(page.get_by_role("status")).to_contain_text("You acknowledged receipt")
    receipt = page.request.get(f"{link}/receipt.json").json()
    assert receipt["items"][0]["sha256"] == sha256
    assert receipt["recipient"]["email"] == "priya.shah@cps.example"

    # fran sees the receipt and who opened what, then revokes the share.
    sign_in(page, portal, "fran")
    page.goto(f"{portal.url}{share_path}")
    expect(page.locator("#receipts-title + ul")).to_contain_text("acknowledged")
    activity = page.locator("section", has=page.locator("#activity-title"))
    for what in ("recipient:recording:stream", "recipient:recording:download",
                 "recipient:share:acknowledge"):  # fmt: skip
        expect(activity).to_contain_text(what)
    href = page.get_by_role("link", name="PDF").get_attribute("href")
    assert href is not None
    pdf = page.request.get(portal.url + href)
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    page.get_by_label("Why revoke").fill("Trial date moved: sent again later")
    page.get_by_role("button", name="Revoke now").click()
    expect(page.locator("p.flash")).to_contain_text("Revoked")

    # The link dies: a clear page, nothing else.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has ended")
    expect(page.locator("main")).not_to_contain_text("AA/1")
