"""The review portal in real Chromium, as the people who use it do their work.

Each test reads what a person sees: text on the page, the video's own clock, the
status of the page that refuses. They share one server; none depends on another.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from tests.browser.conftest import REFERENCE, Portal, sign_in

VIDEO = "document.querySelector('video[data-player]')"
VIDEO_TIME = f"{VIDEO}.currentTime"


def wait_until(page: Page, condition: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript condition (`wait_for_function` would eval in the page: our CSP
    forbids that, rightly; evaluating through the browser's debugger is not the page)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({condition})"):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {condition}"
        time.sleep(0.1)


def test_an_officer_categorises_the_last_docking_then_plays_and_seeks(
    page: Page, portal: Portal
) -> None:
    page.goto(f"{portal.url}/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    sign_in(page, portal, "alice")

    # `/` takes an officer to their footage: the latest docking first, uncategorised marked.
    expect(page).to_have_url(re.compile(r"/footage$"))
    latest = page.locator("section.docking").first
    expect(latest.get_by_role("heading", level=2)).to_contain_text("Latest docking")
    expect(latest.get_by_role("heading", level=2)).to_contain_text("Hackney-1")
    cards = latest.locator("li.card")
    expect(cards).to_have_count(3)
    expect(latest.locator(".badge.warn", has_text="Uncategorised")).to_have_count(3)
    expect(cards.first).to_contain_text("0:20")
    expect(cards.first).to_contain_text("days left")

    # Two at once.
    first, second = portal.alice[1], portal.alice[2]
    page.check(f"#pick-{first}")
    page.check(f"#pick-{second}")
    expect(page.locator("[data-picked]")).to_have_text("2 selected")
    page.get_by_label("Categorise the selected recordings as").select_option("Arrest")
    page.get_by_role("button", name="Categorise selected").click()
    expect(page.locator("p.flash")).to_have_text("2 recordings categorised as Arrest.")
    for rid in (first, second):
        card = page.locator(f"li.card:has(#pick-{rid})")
        expect(card.locator(".badge")).to_have_text(["Arrest"])
    expect(page.locator("section.docking").first).to_contain_text("1 uncategorised")

    # Play one: its own clock advances, from ranges of the original.
    media: list[int] = []
    page.on("response", lambda r: media.append(r.status) if "/media" in r.url else None)
    page.locator(f"li.card:has(#pick-{first}) a.card-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Recording")
    expect(page.locator(".card-retention").first).to_contain_text("days left")
    wait_until(page, f"{VIDEO}.readyState >= 1")
    page.locator("video[data-player]").focus()
    page.keyboard.press("Space")  # the player's own control, as a keyboard user plays
    wait_until(page, f"{VIDEO_TIME} > 1.0")
    before = page.evaluate(f"() => {VIDEO_TIME}")
    wait_until(page, f"{VIDEO_TIME} > {before} + 0.5")
    assert 206 in media

    # Seek: a picture on the timeline takes the video to its moment at once.
    frame = page.locator(".strip .frame").nth(8)
    expect(frame).to_contain_text("0:17")
    moment = float(frame.get_attribute("data-seek") or "0")
    frame.click()
    wait_until(page, f"Math.abs({VIDEO_TIME} - {moment}) < 1.5 && !{VIDEO}.seeking", 5.0)


def test_an_investigator_finds_it_by_crime_reference_flags_it_and_adds_it_to_a_case(
    page: Page, portal: Portal
) -> None:
    sign_in(page, portal, "dana")
    expect(page).to_have_url(re.compile(r"/cases$"))
    page.get_by_label("Crime reference").fill(REFERENCE)
    page.get_by_label("Title").fill("Robbery at the Mare Street bus stop")
    page.get_by_role("button", name="Open case").click()
    expect(page.locator("p.flash")).to_have_text(f"Case {REFERENCE} opened.")

    # Beyond her cases an investigator says why she searches; the reason is audited.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Search").click()
    expect(page.locator(".note")).to_contain_text("Showing footage in your cases")
    page.get_by_label("Reason for searching").fill(f"Robbery enquiry {REFERENCE}")
    page.get_by_label("Crime or incident reference").fill(REFERENCE)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#results-title")).to_have_text("1 recording")
    found = page.locator("li.card")
    expect(found).to_contain_text(REFERENCE)
    expect(found).to_contain_text("Alice Ash")
    found.locator("a.card-link").click()
    expect(page).to_have_url(re.compile(rf"/recordings/{portal.alice[0]}\?reason="))

    # The access rules let her act on footage in her case: she adds it, then flags it.
    page.get_by_label("Add to case").select_option(
        label=f"{REFERENCE}: Robbery at the Mare Street bus stop"
    )
    page.get_by_role("button", name="Add to case").click()
    expect(page.locator("p.flash")).to_contain_text("Added to the case")
    evidence = page.locator("#evidence")
    expect(evidence.get_by_role("link", name=REFERENCE)).to_be_visible()
    page.get_by_label("Why it is evidence").fill("Shows the robbery and the arrest")
    page.get_by_role("button", name="Flag as evidence").click()
    expect(page.locator("p.flash")).to_contain_text("Flagged as evidence")
    expect(evidence).to_contain_text("Shows the robbery and the arrest")
    expect(page.locator(".head-status .badge.evidence")).to_have_text("Evidence")
    expect(page.locator(".head-status")).to_contain_text("Kept")

    # And the case shows it, with who works on it.
    evidence.get_by_role("link", name=REFERENCE).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(REFERENCE)
    expect(page.locator("li.card")).to_have_count(1)
    expect(page.locator("li.card .badge.evidence")).to_be_visible()
    expect(page.locator("aside")).to_contain_text("dana")


def test_an_officer_cannot_open_another_teams_recording(page: Page, portal: Portal) -> None:
    sign_in(page, portal, "alice")
    answer = page.goto(f"{portal.url}/recordings/{portal.charlie}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("video")).to_have_count(0)
    assert page.request.get(f"{portal.url}/recordings/{portal.charlie}/media").status == 404
    assert page.request.get(f"{portal.url}/recordings/{portal.charlie}/thumbnail").status == 404
    # Nor does her search show that it exists.
    page.goto(f"{portal.url}/search")
    expect(page.locator(f"a[href*='{portal.charlie}']")).to_have_count(0)
    expect(page.locator("li.card")).to_have_count(3)


def test_an_administrator_creates_a_category(page: Page, portal: Portal) -> None:
    sign_in(page, portal, "root")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Administration").click()
    page.get_by_role("link", name="Categories").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Categories")

    # A form that is wrong says what to put right, beside the field.
    page.get_by_role("button", name="Add category").click()
    expect(page.locator(".error-summary")).to_contain_text("Name the category.")
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Name", exact=True).fill("Firearms discharge")
    page.get_by_label("What it is for").fill("An officer discharged a firearm.")
    page.get_by_label("Keep for (days)").fill("3650")
    page.get_by_label("Review every (days)").fill("365")
    page.get_by_label("Who may see it").select_option("restricted")
    page.get_by_role("button", name="Add category").click()
    expect(page.locator("p.flash")).to_have_text("Category Firearms discharge added.")
    row = page.locator("#category-list tr", has_text="Firearms discharge")
    expect(row).to_contain_text("3650 days from recording")
    expect(row).to_contain_text("Restricted")
