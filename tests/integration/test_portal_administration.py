"""Issue 12 point 6 in the portal, as an administrator uses it: a category's retention changed
with its effect previewed first, cameras issued, returned, retired and reported lost from
their history page, the roll-out planned, a dock's token revoked, and a search that shows an
administrator records rather than footage they may not open. Each form is checked, audited,
refused alike (and audited) to a role that may not, and leaves nothing changed on bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.db.models import AuditEvent, Camera, Dock, Recording
from custody.db.models.fleet import RolloutPhase
from custody.domain.categories import CategoryRule
from custody.domain.errors import NotAuthenticated
from custody.services.evidence import categories, holds
from custody.services.fleet import registry
from custody.services.identity import signin, users
from custody.services.system import System
from custody.web.deps import SESSION_COOKIE
from tests.apps import app_for
from tests.conftest import START, ManualClock, custody
from tests.factories import give_password
from tests.people import PASSWORD, Force, make_force, store_recording
from tests.snapshots import world_of


@pytest.fixture
def force(system: System) -> Force:
    return world_of(_force_with_passwords, system)


def _force_with_passwords(system: System) -> Force:
    found = make_force(system)
    for name in ("root", "gus", "bob", "alice", "audrey", "erin"):
        give_password(system, users.principal_named(system, "root"), name, PASSWORD)
    return found


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system), follow_redirects=False) as test_client:
        yield test_client


def as_(client: TestClient, force: Force, username: str) -> str:
    signed = signin.sign_in(force.system, username, PASSWORD)
    client.cookies.set(SESSION_COOKIE, signed.secret)
    return signed.session.csrf_token


def tags(system: System, tag: str) -> list[AuditEvent]:
    with system.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.seq)
            )
        )


def due_dates(system: System, ids: list[str]) -> dict[str, object]:
    with system.unit_of_work() as uow:
        return {
            r.id: r.delete_due_at
            for r in uow.session.scalars(select(Recording).where(Recording.id.in_(ids)))
        }


def figure(page: str, words: str) -> int:
    found = re.search(r'<span class="figure">(\d+)</span> ' + re.escape(words), page)
    assert found is not None, f"no figure for {words!r}"
    return int(found.group(1))


# --- a category's retention ----------------------------------------------------------


@pytest.fixture
def arrests(force: Force, clock: ManualClock) -> tuple[int, list[str]]:
    """Three of alice's recordings kept a year, one under a legal hold; 200 days on."""
    system = force.system
    made = categories.create_category(
        system,
        force.admin,
        CategoryRule(
            name="Football banning", retention_days=365, review_days=None, evidential=True
        ),
        force.admin.actor(),
    )
    alice = users.principal_named(system, "alice")
    ids = [store_recording(force) for _ in range(3)]
    for rid in ids:
        categories.set_categories(system, alice, rid, ["Football banning"], None, alice.actor())
    erin = users.principal_named(system, "erin")
    holds.place_hold(
        system, erin, kind="legal", reason="civil claim", actor=erin.actor(), recording_ids=ids[2:]
    )
    clock.advance(timedelta(days=200))
    return made.id, ids


