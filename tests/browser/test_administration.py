"""Administration in real Chromium (issue 12 point 6), as root, the administrator, does it: a
category's retention changed after previewing its effect, a camera issued, returned, reported
lost and retired from its history page, the roll-out planned, a dock's token revoked, and a
search that shows records rather than pictures and links an administrator may not open. An
officer reaches none of it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from custody.camera.simulator import simulate_camera
from tests.browser.conftest import Portal, _ok, sign_in


def to_admin(page: Page, tab: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Administration").click()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name=tab).click()


def test_an_administrator_previews_a_categorys_new_retention_then_saves_it(
    page: Page, portal: Portal
) -> None:
    _ok(portal.data_dir, "categories", "add", "Licensing visit", "--retention", "365")
    # charlie puts his recording in it, as he would from his footage page.
    token = _ok(portal.data_dir, "users", "token", "--as", "charlie")
    answer = httpx.put(
        f"{portal.url}/api/v1/recordings/{portal.charlie}/categories",
        json={"categories": ["Licensing visit"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text

    sign_in(page, portal, "root")
    to_admin(page, "Categories")
    page.get_by_role("link", name="Change retention of Licensing visit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Retention of Licensing visit")
    expect(page.get_by_label("Keep for (days)")).to_have_value("365")

    # A period shorter than the 31-day rule is refused beside the field.
    page.get_by_label("Keep for (days)").fill("5")
    page.get_by_role("button", name="Preview the effect").click()
    expect(page.locator("#retention_days-error")).to_have_text(
        "Error: Enter the days kept from 31 to 36600."
    )
    expect(page.get_by_role("button", name=re.compile("^Save"))).to_have_count(0)

    page.get_by_label("Keep for (days)").fill("200")
    page.get_by_label("Why (kept in the audit trail)").fill("Licensing visit review")
    page.get_by_role("button", name="Preview the effect").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Licensing visit has 1 recording")
    expect(preview).to_contain_text("Nothing has changed yet")
    expect(preview.locator(".tile", has_text="deleted earlier")).to_contain_text("1")
    expect(preview.locator(".tile", has_text="kept longer")).to_contain_text("0")
    # A period changed after its preview is not saved unseen: its own effect shows first.
    page.get_by_label("Keep for (days)").fill("250")
    page.get_by_role("button", name="Save: keep 200 days").click()
    expect(preview).to_contain_text("Save again to keep it")
    page.get_by_label("Keep for (days)").fill("200")
    page.get_by_role("button", name="Preview the effect").click()
    page.get_by_role("button", name="Save: keep 200 days").click()
    expect(page.locator("p.flash")).to_have_text(
        "Licensing visit now keeps footage 200 days from recording: 1 recording(s) decided again, "
        "1 deletion date moved."
    )
    row = page.locator("#category-list tr", has_text="Licensing visit")
    expect(row).to_contain_text("200 days from recording")


def test_an_administrator_issues_returns_loses_and_retires_a_camera(
    page: Page, portal: Portal, tmp_path: Path
) -> None:
    simulate_camera(tmp_path / "bay", serial="BWV-0909", officer_id=None, recordings=1, duration=2)
    _ok(portal.data_dir, "fleet", "add-camera", "--from", str(tmp_path / "bay"))
    sign_in(page, portal, "root")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Fleet").click()
    page.get_by_role("link", name="BWV-0909").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Camera BWV-0909")

    page.get_by_label("Issue to officer").fill("NOBODY1")
    page.get_by_role("button", name="Issue").click()
    expect(page.locator("#officer-error")).to_contain_text("No officer with warrant number")
    page.get_by_label("Issue to officer").fill("5678CD")
    page.get_by_role("button", name="Issue").click()
    expect(page.locator("p.flash")).to_have_text("Camera BWV-0909 is issued to 5678CD.")
    expect(page.locator("#assignments")).to_contain_text("Charlie Cole")

    page.get_by_label("Report lost: how").fill("left on the 38 bus")
    page.get_by_role("button", name="Report lost").click()
    expect(page.locator("p.flash")).to_contain_text("Camera BWV-0909 is reported lost")
    page.get_by_label("Return: why it came back").fill("handed in at Hackney")
    page.get_by_label("It needs repair").check()
    page.get_by_role("button", name="Return").click()
    expect(page.locator("p.flash")).to_have_text("Camera BWV-0909 is in repair.")
    page.get_by_role("button", name="Retire").click()
    expect(page.locator("#retire_reason-error")).to_have_text(
        "Error: Say why the camera is retired."
    )
    page.get_by_label("Retire: why").fill("screen cracked")
    page.get_by_role("button", name="Retire").click()
    expect(page.locator("p.flash")).to_contain_text("Camera BWV-0909 is retired")

    changes = page.locator("#status-changes")
    expect(changes.locator("tbody tr").first).to_contain_text("Retired the camera")
    expect(changes).to_contain_text("in repair → retired")
    expect(changes).to_contain_text("left on the 38 bus")
    expect(changes).to_contain_text("Issued the camera to an officer")
    expect(page.locator(".tile", has_text="status")).to_contain_text("Retired")


def test_an_administrator_plans_the_roll_out(page: Page, portal: Portal) -> None:
    sign_in(page, portal, "root")
    page.goto(f"{portal.url}/fleet/rollout")
    plan = page.locator("#plan-form")
    plan.get_by_label("Borough").fill("Islington")
    plan.get_by_label("Phase").fill("0")
    plan.get_by_label("Target date").fill("2027-03-01")
    plan.get_by_role("button", name="Save the plan").click()
    expect(page.locator("#phase-error")).to_have_text("Error: Enter the phase from 1 to 100.")
    page.locator("#plan-form").get_by_label("Phase").fill("1")
    page.locator("#plan-form").get_by_role("button", name="Save the plan").click()
    expect(page.locator("p.flash")).to_have_text("Islington is in phase 1, by 1 March 2027.")
    row = page.locator("section[aria-labelledby=plan-title] tr", has_text="Islington")
    expect(row).to_contain_text("Planned")

    row.get_by_role("link", name="Change Islington").click()
    expect(page.get_by_role("heading", name="Change Islington")).to_be_visible()
    page.locator("#plan-form").get_by_label("Phase").fill("2")
    page.locator("#plan-form").get_by_label("Status").select_option("issuing")
    page.locator("#plan-form").get_by_role("button", name="Save the plan").click()
    row = page.locator("section[aria-labelledby=plan-title] tr", has_text="Islington")
    expect(row).to_contain_text("Issuing")
    expect(row.locator("td.num").first).to_have_text("2")

    row.get_by_role("button", name="Remove Islington from the plan").click()
    expect(page.locator("p.flash")).to_have_text("Islington is out of the plan.")
    expect(page.locator("section[aria-labelledby=plan-title]")).not_to_contain_text("Islington")


def test_an_administrator_revokes_a_docks_token(page: Page, portal: Portal) -> None:
    token = _ok(portal.data_dir, "fleet", "add-dock", "Spare-1")
    beat = {"Authorization": f"Bearer {token}"}
    heartbeat = f"{portal.url}/api/v1/docks/heartbeat"
    assert httpx.post(heartbeat, json={"docked": []}, headers=beat).status_code == 204
    sign_in(page, portal, "root")
    to_admin(page, "Docks")
    page.get_by_role("link", name="Revoke token of Spare-1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke the token of Spare-1")
    page.get_by_role("button", name="Revoke the token").click()
    expect(page.locator("#reason-error")).to_have_text("Error: Say why the token is revoked.")
    assert httpx.post(heartbeat, json={"docked": []}, headers=beat).status_code == 204
    page.get_by_label("Why (kept in the audit trail)").fill("Dock PC stolen from the front office")
    page.get_by_role("button", name="Revoke the token").click()
    expect(page.locator("p.flash")).to_contain_text("Spare-1's token is revoked")
    expect(page.locator("tr", has_text="Spare-1")).to_contain_text("Revoked")
    expect(page.get_by_role("link", name="Revoke token of Spare-1")).to_have_count(0)
    assert httpx.post(heartbeat, json={"docked": []}, headers=beat).status_code == 401


def test_an_administrators_search_shows_records_not_broken_pictures(
    page: Page, portal: Portal
) -> None:
    sign_in(page, portal, "root")
    page.goto(f"{portal.url}/search")
    records = page.locator("#records tbody tr")
    everything = len(portal.alice) + 1 + len(portal.arrest)  # the force's recordings
    expect(records).to_have_count(everything)
    expect(page.locator("#records")).to_contain_text("BWV-0101")
    expect(page.locator("img")).to_have_count(0)
    expect(page.locator("a[href^='/recordings/']")).to_have_count(0)
    expect(page.locator("p.note")).to_contain_text("do not watch footage")
    # A grid asked for by its address is still records.
    page.goto(f"{portal.url}/search?view=grid")
    expect(page.locator("li.card")).to_have_count(0)
    expect(records).to_have_count(everything)


def test_an_officer_reaches_none_of_the_administrators_pages(page: Page, portal: Portal) -> None:
    sign_in(page, portal, "alice")
    for path in (
        "/admin/categories/1/retention",
        "/admin/docks/Hackney-1/revoke",
        "/fleet/cameras/BWV-0101",
        "/fleet/rollout",
    ):
        answer = page.goto(f"{portal.url}{path}")
        assert answer is not None and answer.status in (403, 404), path
        expect(page.locator("form[action*='/revoke'], form[action*='/retention']")).to_have_count(0)
        expect(page.locator("main")).not_to_contain_text("Hackney-1")
