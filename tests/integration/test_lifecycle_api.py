"""The evidence lifecycle through /api/v1, person by person, on SQLite and PostgreSQL:
categories, categorisation, annotations, evidence flags, cases, holds, restore, review."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from custody.db.models import AuditEvent, Recording
from custody.domain.clock import isoformat, parse_time
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import START
from tests.integration.lifecycle_world import Clients, World, build_world
from tests.snapshots import world_of

DAY = timedelta(days=1)


@pytest.fixture
def world(system: System) -> World:
    return world_of(build_world, system)


@pytest.fixture
def api(world: World) -> Iterator[Clients]:
    clients = world.client(app_for(world.system))
    with clients.client:
        yield clients


def _audits(system: System, tag: str, allowed: bool | None = None) -> list[AuditEvent]:
    with system.unit_of_work() as uow:
        query = select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.seq)
        if allowed is not None:
            query = query.where(AuditEvent.allowed == allowed)
        return list(uow.session.scalars(query))


def _audit_count(system: System) -> int:
    with system.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def _due(world: World, rid: str) -> str | None:
    due = world.row(rid).delete_due_at
    return isoformat(due) if due else None


# --- categories --------------------------------------------------------------------------


def test_everyone_signed_in_sees_the_default_categories(api: Clients) -> None:
    answer = api.as_("alice").get("/api/v1/categories")
    assert answer.status_code == 200
    by_name = {c["name"]: c for c in answer.json()}
    assert by_name["Uncategorised"]["retention_days"] == 31
    assert by_name["Uncategorised"]["assignable"] is False
    assert by_name["Non-evidential"]["evidential"] is False
    assert by_name["Use of force"]["retention"] == "until manually deleted"
    assert by_name["Complaint"]["access_class"] == "confidential"
    assert api.client.get("/api/v1/categories").status_code == 401


def test_administrators_manage_categories_and_others_are_refused(
    world: World, api: Clients
) -> None:
    body = {
        "name": "Firearms discharge",
        "retention_days": None,
        "review_days": 365,
        "access_class": "restricted",
    }
    refused = api.as_("alice").post("/api/v1/categories", json=body)
    assert refused.status_code == 403
    assert _audits(world.system, "user:system:manage_categories", allowed=False)
    created = api.as_("admin2").post("/api/v1/categories", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["retention"] == "until manually deleted"
    again = api.as_("admin2").post("/api/v1/categories", json=body)
    assert again.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Training", "retention_days": 60, "evidential": False},
        {"name": "Quick", "retention_days": 5},
        {"name": "Odd", "retention_days": 100, "access_class": "secret"},
        {"name": "", "retention_days": 100},
        {"name": "No retention given"},
    ],
)
def test_bad_categories_get_a_clear_4xx_and_change_nothing(
    world: World, api: Clients, body: dict[str, Any]
) -> None:
    before = api.as_("admin2").get("/api/v1/categories").json()
    answer = api.as_("admin2").post("/api/v1/categories", json=body)
    assert answer.status_code in (400, 422)
    assert answer.json()["error"]["message"]
    assert api.as_("admin2").get("/api/v1/categories").json() == before


def test_changing_a_category_decides_its_recordings_again_with_notice(
    world: World, api: Clients, clock: Any
) -> None:
    rid = world.record()
    assert (
        api.as_("alice")
        .put(f"/api/v1/recordings/{rid}/categories", json={"categories": ["Stop and search"]})
        .status_code
        == 200
    )
    assert _due(world, rid) == isoformat(START + 365 * DAY)
    category = next(
        c
        for c in api.as_("admin2").get("/api/v1/categories").json()
        if c["name"] == "Stop and search"
    )
    clock.set(START + 200 * DAY)
    changed = api.as_("admin2").patch(
        f"/api/v1/categories/{category['id']}",
        json={"retention_days": 90, "reason": "policy change"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["recordings_decided_again"] == 1
    # Day 90 is long past: the recording gets the 7-day notice instead of vanishing at once.
    assert _due(world, rid) == isoformat(START + 207 * DAY)
    (event,) = _audits(world.system, "user:category:update")
    assert event.reason == "policy change"
    uncategorised = next(
        c
        for c in api.as_("admin2").get("/api/v1/categories").json()
        if c["name"] == "Uncategorised"
    )
    frozen = api.as_("admin2").patch(
        f"/api/v1/categories/{uncategorised['id']}", json={"retention_days": 60}
    )
    assert frozen.status_code == 409


@pytest.mark.parametrize("field", ["name", "description", "access_class", "evidential", "retired"])
def test_a_category_change_refuses_null_where_null_means_nothing(
    world: World, api: Clients, field: str
) -> None:
    body = {
        "name": "Firearms discharge",
        "retention_days": 400,
        "review_days": 365,
        "access_class": "restricted",
    }
    category = api.as_("admin2").post("/api/v1/categories", json=body).json()
    url = f"/api/v1/categories/{category['id']}"
    answer = api.as_("admin2").patch(url, json={field: None})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["message"]
    shown = {c["id"]: c for c in api.as_("admin2").get("/api/v1/categories").json()}
    assert shown[category["id"]] == category
    # Null keeps its meaning where it has one: kept until manually deleted, no review.
    kept = api.as_("admin2").patch(url, json={"retention_days": None, "review_days": None})
    assert kept.status_code == 200, kept.text
    assert kept.json()["retention"] == "until manually deleted"
    assert kept.json()["review_days"] is None


# --- categorisation ----------------------------------------------------------------------


def test_officers_categorise_their_own_footage_and_supervisors_their_teams(
    world: World, api: Clients
) -> None:
    rid = world.record("1234AB")
    url = f"/api/v1/recordings/{rid}/categories"
    assert _due(world, rid) == isoformat(START + 30 * DAY)
    own = api.as_("alice").put(url, json={"categories": ["Arrest", "Non-evidential"]})
    assert own.status_code == 200, own.text
    assert own.json()["rule"] == "category:Arrest"
    assert _due(world, rid) == isoformat(START + 7 * 365 * DAY)
    # bob is another officer, carol supervises another team: the recording is not theirs.
    assert api.as_("bob").put(url, json={"categories": []}).status_code == 404
    assert api.as_("carol").put(url, json={"categories": []}).status_code == 404
    assert _audits(world.system, "user:recording:categorise", allowed=False)
    team = api.as_("sam").put(url, json={"categories": ["Public order"], "reason": "not an arrest"})
    assert team.status_code == 200, team.text
    assert _due(world, rid) == isoformat(START + 6 * 365 * DAY)
    changes = _audits(world.system, "user:recording:categorise", allowed=True)
    assert [json.loads(e.details)["removed"] for e in changes] == [[], ["Arrest", "Non-evidential"]]
    assert changes[-1].reason == "not an arrest"


def test_removing_a_category_needs_a_reason_and_bad_input_changes_nothing(
    world: World, api: Clients
) -> None:
    rid = world.record()
    url = f"/api/v1/recordings/{rid}/categories"
    api.as_("alice").put(url, json={"categories": ["Arrest"]})
    due = _due(world, rid)
    events = _audit_count(world.system)
    for body in (
        {"categories": []},
        {"categories": ["No such category"]},
        {"categories": ["Uncategorised"]},
        {"categories": "Arrest"},
        {},
    ):
        answer = api.as_("alice").put(url, json=body)
        assert answer.status_code in (400, 422), body
        assert answer.json()["error"]["code"] in ("invalid_input", "invalid_request")
    assert _due(world, rid) == due
    assert _audit_count(world.system) == events
    assert (
        api.as_("alice")
        .put(
            "/api/v1/recordings/00000000-0000-0000-0000-000000000000/categories",
            json={"categories": []},
        )
        .status_code
        == 404
    )


def test_restricted_footage_cannot_be_recategorised_by_its_own_officer(
    world: World, api: Clients
) -> None:
    """Waukesha: use-of-force footage must not be quietly made routine by the officer in it."""
    rid = world.record()
    url = f"/api/v1/recordings/{rid}/categories"
    assert api.as_("alice").put(url, json={"categories": ["Use of force"]}).status_code == 200
    assert world.row(rid).access_class == "restricted"
    assert world.row(rid).delete_due_at is None
    undo = api.as_("alice").put(url, json={"categories": ["Non-evidential"], "reason": "oops"})
    assert undo.status_code == 403
    assert world.row(rid).delete_due_at is None


# --- annotations -------------------------------------------------------------------------


def test_titles_references_tags_notes_and_bookmarks(world: World, api: Clients) -> None:
    rid = world.record(seconds=120)
    base = f"/api/v1/recordings/{rid}"
    set_ = api.as_("alice").patch(
        f"{base}/annotations",
        json={
            "title": "Stop on Mare Street",
            "reference": "CAD 1234/01OCT26",
            "tags": ["Mare-St", "car"],
        },
    )
    assert set_.status_code == 200, set_.text
    assert set_.json()["tags"] == ["car", "mare-st"]
    assert (
        api.as_("alice").post(f"{base}/notes", json={"text": "Driver cooperative."}).status_code
        == 201
    )
    mark = api.as_("alice").post(f"{base}/bookmarks", json={"at_seconds": 42.5, "label": "search"})
    assert mark.status_code == 201
    assert (
        api.as_("alice")
        .post(f"{base}/bookmarks", json={"at_seconds": 500, "label": "x"})
        .status_code
        == 400
    )
    assert (
        api.as_("alice")
        .post(f"{base}/bookmarks", json={"at_seconds": -1, "label": "x"})
        .status_code
        == 422
    )
    assert (
        api.as_("alice").patch(f"{base}/annotations", json={"tags": ["no spaces"]}).status_code
        == 400
    )
    view = api.as_("alice").get(base).json()
    assert view["title"] == "Stop on Mare Street"
    assert view["reference"] == "CAD 1234/01OCT26"
    assert [n["text"] for n in view["notes"]] == ["Driver cooperative."]
    assert [(b["at_seconds"], b["label"]) for b in view["bookmarks"]] == [(42.5, "search")]
    gone = api.as_("alice").delete(f"{base}/bookmarks/{mark.json()['id']}")
    assert gone.status_code == 204
    assert api.as_("alice").get(base).json()["bookmarks"] == []
    assert api.as_("bob").post(f"{base}/notes", json={"text": "x"}).status_code == 404


# --- evidence flags and cases ------------------------------------------------------------


def _case(api: Clients, who: str = "ivan", reference: str = "CRIS 0101234/26", **extra: Any) -> Any:
    answer = api.as_(who).post(
        "/api/v1/cases", json={"reference": reference, "title": "Robbery, Mare Street", **extra}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_recording_in_an_open_case_is_kept_and_closing_applies_the_disposal(
    world: World, api: Clients, clock: Any
) -> None:
    rid = world.record()
    case = _case(api, disposal_days=90)
    # Outside his cases ivan needs a reason; the case he adds it to is that reason.
    added = api.as_("ivan").post(
        f"/api/v1/cases/{case['id']}/recordings",
        json={"recording_id": rid, "reason": "suspect's car"},
    )
    assert added.status_code == 201, added.text
    assert world.row(rid).delete_due_at is None
    assert world.row(rid).retention_rule == "case:open"
    # alice works on no case: the case is not hers to see.
    assert (
        api.as_("alice")
        .post(f"/api/v1/cases/{case['id']}/recordings", json={"recording_id": rid})
        .status_code
        == 404
    )
    clock.set(START + 100 * DAY)
    closed = api.as_("ivan").post(
        f"/api/v1/cases/{case['id']}/close", json={"reason": "charged; trial concluded"}
    )
    assert closed.status_code == 200, closed.text
    assert _due(world, rid) == isoformat(START + 190 * DAY)
    reopened = api.as_("ivan").post(f"/api/v1/cases/{case['id']}/reopen", json={"reason": "appeal"})
    assert reopened.status_code == 200
    assert world.row(rid).delete_due_at is None
    shown = api.as_("ivan").get(f"/api/v1/cases/{case['id']}").json()
    assert [r["recording_id"] for r in shown["recordings"]] == [rid]
    assert api.as_("sam").get(f"/api/v1/cases/{case['id']}").status_code == 404
    assert api.as_("alice").get("/api/v1/cases").status_code == 403
    assert _audits(world.system, "user:case:close")[0].reason == "charged; trial concluded"


def test_evidence_flags_keep_footage_until_cleared_with_notice(
    world: World, api: Clients, clock: Any
) -> None:
    rid = world.record()
    url = f"/api/v1/recordings/{rid}/evidence"
    # Not in any case of his: ivan may not flag it; sam, alice's supervisor, may.
    assert api.as_("ivan").post(url, json={"reason": "x"}).status_code == 403
    assert api.as_("sam").post(url, json={"reason": ""}).status_code == 422
    flag = api.as_("sam").post(url, json={"reason": "assault on officer"})
    assert flag.status_code == 201, flag.text
    assert world.row(rid).delete_due_at is None
    clock.set(START + 45 * DAY)
    cleared = api.as_("sam").post(
        f"{url}/{flag.json()['id']}/clear", json={"reason": "no further action"}
    )
    assert cleared.status_code == 200, cleared.text
    # Long past its 31 days: it goes after a week's notice, not at the next sweep.
    assert _due(world, rid) == isoformat(START + 52 * DAY)
    assert (
        api.as_("sam")
        .post(f"{url}/{flag.json()['id']}/clear", json={"reason": "again"})
        .status_code
        == 404
    )


# --- holds -------------------------------------------------------------------------------


def test_a_complaint_hold_is_invisible_to_the_officer_it_concerns(
    world: World, api: Clients, clock: Any
) -> None:
    """Surrey: footage a complaint concerns must not be deleted, and the officer must not know."""
    rid = world.record("1234AB")
    other = world.record("1234AB")
    clock.set(START + 25 * DAY)
    before = api.as_("alice").get(f"/api/v1/recordings/{rid}").json()
    pending_before = api.as_("alice").get("/api/v1/retention/pending").json()
    assert before["pending_deletion"] is True
    assert rid in [i["id"] for i in pending_before["items"]]
    # Only professional standards place complaint holds.
    assert api.as_("ivan").post(
        "/api/v1/holds", json={"kind": "complaint", "reason": "x", "recording_ids": [rid]}
    ).status_code in (403, 404)
    placed = api.as_("pat").post(
        "/api/v1/holds",
        json={
            "kind": "complaint",
            "reason": "complaint PSD/26/0042",
            "officer": "1234AB",
            "since": isoformat(START - DAY),
            "until": isoformat(START + DAY),
        },
    )
    assert placed.status_code == 201, placed.text
    assert sorted(h["recording_id"] for h in placed.json()) == sorted([rid, other])
    assert world.row(rid).delete_due_at is None
    # alice sees exactly what she saw before: no hold, the same date, still pending.
    after = api.as_("alice").get(f"/api/v1/recordings/{rid}").json()
    assert after == before
    assert api.as_("alice").get("/api/v1/retention/pending").json() == pending_before
    assert api.as_("alice").get("/api/v1/holds").json() in ([], {"error": None}) or (
        api.as_("alice").get("/api/v1/holds").status_code in (403, 404)
    )
    assert api.as_("sam").get(f"/api/v1/recordings/{rid}").json().get("holds", []) == []
    # Professional standards and auditors see it.
    seen = api.as_("pat").get(f"/api/v1/recordings/{rid}").json()
    assert [h["kind"] for h in seen["holds"]] == ["complaint"]
    assert seen["retention"]["rule"] == "hold:complaint"
    assert len(api.as_("audrey").get("/api/v1/holds").json()) == 2
    # The sweep keeps it past the 31 days.
    clock.set(START + 40 * DAY)
    report = api.as_("admin2").post("/api/v1/retention/run")
    assert report.status_code == 200, report.text
    assert world.row(rid).state != "deleted"
    hold_id = next(h["id"] for h in placed.json() if h["recording_id"] == rid)
    assert api.as_("sam").post(
        f"/api/v1/holds/{hold_id}/lift", json={"reason": "x"}
    ).status_code in (403, 404)
    lifted = api.as_("pat").post(
        f"/api/v1/holds/{hold_id}/lift", json={"reason": "complaint not upheld"}
    )
    assert lifted.status_code == 200, lifted.text
    assert _due(world, rid) == isoformat(START + 47 * DAY)


def test_legal_holds_need_a_reason_and_a_known_recording(world: World, api: Clients) -> None:
    rid = world.record()
    events = _audit_count(world.system)
    for body in (
        {"kind": "legal", "reason": "", "recording_ids": [rid]},
        {"kind": "gag", "reason": "x", "recording_ids": [rid]},
        {"kind": "legal", "reason": "x"},
        {"kind": "legal", "reason": "x", "officer": "1234AB"},
        {"kind": "legal", "reason": "x", "recording_ids": [rid], "officer": "1234AB"},
    ):
        assert api.as_("pat").post("/api/v1/holds", json=body).status_code in (400, 422), body
    assert _audit_count(world.system) == events
    missing = api.as_("pat").post(
        "/api/v1/holds",
        json={"kind": "legal", "reason": "civil claim", "recording_ids": [rid, "nope"]},
    )
    assert missing.status_code == 404
    assert world.row(rid).delete_due_at is not None  # all or nothing
    held = api.as_("pat").post(
        "/api/v1/holds", json={"kind": "legal", "reason": "civil claim", "recording_ids": [rid]}
    )
    assert held.status_code == 201
    assert world.row(rid).retention_rule == "hold:legal"


# --- pending, restore, review ------------------------------------------------------------


def test_pending_deletion_lists_and_restore(world: World, api: Clients, clock: Any) -> None:
    mine = world.record("1234AB")
    bobs = world.record("5678CD")
    camden = world.record("9999EF")
    clock.set(START + 22 * DAY)
    assert api.as_("alice").get("/api/v1/retention/pending").json()["total"] == 0
    clock.set(START + 23 * DAY)
    assert [i["id"] for i in api.as_("alice").get("/api/v1/retention/pending").json()["items"]] == [
        mine
    ]
    assert {i["id"] for i in api.as_("sam").get("/api/v1/retention/pending").json()["items"]} == {
        mine,
        bobs,
    }
    assert api.as_("admin2").get("/api/v1/retention/pending").json()["total"] == 3
    assert api.as_("alice").post(
        f"/api/v1/recordings/{mine}/restore", json={"category": "Arrest", "reason": "x"}
    ).status_code in (403, 404)
    plain = api.as_("admin2").post(
        f"/api/v1/recordings/{bobs}/restore",
        json={"category": "Non-evidential", "reason": "looked at it"},
    )
    assert plain.status_code == 200
    assert plain.json()["extended"] is False
    assert _due(world, bobs) == isoformat(START + 30 * DAY)
    restored = api.as_("admin2").post(
        f"/api/v1/recordings/{mine}/restore",
        json={"category": "Arrest", "reason": "officer reports an arrest"},
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["extended"] is True
    assert _due(world, mine) == isoformat(START + 7 * 365 * DAY)
    again = api.as_("admin2").post(
        f"/api/v1/recordings/{mine}/restore", json={"category": "Arrest", "reason": "again"}
    )
    assert again.status_code == 409
    assert _audits(world.system, "user:recording:restore")[-1].reason == (
        "officer reports an arrest"
    )
    assert camden


def test_the_review_queue_lists_retained_footage_whose_review_has_come(
    world: World, api: Clients, clock: Any
) -> None:
    rid = world.record()
    api.as_("alice").put(
        f"/api/v1/recordings/{rid}/categories", json={"categories": ["Stop and search"]}
    )
    assert api.as_("admin2").get("/api/v1/retention/review-queue").json()["total"] == 0
    clock.set(START + 181 * DAY)
    queue = api.as_("sam").get("/api/v1/retention/review-queue").json()
    assert [i["id"] for i in queue["items"]] == [rid]
    assert api.as_("alice").get("/api/v1/retention/review-queue").status_code == 403
    reviewed = api.as_("sam").post(
        f"/api/v1/recordings/{rid}/review", json={"note": "scrutiny panel asked to keep it"}
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["review_due_at"] == isoformat(START + 361 * DAY)
    assert api.as_("sam").get("/api/v1/retention/review-queue").json()["total"] == 0


def test_preview_says_what_would_go_and_why_without_deleting(world: World, api: Clients) -> None:
    old = world.record(started_at=START - 40 * DAY)
    kept = world.record(started_at=START - 40 * DAY)
    api.as_("pat").post(
        "/api/v1/holds", json={"kind": "legal", "reason": "claim", "recording_ids": [kept]}
    )
    fresh = world.record()
    at = isoformat(START + 31 * DAY)
    answer = api.as_("admin2").get("/api/v1/retention/preview", params={"at": at})
    assert answer.status_code == 200, answer.text
    items = {i["id"]: i for i in answer.json()["items"]}
    assert set(items) == {old, fresh}
    assert items[old]["rule"] == "uncategorised"
    assert parse_time(items[fresh]["delete_due_at"]) == START + 30 * DAY
    assert world.row(old).state == "playable"
    assert api.as_("alice").get("/api/v1/retention/preview", params={"at": at}).status_code == 403
    assert (
        api.as_("admin2").get("/api/v1/retention/preview", params={"at": "yesterday"}).status_code
        == 422
    )


def test_every_route_declares_its_access_rule(system: System) -> None:
    from custody.web.guard import check_routes

    app = app_for(system)
    problems = [
        p
        for p in check_routes(app)
        if any(
            part in p
            for part in (
                "/categories",
                "/evidence",
                "/cases",
                "/holds",
                "/retention",
                "/restore",
                "/review",
                "/annotations",
                "/notes",
                "/bookmarks",
                "/deletion-certificate",
            )
        )
    ]
    assert problems == []


def test_recording_rows_hold_the_decision(world: World) -> None:
    rid = world.record()
    with world.system.unit_of_work() as uow:
        row = uow.session.get(Recording, rid)
        assert row is not None
        assert row.retention_rule == "uncategorised"
        assert row.delete_due_at == START + 30 * DAY