def test_a_categorys_new_retention_is_previewed_then_saved_and_holds_win(
    client: TestClient, force: Force, arrests: tuple[int, list[str]]
) -> None:
    category_id, ids = arrests
    csrf = as_(client, force, "root")
    listing = client.get("/admin/categories")
    assert f'href="/admin/categories/{category_id}/retention"' in listing.text
    form = client.get(f"/admin/categories/{category_id}/retention")
    assert form.status_code == 200 and 'value="365"' in form.text
    before = due_dates(force.system, ids)
    assert before[ids[0]] == START + timedelta(days=365) and before[ids[2]] is None

    url = f"/admin/categories/{category_id}/retention"
    shorter = client.post(
        url, data={"csrf_token": csrf, "retention_days": "300", "step": "preview"}
    )
    assert shorter.status_code == 200
    assert "Nothing has changed yet" in shorter.text and "3 recordings" in shorter.text
    assert figure(shorter.text, "deleted earlier") == 2
    assert figure(shorter.text, "deleted within 7 days") == 0
    assert figure(shorter.text, "unchanged") == 1  # the held one: holds win
    assert "1 recording is kept by a hold" in shorter.text
    # Down to 31 days: recorded 200 days ago, both are due at once (after the 7 days' notice).
    soon = client.post(url, data={"csrf_token": csrf, "retention_days": "31"})
    assert figure(soon.text, "deleted within 7 days") == 2
    longer = client.post(url, data={"csrf_token": csrf, "keep": "forever"})
    assert figure(longer.text, "kept longer") == 2
    # Previews change nothing and are not saves.
    assert due_dates(force.system, ids) == before
    assert tags(force.system, "user:category:update") == []

    typed = {"csrf_token": csrf, "retention_days": "300", "reason": "MoPI review 2026"}
    # A save of a period other than the one previewed is previewed again, not saved.
    unseen = client.post(url, data={**typed, "step": "save", "previewed": "forever"})
    assert unseen.status_code == 200 and "Save again to keep it" in unseen.text
    assert 'name="previewed" value="300"' in unseen.text
    assert due_dates(force.system, ids) == before
    saved = client.post(url, data={**typed, "step": "save", "previewed": "300"})
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/categories"
    after = due_dates(force.system, ids)
    assert after[ids[0]] == after[ids[1]] == START + timedelta(days=300)
    assert after[ids[2]] is None
    (event,) = tags(force.system, "user:category:update")
    assert event.actor == "user:root" and event.reason == "MoPI review 2026"
    assert json.loads(event.details)["dates_moved"] == 2
    assert "300 days from recording" in client.get("/admin/categories").text


def test_a_complaint_hold_the_administrator_may_not_know_of_changes_nothing_they_see(
    client: TestClient, force: Force, arrests: tuple[int, list[str]]
) -> None:
    """The preview counts dates as the administrator may know them: the same figures with a
    complaint hold on a recording as without it (the sweep still keeps it: holds win)."""
    category_id, ids = arrests
    csrf = as_(client, force, "root")
    url = f"/admin/categories/{category_id}/retention"
    typed = {"csrf_token": csrf, "retention_days": "300"}

    def figures() -> tuple[str, ...]:
        page = client.post(url, data=typed).text
        return tuple(re.findall(r'<span class="figure">\d+</span> [a-z 0-9]+', page))

    without = figures()
    assert len(without) == 4 and "2</span> deleted earlier" in without[1]
    erin = users.principal_named(force.system, "erin")
    holds.place_hold(
        force.system,
        erin,
        kind="complaint",
        reason="complaint 2026/114",
        actor=erin.actor(),
        recording_ids=ids[:1],
    )
    assert figures() == without
    assert "complaint" not in client.post(url, data=typed).text.lower()
    saved = client.post(url, data={**typed, "step": "save", "previewed": "300"})
    assert saved.status_code == 303
    assert due_dates(force.system, ids)[ids[0]] is None  # the complaint hold keeps it


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ({"retention_days": "5"}, "Enter the days kept from 31 to 36600."),
        ({"retention_days": "a year"}, "Enter the days kept as a whole number."),
        ({"retention_days": "99999999999999999999"}, "Enter the days kept from 31 to 36600."),
        ({}, "Enter how many days footage is kept"),
        ({"retention_days": "400", "reason": "x" * 501}, "Use at most 500 characters."),
    ],
)
def test_bad_retention_is_refused_beside_the_field_and_changes_nothing(
    client: TestClient,
    force: Force,
    arrests: tuple[int, list[str]],
    typed: dict[str, str],
    error: str,
) -> None:
    category_id, ids = arrests
    csrf = as_(client, force, "root")
    before = due_dates(force.system, ids)
    for step in ("preview", "save"):
        answer = client.post(
            f"/admin/categories/{category_id}/retention",
            data={"csrf_token": csrf, "step": step, **typed},
        )
        assert answer.status_code == 400
        assert 'class="field-error"' in answer.text and error in answer.text
    assert due_dates(force.system, ids) == before
    assert tags(force.system, "user:category:update") == []


