"""Issue 12, points 1 to 5, in real Chromium, each as the role whose job it is: professional
standards hold footage and register a complaint, a supervisor signs off the team's footage
on the compliance page, an investigator looks after a case, an auditor searches, exports
and verifies the log and reads one recording's trail.

Their footage is a Walthamstow officer's, docked into the package's server by this module
(recorded 26 days ago, so that the sweep would take it within 7 days), and no other test
touches it: each test uses recordings of its own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from custody.camera.simulator import simulate_camera
from custody.dock.agent import DockAgent
from custody.web.portal.pages import DISPLAY_ZONE
from tests.browser.conftest import PASSWORD, Portal, _ok, sign_in

WARRANT = "7777WF"


@dataclass
class Force:
    """Wes Ford's four recordings (oldest first) and who looks after them."""

    recordings: list[str]
    started: list[datetime]
    tokens: dict[str, str]

    def api(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="module")
def force(portal: Portal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Force]:
    data_dir = portal.data_dir
    _ok(data_dir, "fleet", "add-officer", WARRANT, "--name", "Wes Ford", "--unit", "Walthamstow")
    dock_token = _ok(data_dir, "fleet", "add-dock", "Walthamstow-1")
    people = {"priya": ("PSD", True), "sam": ("Walthamstow", False), "audrey": (None, True)}
    roles = {"priya": "professional_standards", "sam": "supervisor", "audrey": "auditor"}
    for name, (unit, force_wide) in people.items():
        # A role that sees footage force-wide is given only when a second administrator
        # approves it (docs/access.md): admin asks, root approves.
        first = "fleet_manager" if force_wide else roles[name]
        code = _ok(
            data_dir, "users", "add", name, "--role", first, *(["--unit", unit] * bool(unit))
        )
        _ok(data_dir, "users", "complete-reset", stdin=f"{code}\n{PASSWORD}\n")
        if force_wide:
            asked = _ok(data_dir, "users", "request-role", name, roles[name])
            _ok(data_dir, "users", "approve-role", asked, "--as", "root")
    tokens = {name: _ok(data_dir, "users", "token", "--as", name) for name in (*people, "dana")}
    bay = tmp_path_factory.mktemp("walthamstow") / "bay"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=26)
    made = simulate_camera(
        bay, serial="BWV-0707", officer_id=WARRANT, recordings=4, duration=4, start=start
    )
    _ok(data_dir, "fleet", "add-camera", "--from", str(bay), "--officer", WARRANT)
    with DockAgent(portal.url, dock_token, [bay]) as agent:
        assert agent.run_once().ok
    ids = [r.manifest.recording_id for r in made]
    deadline = time.monotonic() + 120
    for rid in ids:
        while True:
            answer = httpx.get(
                f"{portal.url}/api/v1/recordings/{rid}",
                headers={"Authorization": f"Bearer {tokens['priya']}"},
            )
            if answer.status_code == 200 and answer.json()["state"] == "playable":
                break
            assert time.monotonic() < deadline, f"not probed in time: {answer.text}"
            time.sleep(0.3)
    yield Force(ids, [r.manifest.started_at for r in made], tokens)


def local(moment: datetime) -> str:
    """A time as a datetime-local field takes it: the portal's own zone, to the minute."""
    return moment.astimezone(DISPLAY_ZONE).strftime("%Y-%m-%dT%H:%M")


