"""Nothing a person may not see reaches them: a complaint hold, compared with and without.

Two worlds are made byte for byte alike (one installation, its data directory copied),
with two recordings of alice's. Professional standards then place a complaint hold on
the second recording in the first world and on the first recording in the second: each
recording is under complaint in one world and free in the other, and everything else is
the same. alice (the officer under complaint), bob (her supervisor), dana (an
investigator with a case) and root (an administrator) then do the same things in both
worlds, through the API and the portal: every answer to every change, every list,
count, error, page and audit trail they get must be the same in both.

Only what differs by construction is set aside when comparing: an audit event's hashes
(they chain over events the person may not read, so they differ in content though not in
number) and the portal's per-session CSRF tokens.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from custody.bootstrap import build_system
from custody.config import Settings
from custody.domain.clock import ManualClock
from custody.services.system import System
from tests.conftest import START, Installer, RecordedJobs
from tests.people import Force, make_force, store_recording
from tests.snapshots import world_of

# Late in the recordings' 31 days: uncategorised footage is pending deletion, so a hold
# that keeps it would change what lists and answers say, were it not hidden.
NOW = START + timedelta(days=26)
GLOBAL = {"hash", "prev_hash"}
CSRF = re.compile(r'(name="csrf_token" value=|name="csrf-token" content=|data-csrf=)"[^"]*"')
# An audit event's hash, shown on the trail's page.
EVENT_HASH = re.compile(r'title="[0-9a-f]{64}"')
REASON = {"Custody-Reason": "operation Kestrel: footage of the arrest on 1 October"}


def normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items() if k not in GLOBAL}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


@dataclass
class Worlds:
    force: Force
    first: str  # under complaint in the second world
    second: str  # under complaint in the first world
    clients: tuple[TestClient, TestClient]

    def both(
        self,
        who: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Do the same in both worlds as `who`; the answers must be alike. Returns one."""
        answers = []
        for client in self.clients:
            answer = client.request(
                method, path, json=json, headers=self.force.auth(who) | (headers or {})
            )
            assert answer.status_code < 500, answer.text
            if answer.headers.get("content-type", "").startswith("application/json"):
                body: Any = normalised(answer.json())
            else:
                body = EVENT_HASH.sub("", CSRF.sub(r"\1", answer.text))
            answers.append((answer.status_code, body))
        assert answers[0] == answers[1], f"{who} {method} {path} tells of the complaint hold"
        return answers[0][1]


def _system(data_dir: Path) -> Any:
    return build_system(Settings(data_dir=data_dir), clock=ManualClock(NOW), jobs=RecordedJobs())


def _recorded(system: System) -> tuple[Force, str, str]:
    force = make_force(system)
    return force, store_recording(force), store_recording(force)


@pytest.fixture
def worlds(tmp_path: Path, install: Installer) -> Iterator[Worlds]:
    made = install(Settings(data_dir=tmp_path / "one"), clock=ManualClock(NOW), jobs=RecordedJobs())
    force, first, second = world_of(_recorded, made)
    made.engine.dispose()
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    systems = (_system(tmp_path / "one"), _system(tmp_path / "two"))
    with (
        TestClient(create_app_for(systems[0])) as one,
        TestClient(create_app_for(systems[1])) as two,
    ):
        worlds = Worlds(force, first, second, (one, two))
        for client, held in ((one, second), (two, first)):
            placed = client.post(
                "/api/v1/holds",
                json={"recording_ids": [held], "kind": "complaint", "reason": "complaint 42"},
                headers=force.auth("erin"),
            )
            assert placed.status_code == 201, placed.text
        yield worlds
    for system in systems:
        system.engine.dispose()


def create_app_for(system: Any) -> Any:
    from tests.apps import app_for

    return app_for(system)