def test_a_form_without_its_token_changes_nothing(
    client: TestClient, force: Force, arrests: tuple[int, list[str]]
) -> None:
    category_id, ids = arrests
    as_(client, force, "root")
    before = due_dates(force.system, ids)
    answer = client.post(
        f"/admin/categories/{category_id}/retention",
        data={"retention_days": "40", "step": "save", "previewed": "40"},
    )
    assert answer.status_code == 403
    assert due_dates(force.system, ids) == before


# --- cameras -------------------------------------------------------------------------


def camera_status(system: System, serial: str) -> str:
    with system.unit_of_work() as uow:
        return uow.session.scalars(select(Camera.status).where(Camera.serial == serial)).one()


def test_a_camera_is_issued_returned_retired_and_its_history_reads(
    client: TestClient, force: Force
) -> None:
    serial = force.camera.serial
    store_recording(force)
    csrf = as_(client, force, "root")
    fleet = client.get("/fleet")
    assert f'href="/fleet/cameras/{serial}"' in fleet.text
    page = client.get(f"/fleet/cameras/{serial}")
    assert page.status_code == 200
    assert "Who had it when" in page.text and "A. Officer" in page.text
    assert figure(page.text, "recording kept") == 1
    base = f"/fleet/cameras/{serial}"

    back = client.post(
        f"{base}/return", data={"csrf_token": csrf, "return_reason": "end of posting"}
    )
    assert back.status_code == 303 and camera_status(force.system, serial) == "in_stock"
    issued = client.post(f"{base}/issue", data={"csrf_token": csrf, "officer": "5678CD"})
    assert issued.status_code == 303 and camera_status(force.system, serial) == "issued"
    lost = client.post(f"{base}/lost", data={"csrf_token": csrf, "lost_reason": "left on a bus"})
    assert lost.status_code == 303 and camera_status(force.system, serial) == "lost"
    back = client.post(f"{base}/return", data={"csrf_token": csrf, "repair": "1"})
    assert camera_status(force.system, serial) == "in_repair"
    retired = client.post(f"{base}/retire", data={"csrf_token": csrf, "retire_reason": "cracked"})
    assert retired.status_code == 303 and camera_status(force.system, serial) == "retired"

    story = client.get(base).text
    assert "C. Harlie" in story  # who had it after alice's officer
    for words in (
        "Retired the camera",
        "Reported the camera lost",
        "Issued the camera to an officer",
        "Returned the camera to stock",
        "left on a bus",
        "cracked",
        "lost → in repair",
    ):
        assert words in story, words
    assert [e.actor for e in tags(force.system, "fleet:camera:retire")] == ["user:root"]


@pytest.mark.parametrize(
    ("action", "typed", "field", "error"),
    [
        ("issue", {"officer": ""}, "officer", "Enter the officer&#39;s warrant number."),
        ("issue", {"officer": "NOBODY1"}, "officer", "No officer with warrant number"),
        ("issue", {"officer": "X" * 33}, "officer", "Use at most 32 characters."),
        ("retire", {"retire_reason": ""}, "retire_reason", "Say why the camera is retired."),
        ("lost", {"lost_reason": "y" * 501}, "lost_reason", "Use at most 500 characters."),
    ],
)
def test_bad_camera_forms_are_refused_beside_the_field(
    client: TestClient,
    force: Force,
    action: str,
    typed: dict[str, str],
    field: str,
    error: str,
) -> None:
    serial = force.camera.serial
    csrf = as_(client, force, "root")
    answer = client.post(f"/fleet/cameras/{serial}/{action}", data={"csrf_token": csrf, **typed})
    assert answer.status_code == 400
    assert f'id="{field}-error"' in answer.text and error in answer.text
    assert camera_status(force.system, serial) == "issued"


