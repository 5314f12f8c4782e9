"""Probing does not reveal what is hidden, and nobody narrows who sees footage but those
whose job it is (issue 11, points 2 and 3).

A hold over an officer's footage in a time window is for roles that may act on any
footage; anyone else hears the same refusal whether the officer and their footage exist or
not, and before anything is looked up. A confidential category (the one complaints use)
is given or taken away only by professional standards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from custody.services.system import System
from tests.apps import app_for
from tests.people import Force, make_force, store_recording

WINDOW = {"since": "2026-09-30T00:00:00Z", "until": "2026-10-02T00:00:00Z"}
EMPTY_WINDOW = {"since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"}


@pytest.fixture
def force(sqlite_system: System) -> Force:
    return make_force(sqlite_system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system)) as test_client:
        yield test_client


def hold_window(client: TestClient, force: Force, who: str, **body: Any) -> tuple[int, Any]:
    answer = client.post(
        "/api/v1/holds",
        json={"kind": "legal", "reason": "probing", **body},
        headers=force.auth(who),
    )
    return answer.status_code, answer.json()


def test_a_hold_by_officer_and_window_tells_no_one_else_what_footage_exists(
    client: TestClient, force: Force
) -> None:
    store_recording(force)  # alice's, inside WINDOW
    for who in ("gus", "dana", "alice", "bob", "fran", "root"):
        answers = [
            hold_window(client, force, who, officer="1234AB", **WINDOW),  # footage
            hold_window(client, force, who, officer="1234AB", **EMPTY_WINDOW),  # none
            hold_window(client, force, who, officer="9999ZZ", **WINDOW),  # no such officer
        ]
        # One answer for all three, and it names no recording.
        assert answers[0] == answers[1] == answers[2], who
        status, body = answers[0]
        assert status == 403, (who, body)
        assert not any(part in body["error"]["message"] for part in ("1234AB", "no recording"))
    status, placed = hold_window(client, force, "erin", officer="1234AB", **WINDOW)
    assert status == 201 and len(placed) == 1


def _categories(client: TestClient, force: Force, rid: str, who: str) -> list[str]:
    answer = client.get(f"/api/v1/recordings/{rid}", headers=force.auth(who))
    assert answer.status_code == 200, answer.text
    categories: list[str] = answer.json()["categories"]
    return categories


def test_only_professional_standards_give_or_take_the_complaint_category(
    client: TestClient, force: Force
) -> None:
    rid = store_recording(force)
    path = f"/api/v1/recordings/{rid}/categories"
    for who in ("alice", "bob"):
        refused = client.put(path, json={"categories": ["Complaint"]}, headers=force.auth(who))
        assert refused.status_code == 403, refused.text
        assert _categories(client, force, rid, "erin") == []
    restore = client.post(
        f"/api/v1/recordings/{rid}/restore",
        json={"category": "Complaint", "reason": "keep it"},
        headers=force.auth("root"),
    )
    assert restore.status_code in (403, 409) and _categories(client, force, rid, "erin") == []
    placed = client.put(path, json={"categories": ["Complaint"]}, headers=force.auth("erin"))
    assert placed.status_code == 200, placed.text
    # Nor may the officer (who now sees only that it exists) or her supervisor undo it.
    for who in ("alice", "bob"):
        undone = client.put(
            path, json={"categories": [], "reason": "not a complaint"}, headers=force.auth(who)
        )
        assert undone.status_code in (403, 404), undone.text
    assert _categories(client, force, rid, "erin") == ["Complaint"]


def test_the_officer_sees_no_sign_of_the_complaint_category_on_her_own_footage(
    client: TestClient, force: Force
) -> None:
    rid = store_recording(force)
    placed = client.put(
        f"/api/v1/recordings/{rid}/categories",
        json={"categories": ["Complaint"]},
        headers=force.auth("erin"),
    )
    assert placed.status_code == 200, placed.text
    page = client.get("/footage", headers=force.auth("alice"))
    assert page.status_code == 200
    # She may know it exists (it is her footage), not why it is kept or who may see it.
    assert rid in page.text and "Complaint" not in page.text and "complaint" not in page.text
    found = client.get("/search?category=Complaint", headers=force.auth("alice"))
    assert found.status_code == 200 and rid not in found.text
    standards = client.get("/search?category=Complaint", headers=force.auth("erin"))
    assert standards.status_code == 200 and rid in standards.text