def test_the_officer_under_complaint_learns_nothing_of_it(worlds: Worlds) -> None:
    w, alice = worlds, "alice"
    for rid in (w.first, w.second):
        w.both(alice, "GET", f"/api/v1/recordings/{rid}")
        w.both(alice, "GET", f"/api/v1/holds?recording_id={rid}")
        w.both(alice, "GET", f"/recordings/{rid}")  # the portal's recording page
    w.both(alice, "GET", "/api/v1/recordings")
    w.both(alice, "GET", "/api/v1/holds")
    w.both(alice, "GET", "/api/v1/retention/pending")
    w.both(alice, "GET", "/footage")
    w.both(alice, "GET", "/retention")
    # Every change she may make, to both recordings, answers the same.
    for rid in (w.first, w.second):
        w.both(
            alice, "PUT", f"/api/v1/recordings/{rid}/categories", json={"categories": ["Arrest"]}
        )
        w.both(
            alice,
            "PUT",
            f"/api/v1/recordings/{rid}/categories",
            json={"categories": [], "reason": "not an arrest after all"},
        )
        w.both(alice, "PATCH", f"/api/v1/recordings/{rid}/annotations", json={"title": "Mare St"})
        w.both(alice, "POST", f"/api/v1/recordings/{rid}/notes", json={"text": "a witness"})
        mark = w.both(
            alice,
            "POST",
            f"/api/v1/recordings/{rid}/bookmarks",
            json={"at_seconds": 3, "label": "x"},
        )
        w.both(alice, "DELETE", f"/api/v1/recordings/{rid}/bookmarks/{mark['id']}")
        # What she may not do is refused alike, held or not.
        w.both(
            alice,
            "POST",
            "/api/v1/holds",
            json={"recording_ids": [rid], "kind": "complaint", "reason": "mine"},
        )
        w.both(alice, "GET", f"/api/v1/recordings/{rid}/audit")
    # The complaint hold's own id is "no hold", word for word, in both worlds.
    for hold_id in (1, 2, 99):
        w.both(alice, "POST", f"/api/v1/holds/{hold_id}/lift", json={"reason": "let me see"})
    w.both(alice, "GET", "/api/v1/retention/pending")
    w.both(alice, "GET", "/retention")


def test_her_supervisor_learns_nothing_of_it(worlds: Worlds) -> None:
    w, bob = worlds, "bob"
    for rid in (w.first, w.second):
        w.both(bob, "GET", f"/api/v1/recordings/{rid}")
        w.both(bob, "GET", f"/api/v1/recordings/{rid}/audit")
        w.both(bob, "GET", f"/recordings/{rid}/audit")
        flag = w.both(bob, "POST", f"/api/v1/recordings/{rid}/evidence", json={"reason": "assault"})
        w.both(
            bob,
            "POST",
            f"/api/v1/recordings/{rid}/evidence/{flag['id']}/clear",
            json={"reason": "no offence disclosed"},
        )
        w.both(
            bob,
            "PUT",
            f"/api/v1/recordings/{rid}/categories",
            json={"categories": ["Public order"]},
        )
        w.both(bob, "GET", f"/api/v1/holds?recording_id={rid}")
        w.both(bob, "GET", f"/api/v1/recordings/{rid}/audit")
    for path in (
        "/api/v1/recordings",
        "/api/v1/holds",
        "/api/v1/retention/pending",
        "/api/v1/retention/review-queue",
        f"/api/v1/retention/preview?at={(NOW + timedelta(days=40)).isoformat()}",
        "/footage?team=1",
        "/retention",
        "/search",
    ):
        w.both(bob, "GET", path)
    for hold_id in (1, 2):
        w.both(bob, "POST", f"/api/v1/holds/{hold_id}/lift", json={"reason": "tidy up"})


def test_an_investigator_on_the_case_learns_nothing_of_it(worlds: Worlds) -> None:
    w, dana = worlds, "dana"
    case = w.both(
        dana, "POST", "/api/v1/cases", json={"reference": "01/123456/26", "title": "Mare St"}
    )
    for rid in (w.first, w.second):
        w.both(
            dana,
            "POST",
            f"/api/v1/cases/{case['id']}/recordings",
            json={"recording_id": rid, "reason": "the arrest"},
            headers=REASON,
        )
        w.both(dana, "GET", f"/api/v1/recordings/{rid}")
        w.both(dana, "GET", f"/api/v1/recordings/{rid}/audit")
        holds = w.both(
            dana,
            "POST",
            "/api/v1/holds",
            json={"recording_ids": [rid], "kind": "legal", "reason": "civil claim"},
        )
        w.both(dana, "GET", f"/api/v1/holds?recording_id={rid}")
        w.both(dana, "POST", f"/api/v1/holds/{holds[0]['id']}/lift", json={"reason": "settled"})
        flag = w.both(dana, "POST", f"/api/v1/recordings/{rid}/evidence", json={"reason": "key"})
        w.both(
            dana,
            "POST",
            f"/api/v1/recordings/{rid}/evidence/{flag['id']}/clear",
            json={"reason": "not needed"},
        )
        w.both(dana, "GET", f"/recordings/{rid}")
    w.both(dana, "GET", f"/api/v1/cases/{case['id']}")
    w.both(dana, "GET", f"/cases/{case['id']}")
    w.both(dana, "GET", "/api/v1/retention/review-queue")
    w.both(dana, "GET", "/api/v1/holds")
    w.both(
        dana,
        "POST",
        f"/api/v1/cases/{case['id']}/recordings/{w.first}/remove",
        json={"reason": "not relevant"},
    )
    w.both(dana, "POST", f"/api/v1/cases/{case['id']}/close", json={"reason": "charged"})
    w.both(dana, "GET", "/api/v1/recordings", headers=REASON)


