"""A redacted copy disclosed like a clip: on the schedule, shared, bundled, verified.

erin (professional standards) has a copy of alice's recording rendered with everything
blurred; fran (the disclosure officer in dana's case) approves it. Before approval the copy
cannot be put on the schedule (409). Once approved, erin marks it exhibit LJ/2, fran shares
it with Priya Shah of the CPS, who proves the one-time code from real e-mail (aiosmtpd),
downloads exactly the copy's bytes and acknowledges a receipt naming the copy. fran's court
bundle carries the copy and its redaction record; `custody bundle verify` holds, and fails
naming the record when it is edited, even when the bag is re-sealed with the server's key.
A copy of a recording fran may not know of answers exactly as an id never used.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from custody.bundle import layout
from custody.bundle.verify import verify_bundle
from custody.domain import signing
from custody.domain.actor import Actor
from custody.services.disclosure import bundles
from custody.services.disclosure.bag_targets import FolderTarget
from custody.services.evidence import cases
from custody.services.identity.users import principal_named
from custody.services.recordings.media import probe_recording
from custody.services.redaction import redactions
from custody.services.redaction.records import Choices
from custody.services.system import System
from tests.apps import app_for
from tests.integration.test_bundles import _reseal
from tests.mailbox import Mailbox, smtp_server
from tests.people import Force, make_force, store_recording
from tests.snapshots import world_of

API = "/api/v1"
PRIYA = {"name": "Priya Shah", "email": "priya.shah@cps.example", "kind": "prosecutor"}
PAGE = {"Accept": "text/html"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from custody.camera.footage import write_footage

    path: Path = tmp_path_factory.mktemp("redacted") / "street.mp4"
    write_footage(path, started_at=datetime(2026, 10, 1, 9, tzinfo=UTC), duration=1.0,
                  serial="BWV-0001")  # fmt: skip
    return path.read_bytes()


@dataclass
class World:
    force: Force
    case_id: int
    recording: str
    copy: str  # rendered, not yet approved

    @property
    def system(self) -> System:
        return self.force.system


def _rendered(force: Force, recording: str) -> str:
    erin = principal_named(force.system, "erin")
    asked = redactions.request_redaction(
        force.system, erin, recording, Choices(everything=True, remove_audio=True),
        Actor("user:erin"),
    )  # fmt: skip
    redactions.run_render(force.system, asked.id)
    return asked.id


def _world(system: System, footage: bytes) -> World:
    force = make_force(system)
    recording = store_recording(force, footage)
    probe_recording(system, recording)
    dana = principal_named(system, "dana")
    made = cases.create_case(
        system, dana, reference="01/123456/26", title="Robbery, Mare Street",
        actor=Actor("user:dana"), members=["fran"],
    )  # fmt: skip
    cases.add_to_case(system, dana, made.id, recording, None, Actor("user:dana"))
    return World(force, made.id, recording, _rendered(force, recording))


@pytest.fixture
def any_world(system: System, footage: bytes) -> World:
    return world_of(_world, system, footage)


@pytest.fixture
def world(sqlite_system: System, footage: bytes) -> World:
    return world_of(_world, sqlite_system, footage)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(app_for(world.system), follow_redirects=False) as test_client:
        yield test_client


def _mark(client: TestClient, world: World, who: str, copy: str, **body: Any) -> Any:
    return client.put(
        f"{API}/cases/{world.case_id}/schedule/redactions/{copy}",
        headers=world.force.auth(who),
        json={"use": "exhibit", "reference": "LJ/2", "description": "Blurred arrest"} | body,
    )


def _approve(world: World, copy: str) -> None:
    fran = principal_named(world.system, "fran")
    redactions.approve_redaction(world.system, fran, copy, Actor("user:fran"))


def _export(world: World, out: Path) -> bundles.BundleMade:
    fran = principal_named(world.system, "fran")
    return bundles.export_bundle(
        world.system, fran, world.case_id, fran.actor("192.0.2.7", "pytest"),
        lambda _: FolderTarget(out),
    )  # fmt: skip


def test_an_approved_copy_is_scheduled_shared_received_and_bundled(
    any_world: World, tmp_path: Path
) -> None:
    world, system = any_world, any_world.system
    with (
        smtp_server() as mailbox,
        TestClient(app_for(system), follow_redirects=False) as client,
    ):
        system.settings.smtp_host, system.settings.smtp_port = "127.0.0.1", mailbox.port
        system.settings.smtp_tls = "none"
        # Not approved: the schedule does not offer it, and marking it is refused with why.
        schedule = client.get(
            f"{API}/cases/{world.case_id}/schedule", headers=world.force.auth("erin")
        ).json()
        assert [line["kind"] for line in schedule["lines"]] == ["recording"]
        refused = _mark(client, world, "erin", world.copy)
        assert refused.status_code == 409, refused.text
        assert "not approved" in refused.json()["error"]["message"]

        _approve(world, world.copy)
        copy = redactions.get_redaction(
            system, principal_named(system, "erin"), world.copy, Actor("user:erin")
        )
        assert copy.sha256 and copy.record_sha256
        marked = _mark(client, world, "erin", world.copy)
        assert marked.status_code == 200, marked.text
        line = marked.json()
        assert (line["kind"], line["redaction_id"], line["sha256"]) == (
            "redaction", world.copy, copy.sha256)  # fmt: skip
        assert line["recording_id"] == world.recording and line["reference"] == "LJ/2"

        # Shared with the prosecutor: she receives the copy's bytes, never the original's.
        made = client.post(
            f"{API}/cases/{world.case_id}/shares", headers=world.force.auth("fran"),
            json={"recipient": PRIYA, "items": [line["item_id"]], "downloads_allowed": True},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        (shared,) = made.json()["share"]["shared_items"]
        assert (shared["kind"], shared["redaction_id"], shared["sha256"]) == (
            "redaction", world.copy, copy.sha256)  # fmt: skip
        path = "/" + _received(mailbox).split("/", 3)[3]
        assert client.post(f"{path}/code", headers=PAGE).status_code == 200
        mailbox.wait_for(2)
        proved = client.post(f"{path}/verify", data={"code": mailbox.code(1)}, headers=PAGE)
        assert proved.status_code == 303, proved.text
        items = client.get(path, headers=PAGE)
        assert "Redacted copy" in items.text and "LJ/2" in items.text
        (item_id,) = {int(n) for n in re.findall(r"/items/(\d+)/download", items.text)}
        kept = client.get(f"{path}/items/{item_id}/download")
        assert kept.status_code == 200
        assert hashlib.sha256(kept.content).hexdigest() == copy.sha256
        original = system.store.read(copy.original_sha256)
        assert kept.content != b"".join(original)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', items.text)
        assert csrf
        ack = client.post(f"{path}/acknowledge", data={"csrf_token": csrf.group(1)},
                          headers=PAGE)  # fmt: skip
        assert ack.status_code == 303
        receipt = client.get(f"{path}/receipt.json").json()
        signing.verify(receipt, signing.load_public_key(receipt["server_key"]))
        (received,) = receipt["items"]
        assert (received["kind"], received["redaction_id"], received["sha256"]) == (
            "redaction", world.copy, copy.sha256)  # fmt: skip

    # The court bundle carries the copy and its record, linked by hash to the original.
    out = tmp_path / "bundle"
    made_bundle = _export(world, out)
    assert (made_bundle.recordings, made_bundle.redactions) == (1, 1)
    folder = out / layout.redaction_dir(world.copy)
    assert hashlib.sha256((folder / layout.REDACTED_COPY).read_bytes()).hexdigest() == copy.sha256
    record = json.loads((folder / layout.REDACTION_RECORD).read_bytes())
    assert record["output"]["sha256"] == copy.sha256
    assert record["original"]["sha256"] == copy.original_sha256
    assert record["approval"]["by"] == "user:fran"
    index = json.loads((out / layout.INDEX).read_bytes())
    assert [r["footage"] for r in index["recordings"]] == ["not included"]
    assert not (out / layout.recording_dir(world.recording) / "original.mp4").exists()
    verdict = verify_bundle(out, system.server_key.public_key())
    assert verdict.intact, verdict.failure
    assert verdict.redactions == 1


def _received(mailbox: Mailbox) -> str:
    mailbox.wait_for(1)
    return mailbox.link(0)


@pytest.fixture
def bundled(world: World, tmp_path: Path) -> Path:
    _approve(world, world.copy)
    with TestClient(app_for(world.system)) as client:
        assert _mark(client, world, "erin", world.copy).status_code == 200
    out = tmp_path / "bundle"
    _export(world, out)
    return out


def _edit_record(bag: Path, copy: str, change: Any) -> None:
    path = bag / layout.redaction_dir(copy) / layout.REDACTION_RECORD
    record = json.loads(path.read_bytes())
    change(record)
    path.write_bytes(json.dumps(record, sort_keys=True).encode())


def test_a_record_edited_in_the_bundle_fails_verification_naming_it(
    world: World, bundled: Path, tmp_path: Path
) -> None:
    bag = tmp_path / "edited"
    shutil.copytree(bundled, bag)
    _edit_record(bag, world.copy, lambda r: r["choices"].update(mode="selected"))
    verdict = verify_bundle(bag, world.system.server_key.public_key())
    assert verdict.failure is not None
    assert "the redaction record of redacted copy" in str(verdict.failure), verdict.failure
    assert "manifest" not in verdict.failure.part


def _claim_the_original(bag: Path, copy: str) -> None:
    """Swap the record's output hash for the original's, and make every listing agree."""

    def lie(record: dict[str, Any]) -> None:
        record["output"]["sha256"] = record["original"]["sha256"]

    _edit_record(bag, copy, lie)
    folder = bag / layout.redaction_dir(copy)
    digest = hashlib.sha256((folder / layout.REDACTION_RECORD).read_bytes()).hexdigest()
    entry = json.loads((folder / layout.REDACTION_ENTRY).read_bytes())
    entry["record_sha256"] = digest
    (folder / layout.REDACTION_ENTRY).write_text(json.dumps(entry))
    index = json.loads((bag / layout.INDEX).read_bytes())
    index["redactions"][0]["record_sha256"] = digest
    (bag / layout.INDEX).write_text(json.dumps(index))


def test_a_resealed_bundle_whose_record_names_another_output_fails(
    world: World, bundled: Path, tmp_path: Path
) -> None:
    bag = tmp_path / "resealed"
    shutil.copytree(bundled, bag)
    _claim_the_original(bag, world.copy)
    _reseal(bag, cast(Any, world))
    verdict = verify_bundle(bag, world.system.server_key.public_key())
    assert verdict.failure is not None
    assert "redaction record" in verdict.failure.part
    assert "does not name the copy's SHA-256" in verdict.failure.problem


def test_bad_input_gets_a_clear_refusal_and_changes_nothing(
    world: World, client: TestClient
) -> None:
    _approve(world, world.copy)
    for body, status in (
        ({"use": "exhibit", "reference": None}, 400),
        ({"use": "evidence"}, 400),
        ({"use": "unused_not_sensitive", "reference": "LJ/2"}, 400),
        ({"use": ""}, 422),
    ):
        answer = _mark(client, world, "erin", world.copy, **body)
        assert answer.status_code in (status, 422), (body, answer.text)
        assert set(answer.json()["error"]) >= {"code", "message"}
    long_id = _mark(client, world, "erin", "x" * 5000)
    assert long_id.status_code in (404, 414), long_id.text
    # A recording on the schedule is not a copy: no redaction by that id.
    named = _mark(client, world, "erin", world.recording)
    assert named.status_code == 404
    schedule = client.get(
        f"{API}/cases/{world.case_id}/schedule", headers=world.force.auth("erin")
    ).json()
    assert all(line["item_id"] is None for line in schedule["lines"])
    # A copy that is still rendering cannot be scheduled either.
    erin = principal_named(world.system, "erin")
    rendering = redactions.request_redaction(
        world.system, erin, world.recording, Choices(everything=True), Actor("user:erin")
    )
    answer = _mark(client, world, "erin", rendering.id)
    assert answer.status_code == 409 and "not rendered" in answer.json()["error"]["message"]


def test_a_copy_of_footage_one_may_not_know_of_answers_like_an_unknown_id(
    world: World, client: TestClient, footage: bytes
) -> None:
    """fran works on dana's case; a copy of a recording in no case of hers is as unknown to
    her as an id never used, whether or not it is approved, and her schedule is unchanged."""

    def seen() -> tuple[Any, Any, Any]:
        schedule = client.get(
            f"{API}/cases/{world.case_id}/schedule", headers=world.force.auth("fran")
        )
        unknown = _mark(client, world, "fran", UNKNOWN)
        return schedule.json()["lines"], unknown.status_code, unknown.json()

    before = seen()
    elsewhere = store_recording(world.force, footage)
    probe_recording(world.system, elsewhere)
    hidden = _rendered(world.force, elsewhere)
    assert seen() == before
    answer = _mark(client, world, "fran", hidden)
    assert (answer.status_code, answer.json()) == (
        before[1], json.loads(json.dumps(before[2]).replace(UNKNOWN, hidden)))  # fmt: skip
    assert before[1] == 404


def test_the_case_page_offers_an_approved_copy_on_its_schedule(
    world: World, client: TestClient
) -> None:
    page = f"/cases/{world.case_id}"
    key = f"redaction:{world.copy}"
    assert key not in client.get(page, headers=world.force.auth("erin")).text
    _approve(world, world.copy)
    shown = client.get(page, headers=world.force.auth("erin")).text
    assert f'data-item="{key}"' in shown and "Redacted copy" in shown
    form = {"item": key, "use": "exhibit", "reference": "lj / 7", "description": "Blurred"}
    marked = client.post(f"{page}/schedule", headers=world.force.auth("erin"), data=form)
    assert marked.status_code == 303, marked.text
    lines = client.get(f"{API}/cases/{world.case_id}/schedule",
                       headers=world.force.auth("erin")).json()["lines"]  # fmt: skip
    (line,) = [x for x in lines if x["kind"] == "redaction"]
    assert (line["reference"], line["redaction_id"]) == ("LJ/7", world.copy)
