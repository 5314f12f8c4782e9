"""A share against a real `custody serve` that e-mails a real SMTP server (aiosmtpd): the
disclosure officer shares over the API, the prosecutor follows the e-mailed link, proves
the code from a second e-mail, plays and downloads over HTTP, and acknowledges; then the
share is revoked and the link dies. Hostile requests get clear 4xx answers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from custody.camera.simulator import simulate_camera
from custody.dock.agent import DockAgent
from custody.domain import signing
from tests.conftest import Installation, custody
from tests.mailbox import Mailbox, smtp_server
from tests.share_world import mark, open_case, smtp_env

PAGE = {"Accept": "text/html"}


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def _ok(data_dir: Path, *args: str) -> str:
    result = custody(data_dir, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_share_travels_by_real_mail_and_dies_when_revoked(
    installation: Installation, mailbox: Mailbox, tmp_path: Path
) -> None:
    server, data_dir = installation.server, installation.data_dir
    server.stop()
    server.env.update(smtp_env(mailbox.port))
    server.start()
    bay = tmp_path / "bay"
    simulate_camera(bay, serial="BWV-0101", officer_id="1234AB", recordings=1, duration=2)
    _ok(data_dir, "fleet", "add-camera", "--from", str(bay), "--officer", "1234AB")
    # The dock frees the camera's space once the server holds the footage: read it first.
    original = next(bay.rglob("*.mp4")).read_bytes()
    with DockAgent(server.url, installation.dock_token, [bay]) as agent:
        assert agent.run_once().ok
    recording = hashlib.sha256(original).hexdigest()
    _ok(data_dir, "users", "add", "dana", "--role", "investigator")
    _ok(data_dir, "users", "add", "fran", "--role", "disclosure")
    dana = _ok(data_dir, "users", "token", "--as", "dana")
    fran = {"Authorization": f"Bearer {_ok(data_dir, 'users', 'token', '--as', 'fran')}"}
    listed = httpx.get(
        f"{server.url}/api/v1/recordings",
        headers={"Authorization": f"Bearer {installation.viewer_token}"},
    ).json()["items"]
    (rid,) = [r["id"] for r in listed if r["sha256"] == recording]
    case_id = open_case(server.url, dana, "01/777/26", ["fran"], [rid])
    fran_token = fran["Authorization"].removeprefix("Bearer ")
    exhibit = mark(server.url, fran_token, case_id, rid, "exhibit", "FR/1", "The arrest")

    made = httpx.post(
        f"{server.url}/api/v1/cases/{case_id}/shares",
        headers=fran,
        json={
            "recipient": {"name": "Priya Shah", "email": "priya@cps.example", "kind": "prosecutor"},
            "items": [exhibit],
            "downloads_allowed": True,
            "download_limit": 1,
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["mailed"] is True
    mailbox.wait_for(1)
    link = mailbox.link(0)
    assert link.startswith(server.url + "/shared/")

    with httpx.Client(headers={"User-Agent": "e2e prosecutor"}) as browser:
        assert "p***@cps.example" in browser.get(link, headers=PAGE).text
        assert browser.post(f"{link}/code", headers=PAGE).status_code == 200
        mailbox.wait_for(2)
        proved = browser.post(f"{link}/verify", data={"code": mailbox.code(1)})
        assert proved.status_code == 303
        page = browser.get(link, headers=PAGE)
        assert page.headers["referrer-policy"] == "no-referrer" and "FR/1" in page.text
        item = re.findall(r"/items/(\d+)/play", page.text)[0]
        piece = browser.get(f"{link}/items/{item}/play", headers={"Range": "bytes=100-1099"})
        assert piece.status_code == 206 and piece.content == original[100:1100]
        whole = browser.get(f"{link}/items/{item}/download")
        assert hashlib.sha256(whole.content).hexdigest() == recording
        assert browser.get(f"{link}/items/{item}/download").status_code == 403
        # Hostile input: a bad range, an oversized body, a made-up item.
        bad_range = browser.get(f"{link}/items/{item}/play", headers={"Range": "pages=1-2"})
        assert bad_range.status_code == 400 and bad_range.json()["error"]["code"]
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        huge = browser.post(f"{link}/verify", content=b"code=" + b"1" * 400_000, headers=form)
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
        assert browser.get(f"{link}/items/999999/play").status_code == 404
        csrf = re.findall(r'name="csrf_token" value="([^"]+)"', page.text)[0]
        assert browser.post(f"{link}/acknowledge", data={"csrf_token": csrf}).status_code == 303
        receipt = browser.get(f"{link}/receipt.json").json()
    key = httpx.get(f"{server.url}/api/v1/server-key").json()["public_key"]
    signing.verify(receipt, signing.load_public_key(key))
    assert receipt["items"][0]["sha256"] == recording
    assert receipt["user_agent"] == "e2e prosecutor"

    share_id = made.json()["share"]["id"]
    seen = httpx.get(f"{server.url}/api/v1/shares/{share_id}", headers=fran).json()
    assert {"recipient:recording:stream", "recipient:share:acknowledge"} <= {
        e["what"] for e in seen["activity"]
    }
    revoked = httpx.post(
        f"{server.url}/api/v1/shares/{share_id}/revoke", headers=fran, json={"reason": "done"}
    )
    assert revoked.status_code == 200
    ended = httpx.get(link, headers=PAGE)
    assert ended.status_code == 404 and "This link has ended" in ended.text
    assert "FR/1" not in ended.text and "Priya" not in ended.text