def flash(page: Page) -> object:
    return expect(page.locator("p.flash"))


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def open_case(force: Force, portal: Portal, reference: str, recordings: list[str]) -> int:
    """dana's case, opened and filled through the API (the portal's own form is
    test_portal's): the case's page is what these tests are about."""
    auth = force.api("dana")
    made = httpx.post(
        f"{portal.url}/api/v1/cases",
        json={"reference": reference, "title": f"Walthamstow {reference}"},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    case_id: int = made.json()["id"]
    for rid in recordings:
        added = httpx.post(
            f"{portal.url}/api/v1/cases/{case_id}/recordings",
            json={"recording_id": rid, "reason": "the affray"},
            headers=auth,
        )
        assert added.status_code == 201, added.text
    return case_id


def test_professional_standards_hold_a_recording_an_officers_window_and_a_case(
    page: Page, portal: Portal, force: Force
) -> None:
    """Point 1: no API token needed; every hold placed is seen in the list and lifted."""
    first, second = force.recordings[0], force.recordings[1]
    case_id = open_case(force, portal, "01/777/26", [second])
    sign_in(page, portal, "priya")

    # One recording, from its page.
    page.goto(f"{portal.url}/recordings/{first}")
    page.locator("summary", has_text="Place a hold").click()
    page.locator("#hold_kind").select_option("legal")
    page.get_by_label("Why it is held").fill("Civil claim CL-31 against the force")
    page.get_by_role("button", name="Place hold").click()
    expect(page.locator("p.flash")).to_contain_text("Hold placed")
    expect(page.get_by_text("Civil claim CL-31 against the force")).to_be_visible()
    page.locator("summary", has_text="Lift this hold").click()
    page.get_by_label("Why it is lifted").fill("Claim settled")
    page.get_by_role("button", name="Lift hold").click()
    expect(page.locator("p.flash")).to_contain_text("Hold lifted")
    expect(page.get_by_text("Civil claim CL-31 against the force")).to_have_count(0)

    # An officer's footage over a window: from their recording, to the holds page's form.
    page.get_by_role("link", name="Hold Wes Ford's footage over a time").click()
    expect(page.get_by_label("Officer's warrant number")).to_have_value(WARRANT)
    page.get_by_label("From").fill(local(force.started[0] - timedelta(minutes=1)))
    page.get_by_label("To").fill(local(force.started[-1] + timedelta(minutes=2)))
    page.get_by_label("Kind").select_option("complaint")
    page.get_by_label("Why it is held").fill("Early complaint about the Walthamstow stop")
    page.get_by_role("button", name="Hold footage").click()
    expect(page.locator("p.flash")).to_have_text(f"4 recordings of {WARRANT} held.")
    rows = page.locator("tr", has_text="Early complaint about the Walthamstow stop")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Wes Ford")
    expect(rows.first).to_contain_text("In force")

    # A whole case, from its page.
    page.goto(f"{portal.url}/cases/{case_id}")
    page.locator("summary", has_text="Hold the case's footage").click()
    page.locator("#hold_kind").select_option("legal")
    page.get_by_label("Why it is held").fill("Appeal expected in 01/777/26")
    page.get_by_role("button", name="Place hold").click()
    expect(page.locator("p.flash")).to_contain_text("Hold placed on 1 recording of the case")
    holds = page.locator("#holds + ul")
    expect(holds.locator("li", has_text="Appeal expected in 01/777/26")).to_have_count(1)
    # The complaint hold on the same recording shows here too, to professional standards.
    expect(holds.locator("li", has_text="Early complaint")).to_have_count(1)
    held = holds.locator("li", has_text="Appeal expected in 01/777/26")
    held.locator("summary", has_text="Lift this hold").click()
    held.get_by_label("Why it is lifted").fill("No appeal")
    held.get_by_role("button", name="Lift hold").click()
    expect(page.locator("p.flash")).to_contain_text("Hold lifted")
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}#holds$"))
    expect(page.locator("#holds + ul li", has_text="Appeal expected")).to_have_count(0)

    # Back on the list, the window's holds are lifted one by one where they stand.
    nav(page, "Holds")
    for _ in range(4):
        row = page.locator("tr", has_text="Early complaint about the Walthamstow stop").first
        row.locator("summary").click()
        row.get_by_label("Why it is lifted").fill("Folded into complaint CO-2026-0142")
        row.get_by_role("button", name="Lift hold").click()
        expect(page.locator("p.flash")).to_contain_text("Hold lifted")
    expect(page.locator("tr", has_text="Early complaint")).to_have_count(0)
    page.get_by_role("link", name="With lifted ones").click()
    lifted = page.locator("tr", has_text="Folded into complaint CO-2026-0142")
    expect(lifted).to_have_count(4)
    expect(page.locator("tr", has_text="No appeal")).to_have_count(1)


