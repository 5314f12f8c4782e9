"""An investigator makes a case's court bundle in the portal: the server's own worker builds
it while the page follows, the download is a bundle anyone can verify."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from custody.bootstrap import build_system
from custody.bundle.verify import verify_bundle
from custody.config import Settings
from custody.db.models.disclosure import ScheduleItem
from custody.services.system import NoJobs
from tests.browser.conftest import Portal, _ok, sign_in

CASE = "01/424242/26"


def _case_with_an_exhibit(portal: Portal) -> int:
    """dana's case with the third arrest recording on its schedule as exhibit DA/1."""
    token = _ok(portal.data_dir, "users", "token", "--as", "dana")
    auth = {"Authorization": f"Bearer {token}"}
    case = httpx.post(
        f"{portal.url}/api/v1/cases", json={"reference": CASE, "title": "Bundle"}, headers=auth
    )
    assert case.status_code == 201, case.text
    case_id: int = case.json()["id"]
    added = httpx.post(
        f"{portal.url}/api/v1/cases/{case_id}/recordings",
        json={"recording_id": portal.arrest[2]},
        headers=auth,
    )
    assert added.status_code == 201, added.text
    # The schedule's own page is another branch's work: its line is written as a row here.
    system = build_system(Settings(data_dir=portal.data_dir), jobs=NoJobs())
    try:
        with system.unit_of_work() as uow:
            uow.session.add(
                ScheduleItem(
                    case_id=case_id,
                    recording_id=portal.arrest[2],
                    use="exhibit",
                    reference="DA/1",
                    description="The arrest",
                    marked_by="user:dana",
                    marked_at=uow.now(),
                )
            )
            uow.commit()
    finally:
        system.engine.dispose()
    return case_id


def test_an_investigator_makes_a_court_bundle_and_downloads_it(
    page: Page, portal: Portal, tmp_path: Path
) -> None:
    case_id = _case_with_an_exhibit(portal)
    sign_in(page, portal, "dana")
    page.goto(f"{portal.url}/cases/{case_id}")
    page.get_by_role("link", name="Court bundles").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}/bundles$"))
    page.get_by_role("button", name="Make a court bundle").click()
    expect(page.locator("p.flash")).to_contain_text("Court bundle asked for")
    # The page reloads itself while the worker builds; then the download is offered.
    download_link = page.get_by_role("link", name=re.compile(r"^Download"))
    expect(download_link).to_be_visible(timeout=60_000)
    expect(page.locator("td.state").first).to_have_text("Complete")
    with page.expect_download() as downloading:
        download_link.click()
    saved = tmp_path / "court-bundle.zip"
    downloading.value.save_as(saved)
    verdict = verify_bundle(saved)
    assert verdict.failure is None, verdict.failure
    assert verdict.recordings == 1
    checked = _ok(portal.data_dir, "bundle", "verify", str(saved))
    assert "intact" in checked
