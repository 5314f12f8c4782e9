"""A recording's audit trail over the API and as a PDF; checkpoints and proofs anyone can check."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from custody.audit.log import HASHED_FIELDS, event_hash
from custody.audit.proofs import check_proof
from custody.domain import signing
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import custody as run_custody
from tests.people import Force, make_force, store_recording


@pytest.fixture
def force(system: System) -> Force:
    return make_force(system)


@pytest.fixture
def recording(force: Force) -> str:
    return store_recording(force)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system)) as test_client:
        yield test_client


def trail(client: TestClient, force: Force, recording: str, who: str = "erin") -> list[dict]:  # type: ignore[type-arg]
    answer = client.get(f"/api/v1/recordings/{recording}/audit", headers=force.auth(who))
    assert answer.status_code == 200, answer.text
    events: list[dict] = answer.json()["events"]  # type: ignore[type-arg]
    return events


def test_the_trail_runs_from_upload_to_its_own_reading(
    client: TestClient, force: Force, recording: str
) -> None:
    assert client.get(f"/api/v1/recordings/{recording}", headers=force.auth("alice")).is_success
    answer = client.get(f"/api/v1/recordings/{recording}/audit", headers=force.auth("bob"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["recording"]["id"] == recording
    tags = [event["tag"] for event in body["events"]]
    assert tags == [
        "dock:manifest:declare",
        "dock:upload:create",
        "dock:recording:ingest",
        "user:recording:view",
        "user:recording:audit",
    ]
    last = body["events"][-1]
    assert last["actor"] == "user:bob" and last["address"] == "testclient"
    for event in body["events"]:
        assert event["hash_ok"]
        # Each event is checkable from what the trail prints.
        assert event_hash({name: event[name] for name in HASHED_FIELDS}) == event["hash"]
    assert body["server_public_key"] == signing.public_key_text(
        force.system.server_key.public_key()
    )


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("alice", 403),  # her own footage, but who watched it is not hers to see
        ("bob", 200),  # her supervisor
        ("charlie", 404),  # another team: does not learn it exists
        ("dana", 404),  # an investigator without a case or a reason
        ("erin", 200),  # professional standards
        ("fran", 404),  # disclosure, not in a case
        ("gus", 404),  # the fleet manager
        ("root", 403),  # administrators see it is stored, not who watched it
        ("audrey", 200),  # the auditor
    ],
)
def test_who_may_read_a_recordings_trail(
    client: TestClient, force: Force, recording: str, who: str, status: int
) -> None:
    answer = client.get(f"/api/v1/recordings/{recording}/audit", headers=force.auth(who))
    assert answer.status_code == status
    if status != 200:
        refused = trail(client, force, recording)[-2]
        assert refused["actor"] == f"user:{who}" and not refused["allowed"]
        assert refused["tag"] == "user:recording:audit" and refused["reason"]


def test_a_complaint_hold_and_its_investigation_stay_out_of_the_teams_trail(
    client: TestClient, force: Force, recording: str
) -> None:
    def others(who: str) -> list[dict]:  # type: ignore[type-arg]
        """The trail as `who` reads it, less their own readings of it."""
        return [e for e in trail(client, force, recording, who) if e["actor"] != f"user:{who}"]

    def seen_by_alice() -> dict:  # type: ignore[type-arg]
        answer = client.get(f"/api/v1/recordings/{recording}", headers=force.auth("alice"))
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    alice_before = seen_by_alice()
    bob_before = others("bob")
    placed = client.post(
        "/api/v1/holds",
        json={"recording_ids": [recording], "kind": "complaint", "reason": "complaint 42"},
        headers=force.auth("erin"),
    )
    assert placed.status_code == 201, placed.text
    assert client.get(f"/api/v1/recordings/{recording}", headers=force.auth("erin")).is_success
    # Her supervisor and the officer herself read exactly what they read before.
    assert others("bob") == bob_before
    assert seen_by_alice() == alice_before
    # Professional standards and the auditor read the whole of it.
    tags = [e["tag"] for e in trail(client, force, recording, "audrey")]
    assert "user:recording:place_hold" in tags and "user:recording:view" in tags
    assert any(e["tag"] == "user:recording:place_hold" for e in trail(client, force, recording))


def test_the_pdf_continuity_record(client: TestClient, force: Force, recording: str) -> None:
    answer = client.get(f"/api/v1/recordings/{recording}/audit.pdf", headers=force.auth("bob"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.content.startswith(b"%PDF-") and len(answer.content) > 2000
    assert trail(client, force, recording)[-2]["tag"] == "user:recording:audit_report"
    refused = client.get(f"/api/v1/recordings/{recording}/audit.pdf", headers=force.auth("charlie"))
    assert refused.status_code == 404


def test_checkpoints_and_proofs_over_the_api(
    client: TestClient, force: Force, recording: str
) -> None:
    published = client.post("/api/v1/audit/checkpoints", headers=force.auth("root"))
    assert published.status_code == 201
    first = published.json()
    assert client.post("/api/v1/audit/checkpoints", headers=force.auth("root")).status_code == 204
    listed = client.get("/api/v1/audit/checkpoints", headers=force.auth("root")).json()
    assert listed[0] == first
    key = force.system.server_key.public_key()

    proof = client.get(f"/api/v1/audit/events/{first['size']}/proof", headers=force.auth("audrey"))
    assert proof.status_code == 200
    checked = check_proof(proof.json(), key)
    assert checked.ok, checked.steps
    # The contents of the log are not for administrators (only its hashes are).
    assert client.get("/api/v1/audit/events/1/proof", headers=force.auth("root")).status_code == 403

    trail(client, force, recording)  # more events, then a second checkpoint
    second = client.post("/api/v1/audit/checkpoints", headers=force.auth("audrey")).json()
    assert second["size"] > first["size"]
    consistency = client.get(
        f"/api/v1/audit/checkpoints/{first['id']}/consistency", headers=force.auth("root")
    )
    assert consistency.status_code == 200
    assert check_proof(consistency.json(), key).ok


def test_an_event_newer_than_the_checkpoint_has_no_proof_yet(
    client: TestClient, force: Force, recording: str
) -> None:
    none_yet = client.get("/api/v1/audit/events/1/proof", headers=force.auth("audrey"))
    assert none_yet.status_code == 404
    client.post("/api/v1/audit/checkpoints", headers=force.auth("root"))
    trail(client, force, recording)
    newest = trail(client, force, recording)[-1]["seq"]
    answer = client.get(f"/api/v1/audit/events/{newest}/proof", headers=force.auth("audrey"))
    assert answer.status_code == 404 and "newer than checkpoint" in answer.text


def custody(data_dir: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_custody(data_dir, *args, env={"CUSTODY_DATABASE_URL": database_url})


def test_a_proof_from_the_cli_is_checked_by_a_third_party_without_the_database(
    force: Force, recording: str, tmp_path: Path
) -> None:
    system = force.system
    url = system.settings.resolved_database_url
    assert custody(system.settings.data_dir, url, "audit", "checkpoint").returncode == 0
    printed = custody(system.settings.data_dir, url, "audit", "proof", "3")
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    assert document["event"]["seq"] == 3 and document["leaf_index"] == 2
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(printed.stdout)
    key = signing.public_key_text(system.server_key.public_key())

    # No installation, no database: only the file and the key.
    nowhere = tmp_path / "no-custody-here"
    checked = custody(
        nowhere,
        "sqlite:////nonexistent/x.db",
        "audit",
        "check-proof",
        str(proof_file),
        "--public-key",
        key,
    )
    assert checked.returncode == 0, checked.stderr
    assert "the proof holds" in checked.stderr
    assert not nowhere.exists()

    document["event"]["actor"] = "user:someone-else"
    proof_file.write_text(json.dumps(document))
    forged = custody(
        nowhere,
        "sqlite:////nonexistent/x.db",
        "audit",
        "check-proof",
        str(proof_file),
        "--public-key",
        key,
    )
    assert forged.returncode == 1
    assert "FAIL" in forged.stderr and "does not hold" in forged.stderr


def test_the_cli_report_writes_the_pdf_as_a_named_person(
    force: Force, recording: str, tmp_path: Path
) -> None:
    system = force.system
    output = tmp_path / "trail.pdf"
    made = custody(
        system.settings.data_dir,
        system.settings.resolved_database_url,
        "audit",
        "report",
        recording,
        "--as",
        "erin",
        "--output",
        str(output),
    )
    assert made.returncode == 0, made.stderr
    assert output.read_bytes().startswith(b"%PDF-")
    refused = custody(
        system.settings.data_dir,
        system.settings.resolved_database_url,
        "audit",
        "report",
        recording,
        "--as",
        "charlie",
        "--output",
        str(output),
    )
    assert refused.returncode == 1 and "no recording" in refused.stderr