def test_a_change_the_camera_cannot_make_is_explained_beside_its_form(
    client: TestClient, force: Force
) -> None:
    serial = force.camera.serial
    csrf = as_(client, force, "root")
    client.post(
        f"/fleet/cameras/{serial}/retire", data={"csrf_token": csrf, "retire_reason": "old"}
    )
    again = client.post(
        f"/fleet/cameras/{serial}/issue", data={"csrf_token": csrf, "officer": "1234AB"}
    )
    assert again.status_code == 400 and 'id="officer-error"' in again.text
    assert "retired" in again.text
    assert camera_status(force.system, serial) == "retired"
    assert client.get("/fleet/cameras/NO-SUCH-CAMERA").status_code == 404


# --- the roll-out ------------------------------------------------------------------


def phases(system: System) -> dict[str, tuple[int, str, str]]:
    with system.unit_of_work() as uow:
        return {
            p.borough: (p.phase, p.target_date.isoformat(), p.status)
            for p in uow.session.scalars(select(RolloutPhase))
        }


def test_the_roll_out_is_planned_changed_and_a_borough_removed(
    client: TestClient, force: Force
) -> None:
    csrf = as_(client, force, "gus")
    page = client.get("/fleet/rollout")
    assert "Plan a borough" in page.text
    planned = client.post(
        "/fleet/rollout",
        data={"csrf_token": csrf, "borough": "Hackney", "phase": "1", "target_date": "2026-12-01"},
    )
    assert planned.status_code == 303
    assert phases(force.system) == {"Hackney": (1, "2026-12-01", "planned")}
    editing = client.get("/fleet/rollout?edit=Hackney")
    assert "Change Hackney" in editing.text and 'value="2026-12-01"' in editing.text
    client.post(
        "/fleet/rollout",
        data={
            "csrf_token": csrf,
            "borough": "Hackney",
            "phase": "2",
            "target_date": "2027-01-15",
            "status": "issuing",
        },
    )
    assert phases(force.system) == {"Hackney": (2, "2027-01-15", "issuing")}
    for typed, field in (
        ({"phase": "0", "target_date": "2027-01-01"}, "phase"),
        ({"phase": "1", "target_date": "next week"}, "target_date"),
        ({"phase": "1", "target_date": "0999-01-01"}, "target_date"),
        ({"phase": "1", "target_date": "2027-01-01", "status": "finished"}, "status"),
    ):
        bad = client.post("/fleet/rollout", data={"csrf_token": csrf, "borough": "Camden", **typed})
        assert bad.status_code == 400 and f'id="{field}-error"' in bad.text, typed
    assert phases(force.system) == {"Hackney": (2, "2027-01-15", "issuing")}
    removed = client.post("/fleet/rollout/remove", data={"csrf_token": csrf, "borough": "Hackney"})
    assert removed.status_code == 303 and phases(force.system) == {}
    assert [e.actor for e in tags(force.system, "fleet:rollout:remove")] == ["user:gus"]


# --- dock tokens -------------------------------------------------------------------