def test_a_complaint_registered_holds_its_footage_and_lists_it(
    page: Page, portal: Portal, force: Force
) -> None:
    """Point 2: the complaint's window takes the first recording, and its page lists it."""
    sign_in(page, portal, "priya")
    nav(page, "Complaints")
    page.get_by_label("Complaint reference").fill("CO-2026-0142")
    page.get_by_label("Officers complained of").fill(WARRANT)
    page.get_by_label("From").fill(local(force.started[0] - timedelta(minutes=1)))
    page.get_by_label("To").fill(local(force.started[0] + timedelta(minutes=2)))
    page.get_by_label("Place").fill("Hoe Street, E17")
    page.get_by_label("Summary").fill("Member of the public says the stop was unlawful")
    page.get_by_role("button", name="Register and hold footage").click()
    expect(page.locator("p.flash")).to_contain_text(
        "Complaint CO-2026-0142 registered: it holds 1 recording now"
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Complaint CO-2026-0142")
    expect(page.locator("#footage-title")).to_have_text("1 recording held by this complaint")
    row = page.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(WARRANT)
    expect(row.locator(".badge")).to_have_text("Held")
    expect(row.locator(f"a[href='/recordings/{force.recordings[0]}']")).to_be_visible()
    nav(page, "Complaints")
    expect(page.locator("tr", has_text="CO-2026-0142")).to_contain_text("1 recording")


def test_a_supervisor_sees_the_teams_compliance_and_signs_off_its_footage(
    page: Page, portal: Portal, force: Force
) -> None:
    """Point 3: charts drawn by the server, the team by officer, and the sign-off."""
    sign_in(page, portal, "sam")
    nav(page, "Compliance")
    expect(page.get_by_role("heading", level=1)).to_have_text("Compliance: Walthamstow")
    chart = page.locator("svg.chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar.categorised")).to_have_count(8)
    expect(chart.locator("rect.bar.reviewed")).to_have_count(8)
    row = page.locator("tr", has_text="Wes Ford")
    expect(row).to_contain_text(WARRANT)
    warning = page.locator(".panel.warning")
    expect(warning).to_contain_text("will be deleted within 7 days without anyone signing")
    warning.get_by_role("button", name="Sign off the team's non-evidential footage").click()
    expect(page.locator("p.flash")).to_contain_text(re.compile(r"Signed off [1-9]\d* recording"))
    expect(page.locator(".panel.warning")).to_have_count(0)
    expect(page.locator("tr", has_text="Wes Ford").locator("td").nth(5)).not_to_have_text("0")


def test_an_investigator_closes_reopens_and_trims_a_case(
    page: Page, portal: Portal, force: Force
) -> None:
    """Point 4: the case's own controls; "Add to case" offers only other cases, and a
    refusal names the case by its reference."""
    third = force.recordings[2]
    mine = open_case(force, portal, "01/778/26", [third])
    other = open_case(force, portal, "01/779/26", [])
    sign_in(page, portal, "dana")
    page.goto(f"{portal.url}/recordings/{third}")
    choice = page.get_by_label("Add to case")
    expect(choice.locator("option", has_text="01/778/26")).to_have_count(0)
    expect(choice.locator("option", has_text="01/779/26")).to_have_count(1)
    # Meanwhile a colleague adds it to 01/779/26 from another screen.
    added = httpx.post(
        f"{portal.url}/api/v1/cases/{other}/recordings",
        json={"recording_id": third},
        headers=force.api("dana"),
    )
    assert added.status_code == 201, added.text
    choice.select_option(label="01/779/26: Walthamstow 01/779/26")
    page.get_by_role("button", name="Add to case").click()
    refusal = page.locator("#cases + p.field-error")
    # Said with the case's reference: no recording id, no case number.
    expect(refusal).to_have_text("This recording is in case 01/779/26 already")

    page.goto(f"{portal.url}/cases/{mine}")
    expect(page.locator("li.card")).to_have_count(1)
    page.get_by_role("button", name="Remove from case").click()
    expect(page.locator("#remove + p.field-error")).to_have_text("Give a reason.")
    page.get_by_label("Why it is removed").fill("Wrong incident: belongs to 01/779/26")
    page.get_by_role("button", name="Remove from case").click()
    expect(page.locator("p.flash")).to_contain_text("Removed from the case")
    expect(page.locator("li.card")).to_have_count(0)

    page.get_by_label("Why it is closed").fill("No further action")
    page.get_by_role("button", name="Close case").click()
    expect(page.locator("p.flash")).to_contain_text("Case closed")
    expect(page.locator(".eyebrow")).to_contain_text("Closed")
    expect(page.locator(".summary")).to_contain_text("No further action")
    page.get_by_label("Why it is reopened").fill("New witness came forward")
    page.get_by_role("button", name="Reopen case").click()
    expect(page.locator("p.flash")).to_contain_text("Case reopened")
    expect(page.locator(".eyebrow")).to_contain_text("Open")