def test_an_administrator_learns_nothing_of_it(worlds: Worlds) -> None:
    w, root = worlds, "root"
    w.both(root, "GET", "/api/v1/retention/pending")
    w.both(root, "GET", f"/api/v1/retention/preview?at={(NOW + timedelta(days=10)).isoformat()}")
    for rid in (w.first, w.second):
        w.both(
            root,
            "POST",
            f"/api/v1/recordings/{rid}/restore",
            json={"category": "Public order", "reason": "wanted for a review"},
        )
    categories = w.both(root, "GET", "/api/v1/categories")
    public_order = next(c for c in categories if c["name"] == "Public order")
    w.both(
        root,
        "PATCH",
        f"/api/v1/categories/{public_order['id']}",
        json={"retention_days": 60, "reason": "policy change"},
    )
    w.both(root, "GET", "/api/v1/retention/pending")


def test_professional_standards_see_what_the_others_cannot(worlds: Worlds) -> None:
    """The control: the worlds do differ, for those who may know."""
    one, two = worlds.clients
    path = f"/api/v1/recordings/{worlds.first}"
    seen = [c.get(path, headers=worlds.force.auth("erin")).json() for c in (one, two)]
    assert [h["kind"] for h in seen[0]["holds"]] == []
    assert [h["kind"] for h in seen[1]["holds"]] == ["complaint"]
    assert seen[0]["retention"]["rule"] != seen[1]["retention"]["rule"] == "hold:complaint"


def test_after_the_complaint_hold_is_lifted_nothing_shows_either(worlds: Worlds) -> None:
    """Before, during and after: lifting leaves no trace anyone else can see (not the place
    and lift events, not the hold in a list of lifted holds, not a moved notice date)."""
    w = worlds
    for client in w.clients:
        lifted = client.post(
            "/api/v1/holds/1/lift",
            json={"reason": "complaint closed"},
            headers=w.force.auth("erin"),
        )
        assert lifted.status_code == 200, lifted.text
    for who in ("alice", "bob", "dana", "root"):
        w.both(who, "GET", "/api/v1/holds?active=false")
        w.both(who, "GET", "/api/v1/retention/pending")
        for rid in (w.first, w.second):
            w.both(who, "GET", f"/api/v1/recordings/{rid}")
    for rid in (w.first, w.second):
        w.both("bob", "GET", f"/api/v1/recordings/{rid}/audit")
        w.both("bob", "GET", f"/recordings/{rid}/audit")
        w.both("alice", "GET", f"/recordings/{rid}")


def test_the_continuity_pdf_is_printed_from_the_same_trail_in_both_worlds(
    worlds: Worlds, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The court PDF is a pure rendering of the trail the person may read: what goes into it
    must be alike in both worlds (its bytes differ only by the chain's hashes)."""
    from custody.services.audit_trail import trail as trail_service

    printed: list[Any] = []
    render = trail_service.render_trail

    def capture(trail: dict[str, Any]) -> bytes:
        printed.append(normalised(trail))
        return render(trail)

    monkeypatch.setattr(trail_service, "render_trail", capture)
    for rid in (worlds.first, worlds.second):
        for client in worlds.clients:
            answer = client.get(
                f"/api/v1/recordings/{rid}/audit.pdf", headers=worlds.force.auth("bob")
            )
            assert answer.status_code == 200
            assert answer.content.startswith(b"%PDF-")
        first, second = printed[-2:]
        # The checkpoint in force is the same document in both but for its root hash.
        for one in (first, second):
            one.pop("checkpoint", None)
        assert first == second, f"bob's continuity PDF of {rid} tells of the complaint hold"