def test_a_docks_token_is_revoked_with_a_reason_and_opens_nothing_after(
    client: TestClient, force: Force
) -> None:
    csrf = as_(client, force, "root")
    assert 'href="/admin/docks/Hackney-1/revoke"' in client.get("/admin/docks").text
    confirm = client.get("/admin/docks/Hackney-1/revoke")
    assert confirm.status_code == 200 and "Revoke the token of Hackney-1" in confirm.text
    empty = client.post("/admin/docks/Hackney-1/revoke", data={"csrf_token": csrf, "reason": " "})
    assert empty.status_code == 400 and 'id="reason-error"' in empty.text
    assert registry.authenticate_dock(force.system, force.dock_token).name == "Hackney-1"
    done = client.post(
        "/admin/docks/Hackney-1/revoke", data={"csrf_token": csrf, "reason": "PC stolen"}
    )
    assert done.status_code == 303
    with pytest.raises(NotAuthenticated):
        registry.authenticate_dock(force.system, force.dock_token)
    (event,) = tags(force.system, "fleet:dock:revoke")
    assert (event.actor, event.object_id, event.reason) == ("user:root", "Hackney-1", "PC stolen")
    again = client.post(
        "/admin/docks/Hackney-1/revoke", data={"csrf_token": csrf, "reason": "twice"}
    )
    assert again.status_code == 400 and "revoked already" in again.text
    assert client.get("/admin/docks/Nowhere-9/revoke").status_code == 404
    with force.system.unit_of_work() as uow:
        assert uow.session.scalars(select(Dock.revoked_at)).one() is not None


# --- search as records -------------------------------------------------------------


def test_an_administrators_search_shows_records_not_pictures_or_links(
    client: TestClient, force: Force
) -> None:
    ids = [store_recording(force) for _ in range(3)]
    as_(client, force, "root")
    found = client.get("/search?view=grid")
    assert found.status_code == 200
    assert 'id="records"' in found.text and "3 recordings" in found.text
    assert "/thumbnail" not in found.text
    for rid in ids:
        assert f"/recordings/{rid}" not in found.text
        assert client.get(f"/recordings/{rid}").status_code in (403, 404)
    assert "do not watch footage" in found.text
    assert 'aria-label="Show results as"' not in found.text
    # A fleet manager lists no footage at all: told so, not shown an empty "records" table.
    as_(client, force, "gus")
    fleet = client.get("/search")
    assert "not footage" in fleet.text and "records of what is stored" not in fleet.text
    assert not any(rid in fleet.text for rid in ids)
    # Someone who may open footage still gets the pictures' grid and its links.
    as_(client, force, "audrey")
    audited = client.get("/search?view=grid")
    assert 'id="records"' not in audited.text
    assert all(f"/recordings/{rid}" in audited.text for rid in ids)


# --- who may not ------------------------------------------------------------------


ADMIN_PAGES = [
    ("get", "/admin/categories/{category}/retention", {}),
    (
        "post",
        "/admin/categories/{category}/retention",
        {"retention_days": "40", "step": "save", "previewed": "40"},
    ),
    ("post", "/admin/categories/{category}/retention", {"retention_days": "40"}),
    ("get", "/admin/docks/Hackney-1/revoke", {}),
    ("post", "/admin/docks/Hackney-1/revoke", {"reason": "x"}),
    ("post", "/fleet/cameras/{serial}/issue", {"officer": "5678CD"}),
    ("post", "/fleet/cameras/{serial}/return", {}),
    ("post", "/fleet/cameras/{serial}/retire", {"retire_reason": "x"}),
    ("post", "/fleet/cameras/{serial}/lost", {"lost_reason": "x"}),
    ("post", "/fleet/rollout", {"borough": "Camden", "phase": "1", "target_date": "2027-01-01"}),
    ("post", "/fleet/rollout/remove", {"borough": "Camden"}),
]


@pytest.mark.parametrize("who", ["alice", "bob", "audrey", "erin"])
def test_other_roles_cannot_reach_the_administrators_forms(
    client: TestClient, force: Force, arrests: tuple[int, list[str]], who: str
) -> None:
    category_id, ids = arrests
    before = due_dates(force.system, ids)
    csrf = as_(client, force, who)
    for method, path, data in ADMIN_PAGES:
        url = path.format(category=category_id, serial=force.camera.serial)
        if method == "get":
            answer = client.get(url)
        else:
            answer = client.post(url, data={"csrf_token": csrf, **data})
        assert answer.status_code in (403, 404), (who, url, answer.status_code)
        # Nothing of what is there reaches them: not the category's figures, not the dock.
        assert (
            "Football banning" not in answer.text and "Nothing has changed yet" not in answer.text
        )
        assert "bays" not in answer.text
    assert due_dates(force.system, ids) == before
    assert camera_status(force.system, force.camera.serial) == "issued"
    assert phases(force.system) == {}
    registry.authenticate_dock(force.system, force.dock_token)
    refused = [e for e in tags(force.system, "user:system:manage_fleet") if not e.allowed]
    refused += [e for e in tags(force.system, "user:system:manage_categories") if not e.allowed]
    assert refused and all(e.actor == f"user:{who}" for e in refused)


