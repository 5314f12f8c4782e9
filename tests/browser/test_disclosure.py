"""Disclosure in Chromium (issue 10, points 1 and 2): dana, the investigator, cuts a clip of
an arrest Gita Hale's camera recorded, with the player, and marks exhibits; fran, the
disclosure officer, reads the schedule on the case page and downloads it as PDF and CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import Portal, sign_in
from tests.browser.test_portal import VIDEO, VIDEO_TIME, wait_until

CASE = "CAD 5150/02DEC"


def test_an_investigator_clips_and_marks_exhibits_and_disclosure_prints_the_schedule(
    page: Page, portal: Portal, tmp_path: Path
) -> None:
    recording = portal.arrest[0]
    sign_in(page, portal, "dana")
    page.get_by_label("Crime reference").fill(CASE)
    page.get_by_label("Title").fill("Assault on Mare Street")
    page.get_by_role("button", name="Open case").click()
    expect(page.locator("p.flash")).to_have_text(f"Case {CASE} opened.")
    page.get_by_label("Add someone to the team").fill("fran")
    page.get_by_role("button", name="Add to team").click()
    expect(page.locator("p.flash")).to_contain_text("fran now works on this case")
    case_url = page.url.split("#")[0]

    # Not yet in her case: she states why she opens it (audited), then adds it.
    page.goto(f"{portal.url}/recordings/{recording}?reason=Assault+enquiry+{CASE}")
    page.get_by_label("Add to case").select_option(label=f"{CASE}: Assault on Mare Street")
    page.get_by_role("button", name="Add to case").click()
    expect(page.locator("p.flash")).to_contain_text("Added to the case")

    # The in and out points come from the player: a picture on the timeline takes the video
    # to its moment, and "Set in" / "Set out" read the video's own clock.
    wait_until(page, f"{VIDEO}.readyState >= 1")
    clips = page.locator("#clips")
    frames = page.locator(".strip .frame")
    moments = []
    for index, button in ((2, "Set in"), (4, "Set out")):
        frame = frames.nth(index)
        moment = float(frame.get_attribute("data-seek") or "0")
        frame.click()
        wait_until(page, f"Math.abs({VIDEO_TIME} - {moment}) < 0.05 && !{VIDEO}.seeking", 5.0)
        clips.get_by_role("button", name=button).click()
        moments.append(page.evaluate(f"() => {VIDEO_TIME}"))
    in_field, out_field = clips.get_by_label("In (seconds)"), clips.get_by_label("Out (seconds)")
    expect(in_field).to_have_value(f"{moments[0]:.2f}")
    expect(out_field).to_have_value(f"{moments[1]:.2f}")
    assert 0 < moments[0] < moments[1]
    # Every answer for footage from here on: the clip's player asks for ranges (206).
    media: list[int] = []
    page.on("response", lambda r: media.append(r.status) if "/media" in r.url else None)
    clips.get_by_label("Clip title").fill("The push")
    clips.get_by_role("button", name="Cut clip").click()
    expect(page.locator("p.flash")).to_have_text("Clip cut: the original is unchanged.")
    expect(page).to_have_url(re.compile(r"/clips/[0-9a-f-]{36}$"))
    clip_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text("The push")
    facts = page.locator(".facts")
    expect(facts).to_contain_text(f"{round(moments[0], 2):.3f} s")
    expect(facts).to_contain_text("Stream copy")

    # The clip plays in the portal, from the in point asked for (not the keyframe before it).
    wait_until(page, f"{VIDEO}.readyState >= 1")
    start = float(page.evaluate(f"() => {VIDEO_TIME}"))
    cut_start = float(re.findall(r"([\d.]+) s \(keyframe\)", facts.inner_text())[0])
    assert abs(start - (round(moments[0], 2) - cut_start)) < 0.05
    page.locator("video[data-player]").focus()
    page.keyboard.press("Space")
    wait_until(page, f"{VIDEO_TIME} > {start} + 0.3")
    assert 206 in media

    # On the schedule as an exhibit: the producer is Gita Hale, so GH/1 is offered.
    schedule = page.locator("#schedule")
    expect(schedule.get_by_label("Exhibit reference")).to_have_value("GH/1")
    schedule.get_by_role("button", name="Add to the schedule").click()
    expect(page.locator("p.flash")).to_have_text("The clip is on the schedule.")
    expect(page).to_have_url(re.compile(r"/cases/\d+#schedule$"))

    # The recording itself, from its row of the schedule: GH/2 is offered next.
    row = page.locator(f'#schedule-table tr[data-item="recording:{recording}"]')
    expect(row.get_by_label("Exhibit reference")).to_have_value("GH/2")
    row.get_by_label("Description").fill("Full recording of the arrest")
    row.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.locator("p.flash")).to_have_text("Schedule updated.")

    # fran, the disclosure officer, reads it and prints it.
    page.context.clear_cookies()
    sign_in(page, portal, "fran")
    page.goto(case_url)
    refs = page.locator("#schedule-table tbody td.ref")
    expect(refs).to_have_text(["GH/1", "GH/2"])
    expect(page.locator(f'#schedule-table tr[data-item="clip:{clip_id}"]')).to_contain_text(
        "The push"
    )
    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Schedule (PDF)").click()
    pdf = Path(pdf_download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and f"case {CASE}".encode() in pdf
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Schedule (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text())))
    assert [(r["exhibit_reference"], r["item"]) for r in rows] == [
        ("GH/1", "clip"),
        ("GH/2", "recording"),
    ]
    assert rows[1]["description"] == "Full recording of the arrest"
    assert rows[0]["clip_in_seconds"] == f"{round(moments[0], 2):.3f}"
    # The CSV names the clip by the SHA-256 of the bytes the portal serves.
    clip_bytes = page.request.get(f"{portal.url}/clips/{clip_id}/media?download=true").body()
    assert hashlib.sha256(clip_bytes).hexdigest() == rows[0]["sha256"]
