"""What was said, in real Chromium: sunil's camera heard him speak; the server's own worker
writes it down; on the recording's page he picks a word and the video goes to it.

sunil is an officer of his own (7777SP; no other module of the package's shared portal
uses the name) with his own camera and dock, so that no other test's
footage or lists change; this module runs last of the package's (its name sorts last).
"""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import Page, expect

from custody.camera.simulator import simulate_camera
from custody.dock.agent import DockAgent
from tests.browser.conftest import PASSWORD, Portal, _ok, sign_in
from tests.browser.test_portal import VIDEO, VIDEO_TIME, wait_until
from tests.speech_clip import PHRASES, need_voice


def _sunils_recording(portal: Portal) -> str:
    """sunil's speech recording, docked, probed and transcribed by the server's worker."""
    data_dir = portal.data_dir
    _ok(data_dir, "fleet", "add-officer", "7777SP", "--name", "Sunil Speaker", "--unit", "Speech")
    code = _ok(data_dir, "users", "add", "sunil", "--role", "officer", "--officer", "7777SP")
    _ok(data_dir, "users", "complete-reset", stdin=f"{code}\n{PASSWORD}\n")
    dock_token = _ok(data_dir, "fleet", "add-dock", "Speech-1")
    bay = data_dir.parent / "bay-speech"
    simulate_camera(bay, serial="BWV-0777", officer_id="7777SP", recordings=1, duration=5,
                    speech=PHRASES)  # fmt: skip
    _ok(data_dir, "fleet", "add-camera", "--from", str(bay), "--officer", "7777SP")
    with DockAgent(portal.url, dock_token, [bay]) as agent:
        assert agent.run_once().ok
    sunil = {"Authorization": f"Bearer {_ok(data_dir, 'users', 'token', '--as', 'sunil')}"}
    deadline = time.monotonic() + 120
    while True:
        items = httpx.get(f"{portal.url}/api/v1/recordings", headers=sunil).json()["items"]
        if items and items[0]["state"] == "playable":
            break
        assert time.monotonic() < deadline, items
        time.sleep(0.3)
    rid = str(items[0]["id"])
    asked = httpx.post(f"{portal.url}/api/v1/recordings/{rid}/transcripts", headers=sunil)
    assert asked.status_code == 202, asked.text
    while True:
        answer = httpx.get(f"{portal.url}/api/v1/recordings/{rid}/transcript", headers=sunil).json()
        if answer["state"] != "transcribing":
            assert answer["state"] == "complete", answer
            return rid
        assert time.monotonic() < deadline, answer
        time.sleep(0.5)


def test_an_officer_picks_a_word_and_the_video_goes_there(page: Page, portal: Portal) -> None:
    need_voice()
    rid = _sunils_recording(portal)
    sign_in(page, portal, "sunil")
    page.goto(f"{portal.url}/recordings/{rid}")
    speech = page.locator("#speech")
    expect(speech).to_contain_text("[no sound: pre-event buffer]")
    word = speech.locator("[data-word]", has_text="knife").first
    moment = float(word.get_attribute("data-seek") or "0")
    assert moment > 2.0
    wait_until(page, f"{VIDEO}.readyState >= 1")
    word.click()
    wait_until(page, f"Math.abs({VIDEO_TIME} - {moment}) < 0.3 && !{VIDEO}.seeking", 5.0)