def test_a_supervisor_reads_a_cameras_history_without_its_forms(
    client: TestClient, force: Force
) -> None:
    as_(client, force, "bob")
    page = client.get(f"/fleet/cameras/{force.camera.serial}")
    assert page.status_code == 200 and "Who had it when" in page.text
    assert "Change its status" not in page.text and "/issue" not in page.text
    rollout = client.get("/fleet/rollout")
    assert rollout.status_code == 200 and "Plan a borough" not in rollout.text
    as_(client, force, "alice")
    assert client.get(f"/fleet/cameras/{force.camera.serial}").status_code == 403


def test_the_command_line_previews_and_revokes_through_the_same_use_cases(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "server"
    assert custody(data_dir, "init").returncode == 0
    assert custody(data_dir, "categories", "add", "Licensing", "--retention", "365").returncode == 0
    listed = custody(data_dir, "categories", "list").stdout
    category_id = next(
        line.split("│")[1].strip() for line in listed.splitlines() if "Licensing" in line
    )
    preview = custody(data_dir, "categories", "set", category_id, "--retention", "100", "--preview")
    assert preview.returncode == 0, preview.stderr
    assert "Licensing: 0 recording(s)" in preview.stdout and "nothing saved" in preview.stdout
    assert "365 days" in custody(data_dir, "categories", "list").stdout
    assert custody(data_dir, "fleet", "add-dock", "Spare-2").returncode == 0
    revoked = custody(data_dir, "fleet", "revoke-dock", "Spare-2", "--reason", "stolen")
    assert revoked.returncode == 0 and "token revoked" in revoked.stderr
    again = custody(data_dir, "fleet", "revoke-dock", "Spare-2", "--reason", "twice")
    assert again.returncode != 0 and "revoked already" in again.stderr


def test_text_no_database_stores_is_refused_not_a_server_error(
    client: TestClient, force: Force, arrests: tuple[int, list[str]]
) -> None:
    category_id, ids = arrests
    csrf = as_(client, force, "root")
    serial = force.camera.serial
    before = due_dates(force.system, ids)
    for url, data in (
        (f"/admin/categories/{category_id}/retention", {"retention_days": "40", "reason": "a\x00"}),
        (f"/fleet/cameras/{serial}/issue", {"officer": "12\x0034"}),
        (f"/fleet/cameras/{serial}/retire", {"retire_reason": "old\x00"}),
        ("/admin/docks/Hackney-1/revoke", {"reason": "stolen\x00"}),
        ("/fleet/rollout", {"borough": "Cam\x00den", "phase": "1", "target_date": "2027-01-01"}),
        ("/fleet/rollout/remove", {"borough": "Cam\x00den"}),
    ):
        answer = client.post(url, data={"csrf_token": csrf, **data})
        assert 400 <= answer.status_code < 500, (url, answer.status_code)
    for url in (
        "/fleet/cameras/BWV%00",
        "/admin/docks/Hackney%00/revoke",
        "/fleet/rollout?edit=a%00",
        f"/admin/categories/{2**64}/retention",
    ):
        answer = client.get(url)
        assert 400 <= answer.status_code < 500, (url, answer.status_code)
    assert due_dates(force.system, ids) == before
    assert camera_status(force.system, serial) == "issued"
    registry.authenticate_dock(force.system, force.dock_token)
