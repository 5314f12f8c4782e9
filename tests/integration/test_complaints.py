"""Complaints hold their footage, docked before or after, and only professional standards know.

Two worlds are made alike (one installation, its data directory copied). In each,
professional standards register a complaint about alice before her camera docks; the
complaint's window covers her first recording in one world and her second in the other.
Both recordings then dock, the same bytes and signed manifests in both worlds. Each world
has one held recording, a different one: everything alice, her supervisor, another officer
and an administrator can get must be the same in both.
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

from custody.config import Settings
from custody.domain.clock import ManualClock, isoformat
from custody.services.ingest import chunks, manifests, uploads
from tests.conftest import START, Installer, RecordedJobs
from tests.integration.test_no_leaks import (
    CSRF,
    EVENT_HASH,
    NOW,
    _system,
    create_app_for,
    normalised,
)
from tests.people import Force, make_force

HOUR = timedelta(hours=1)
# An event's place in the whole log: in one world the first recording's hold comes between
# the two dockings, in the other after both. Places are global, like the hashes: any other
# recording's events shift them just as much, so they tell nobody of this one.
PLACES = {"seq"}
UPLOAD_ID = re.compile(r"\b[0-9a-f]{32}\b")
WINDOWS = {
    "first": (START - HOUR, START + HOUR / 2),
    "second": (START + HOUR / 2, START + 2 * HOUR),
}


def without(value: Any, keys: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without(v, keys) for v in value]
    return value


def dock(force: Force, document: dict[str, Any], data: bytes) -> None:
    """Upload footage through the ingest services, as a dock would."""
    system, station = force.system, force.dock
    manifests.declare_manifest(system, station, document)
    status = uploads.create_upload(
        system, station, len(data), {"recording_id": document["recording_id"]}
    )
    writer = chunks.begin_chunk(system, station, status.upload_id, 0, len(data), None)
    try:
        writer.write(data)
        writer.finish(True)
    finally:
        writer.close()


@dataclass
class Worlds:
    force: Force
    first: str
    second: str
    clients: tuple[TestClient, TestClient]

    def both(self, who: str, method: str, path: str, *, json: Any = None) -> Any:
        answers = []
        for client in self.clients:
            answer = client.request(method, path, json=json, headers=self.force.auth(who))
            assert answer.status_code < 500, answer.text
            if answer.headers.get("content-type", "").startswith("application/json"):
                body: Any = without(normalised(answer.json()), PLACES)
            else:
                body = EVENT_HASH.sub("", CSRF.sub(r"\1", answer.text))
            # Upload ids are minted at random when each world's dock uploads.
            answers.append((answer.status_code, UPLOAD_ID.sub("upload", repr(body))))
        assert answers[0] == answers[1], f"{who} {method} {path} differs between the worlds"
        return answers[0]


@pytest.fixture
def worlds(tmp_path: Path, install: Installer) -> Iterator[Worlds]:
    made = install(Settings(data_dir=tmp_path / "one"), clock=ManualClock(NOW), jobs=RecordedJobs())
    force = make_force(made)
    made.engine.dispose()
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    systems = (_system(tmp_path / "one"), _system(tmp_path / "two"))
    footage = [(b"first recording " * 300, START), (b"second recording " * 300, START + HOUR)]
    documents = [(force.camera.manifest(data, started_at=at), data) for data, at in footage]
    with (
        TestClient(create_app_for(systems[0])) as one,
        TestClient(create_app_for(systems[1])) as two,
    ):
        for client, system, window in ((one, systems[0], "first"), (two, systems[1], "second")):
            since, until = WINDOWS[window]
            registered = client.post(
                "/api/v1/complaints",
                json={
                    "reference": "CO-2026-0142",
                    "officers": ["1234AB"],
                    "since": isoformat(since),
                    "until": isoformat(until),
                    "summary": "Alleged excessive force during an arrest",
                },
                headers=force.auth("erin"),
            )
            assert registered.status_code == 201, registered.text
            assert registered.json()["recordings_held"] == 0
            force.system = system
            for document, data in documents:
                dock(force, document, data)
        ids = [document["recording_id"] for document, _ in documents]
        yield Worlds(force, ids[0], ids[1], (one, two))
    for system in systems:
        system.engine.dispose()


def test_professional_standards_find_the_footage_docked_after_the_complaint(
    worlds: Worlds,
) -> None:
    for client, held in zip(worlds.clients, (worlds.first, worlds.second), strict=True):
        detail = client.get(
            "/api/v1/complaints/CO-2026-0142", headers=worlds.force.auth("erin")
        ).json()
        assert detail["recordings_held"] == 1
        assert [f["recording_id"] for f in detail["footage"]] == [held]
        shown = client.get(f"/api/v1/recordings/{held}", headers=worlds.force.auth("erin"))
        assert shown.json()["delete_due_at"] is None
        listed = client.get("/api/v1/complaints", headers=worlds.force.auth("audrey")).json()
        assert [c["reference"] for c in listed] == ["CO-2026-0142"]


@pytest.mark.parametrize("who", ["alice", "bob", "charlie", "root", "dana", "fran", "gus"])
def test_no_one_outside_professional_standards_learns_of_the_complaint(
    worlds: Worlds, who: str
) -> None:
    w = worlds
    for rid in (w.first, w.second):
        w.both(who, "GET", f"/api/v1/recordings/{rid}")
        w.both(who, "GET", f"/api/v1/holds?recording_id={rid}")
        w.both(who, "GET", f"/api/v1/recordings/{rid}/audit")
        w.both(who, "GET", f"/recordings/{rid}")
    w.both(who, "GET", "/api/v1/recordings")
    w.both(who, "GET", "/api/v1/retention/pending")
    w.both(who, "GET", "/api/v1/complaints")
    for reference in ("CO-2026-0142", "CO-2026-9999"):
        w.both(who, "GET", f"/api/v1/complaints/{reference}")
        w.both(who, "POST", f"/api/v1/complaints/{reference}/close", json={"reason": "x"})
    w.both(who, "GET", "/footage")
    w.both(who, "GET", "/retention")
    w.both(who, "GET", "/complaints")


def test_closing_the_complaint_lifts_exactly_its_holds(worlds: Worlds) -> None:
    client, erin = worlds.clients[0], worlds.force.auth("erin")
    legal = client.post(
        "/api/v1/holds",
        json={"recording_ids": [worlds.first], "kind": "legal", "reason": "civil claim"},
        headers=erin,
    )
    assert legal.status_code == 201, legal.text
    closed = client.post(
        "/api/v1/complaints/CO-2026-0142/close", json={"reason": "no case to answer"}, headers=erin
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_by"] and closed.json()["recordings_held"] == 0
    holds = client.get(f"/api/v1/holds?recording_id={worlds.first}", headers=erin).json()
    assert [h["kind"] for h in holds] == ["legal"]
    again = client.post(
        "/api/v1/complaints/CO-2026-0142/close", json={"reason": "twice"}, headers=erin
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"officers": ["0000ZZ"]}, 400, "no officer with warrant number '0000ZZ'"),
        ({"reference": "CO/2026/1"}, 400, "letters, digits"),
        ({"until": isoformat(START - 2 * HOUR)}, 400, "until must be after since"),
        ({"officers": []}, 422, "officers"),
        ({"reference": "CO-2026-0142"}, 409, "registered already"),
    ],
)
def test_a_bad_complaint_is_refused_and_changes_nothing(
    worlds: Worlds, change: dict[str, Any], status: int, words: str
) -> None:
    client, erin = worlds.clients[0], worlds.force.auth("erin")
    body = {
        "reference": "CO-2026-0200",
        "officers": ["1234AB"],
        "since": isoformat(START - HOUR),
        "until": isoformat(START + 3 * HOUR),
        "summary": "another complaint",
    } | change
    answer = client.post("/api/v1/complaints", json=body, headers=erin)
    assert answer.status_code == status, answer.text
    assert words in answer.text
    listed = client.get("/api/v1/complaints", headers=erin).json()
    assert [c["reference"] for c in listed] == ["CO-2026-0142"]
    held = client.get("/api/v1/holds", headers=erin).json()
    assert len(held) == 1