def test_an_auditor_searches_exports_and_verifies_the_log_and_reads_a_trail(
    page: Page, portal: Portal, force: Force
) -> None:
    """Point 5: who did what, by person, recording and time; the CSV; "verify now" as the
    command does; the recording's PDF from its page and a trail in plain English, one line
    for a playback of many ranges."""
    fourth = force.recordings[3]
    for start in (0, 1000, 2000):  # one playback, three ranges, by professional standards
        played = httpx.get(
            f"{portal.url}/api/v1/recordings/{fourth}/media",
            headers=force.api("priya") | {"Range": f"bytes={start}-{start + 999}"},
        )
        assert played.status_code == 206, played.text
    sign_in(page, portal, "audrey")
    nav(page, "Audit")

    page.get_by_label("Person").fill("priya")
    page.get_by_role("button", name="Search", exact=True).click()
    found = page.locator("table.data tbody tr")
    expect(found.first).to_be_visible()
    expect(found.first).to_contain_text("priya")
    page.get_by_label("Person").fill("")
    page.get_by_label("Recording").fill(fourth)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(found.filter(has_text="Played the footage")).to_have_count(1)
    expect(found.filter(has_text="priya")).not_to_have_count(0)
    # By time: an hour from now holds nothing yet.
    later = datetime.now(UTC) + timedelta(hours=1)
    page.get_by_label("From").fill(local(later))
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("Nothing in the log matches.")).to_be_visible()
    page.get_by_label("From").fill(local(datetime.now(UTC) - timedelta(hours=1)))
    page.get_by_role("button", name="Search", exact=True).click()
    expect(found.filter(has_text="Played the footage")).to_have_count(1)

    csv = page.get_by_role("link", name="Export as CSV")
    answer = page.request.get(f"{portal.url}{csv.get_attribute('href')}")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.text().splitlines()
    assert len(lines) >= 2 and fourth in answer.text()

    page.get_by_role("button", name="Verify now").click()
    check = page.locator("ul.verifications li").first
    expect(check).to_contain_text(re.compile(r"events checked|Intact"))
    expect(check.locator(".badge")).to_have_text("Intact", timeout=60_000)
    expect(check).to_contain_text("audrey")

    page.goto(f"{portal.url}/recordings/{fourth}")
    pdf = page.get_by_role("link", name="Continuity record (PDF)")
    answer = page.request.get(f"{portal.url}{pdf.get_attribute('href')}")
    assert answer.status == 200 and answer.body().startswith(b"%PDF")
    page.get_by_role("link", name="Audit trail of this recording").click()
    readable = page.locator("table.readable")
    expect(readable.locator("tr", has_text="Played the footage")).to_have_count(1)
    expect(readable.locator("tr", has_text="Played the footage")).to_contain_text("priya")
    expect(readable).not_to_contain_text("user:recording:")
