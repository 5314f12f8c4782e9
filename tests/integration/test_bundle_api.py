"""Court bundles over the API: asked for, built by the job, followed, downloaded in ranges;
never offered before the job has stored the last byte; refused to strangers as "no case"."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.bundle.verify import verify_bundle
from custody.config import Settings
from custody.db.models import AuditEvent
from custody.domain.clock import ManualClock
from custody.domain.disclosure import Use
from custody.services.disclosure import bundle_exports, bundles
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import START, Installer, RecordedJobs
from tests.integration.bundle_world import World, build_world, mark


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, install: Installer) -> Iterator[World]:
    root = tmp_path_factory.mktemp("bundle-api-world")
    clock = ManualClock(START)
    system = install(Settings(data_dir=root / "data"), clock=clock, jobs=RecordedJobs())
    yield build_world(system)
    system.engine.dispose()


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(app_for(world.system)) as test_client:
        yield test_client


def run_jobs(world: World) -> None:
    """Run the bundle builds the requests queued, as a worker would."""
    queued = world.system.jobs
    assert isinstance(queued, RecordedJobs)
    while queued.bundles:
        bundle_exports.build_bundle(world.system, queued.bundles.pop(0))


def ask(client: TestClient, world: World, who: str = "fran", case_id: int | None = None) -> dict:  # type: ignore[type-arg]
    answer = client.post(
        f"/api/v1/cases/{case_id or world.case_id}/bundles", headers=world.force.auth(who)
    )
    assert answer.status_code == 202, answer.text
    body: dict = answer.json()  # type: ignore[type-arg]
    return body


def test_a_bundle_is_built_in_the_background_and_downloaded_whole_or_in_ranges(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    auth = world.force.auth("fran")
    asked = ask(client, world)
    assert asked["state"] == "building"
    assert asked["total_bytes"] > 0 and asked["sha256"] is None
    # Not yet built: nothing to download.
    early = client.get(f"/api/v1/bundles/{asked['id']}/download", headers=auth)
    assert early.status_code == 409
    run_jobs(world)
    done = client.get(f"/api/v1/bundles/{asked['id']}", headers=auth).json()
    assert done["state"] == "complete"
    assert done["done_bytes"] == done["total_bytes"]
    whole = client.get(f"/api/v1/bundles/{asked['id']}/download", headers=auth)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "application/zip"
    assert "attachment" in whole.headers["content-disposition"]
    assert hashlib.sha256(whole.content).hexdigest() == done["sha256"]
    assert len(whole.content) == done["size"]
    saved = tmp_path / "bundle.zip"
    saved.write_bytes(whole.content)
    assert verify_bundle(saved, world.system.server_key.public_key()).failure is None
    # A download resumed: two ranges make the whole.
    half = done["size"] // 2
    first = client.get(
        f"/api/v1/bundles/{asked['id']}/download", headers={**auth, "Range": f"bytes=0-{half - 1}"}
    )
    rest = client.get(
        f"/api/v1/bundles/{asked['id']}/download", headers={**auth, "Range": f"bytes={half}-"}
    )
    assert (first.status_code, rest.status_code) == (206, 206)
    assert rest.headers["content-range"] == f"bytes {half}-{done['size'] - 1}/{done['size']}"
    assert first.content + rest.content == whole.content
    beyond = client.get(
        f"/api/v1/bundles/{asked['id']}/download",
        headers={**auth, "Range": f"bytes={done['size']}-"},
    )
    assert beyond.status_code == 416
    listed = client.get(f"/api/v1/cases/{world.case_id}/bundles", headers=auth).json()
    assert asked["id"] in [b["id"] for b in listed]


def test_every_download_is_audited_against_the_case_and_each_recording(
    client: TestClient, world: World
) -> None:
    asked = ask(client, world)
    run_jobs(world)
    auth = {**world.force.auth("fran"), "Range": "bytes=0-99"}
    answer = client.get(f"/api/v1/bundles/{asked['id']}/download", headers=auth)
    assert answer.status_code == 206
    with world.system.unit_of_work() as uow:
        rows = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.tag == "user:case:bundle_download")
        ).all()
    mine = [row for row in rows if asked["id"] in row.details]
    assert {(row.object_type, row.object_id) for row in mine} == {
        ("case", str(world.case_id)),
        ("recording", world.exhibit),
        ("recording", world.unused),
    }
    assert all(row.actor == "user:fran" and row.address for row in mine)


def test_a_stranger_is_told_there_is_no_such_case_or_bundle(
    client: TestClient, world: World
) -> None:
    asked = ask(client, world)
    run_jobs(world)
    charlie = world.force.auth("charlie")  # an officer on another team
    refused = client.post(f"/api/v1/cases/{world.case_id}/bundles", headers=charlie)
    assert refused.status_code == 404
    bob = world.force.auth("bob")  # a supervisor: may view cases, not this one
    assert client.get(f"/api/v1/bundles/{asked['id']}", headers=bob).status_code == 404
    assert client.get(f"/api/v1/bundles/{asked['id']}/download", headers=bob).status_code == 404
    missing = client.get("/api/v1/bundles/not-a-bundle", headers=world.force.auth("fran"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"]


def test_a_schedule_changed_before_the_build_fails_it_clearly(
    client: TestClient, world: World
) -> None:
    from custody.services.evidence import cases

    dana = world.principal("dana")
    case = cases.create_case(
        world.system,
        dana,
        reference="01/777777/26",
        title="Changed",
        actor=dana.actor(),
        members=["fran"],
    )
    cases.add_to_case(world.system, dana, case.id, world.unused, "seen", dana.actor())
    mark(world.system, case.id, world.unused, Use.EXHIBIT, "LJ/9")
    asked = ask(client, world, case_id=case.id)
    cases.add_to_case(world.system, dana, case.id, world.exhibit, "seen", dana.actor())
    mark(world.system, case.id, world.exhibit, Use.EXHIBIT, "LJ/10")
    run_jobs(world)
    auth = world.force.auth("fran")
    failed = client.get(f"/api/v1/bundles/{asked['id']}", headers=auth).json()
    assert failed["state"] == "failed"
    assert "schedule changed" in failed["failure"]
    assert client.get(f"/api/v1/bundles/{asked['id']}/download", headers=auth).status_code == 409


def _build_and_die(world: World, export_id: str) -> None:
    world.system.engine.dispose(close=False)
    original = bundles._Writer.add

    def dying(self: bundles._Writer, name: str, chunks):  # type: ignore[no-untyped-def]
        if name.endswith("bundle.json"):
            os._exit(9)  # the worker is killed here: no cleanup, no last word
        return original(self, name, chunks)

    bundles._Writer.add = dying  # type: ignore[method-assign]
    bundle_exports.build_bundle(world.system, export_id)
    os._exit(0)


def test_a_build_killed_half_way_is_never_offered_and_shows_as_stopped(
    client: TestClient, world: World
) -> None:
    asked = ask(client, world)
    queued = world.system.jobs
    assert isinstance(queued, RecordedJobs)
    queued.bundles.clear()
    child = multiprocessing.get_context("fork").Process(
        target=_build_and_die, args=(world, asked["id"])
    )
    child.start()
    child.join(60)
    assert child.exitcode == 9
    auth = world.force.auth("fran")
    status = client.get(f"/api/v1/bundles/{asked['id']}", headers=auth).json()
    assert (status["state"], status["sha256"]) == ("building", None)
    assert client.get(f"/api/v1/bundles/{asked['id']}/download", headers=auth).status_code == 409
    world.clock.advance(bundle_exports.STALL + timedelta(seconds=1))
    status = client.get(f"/api/v1/bundles/{asked['id']}", headers=auth).json()
    assert status["state"] == "stopped"
    assert client.get(f"/api/v1/bundles/{asked['id']}/download", headers=auth).status_code == 409


def test_the_case_page_leads_to_its_bundles_where_one_is_made_watched_and_downloaded(
    client: TestClient, world: World
) -> None:
    auth = {**world.force.auth("fran"), "Accept": "text/html"}
    case_page = client.get(f"/cases/{world.case_id}", headers=auth)
    assert f'href="/cases/{world.case_id}/bundles"' in case_page.text
    made = client.post(f"/cases/{world.case_id}/bundles", headers=auth, follow_redirects=False)
    assert made.status_code == 303
    building = client.get(f"/cases/{world.case_id}/bundles", headers=auth)
    assert building.status_code == 200
    assert 'http-equiv="refresh"' in building.text  # the page follows the build
    assert "Building" in building.text
    run_jobs(world)
    done = client.get(f"/cases/{world.case_id}/bundles", headers=auth)
    assert 'http-equiv="refresh"' not in done.text
    link = done.text.split('href="/bundles/', 1)[1].split('"', 1)[0]
    zipped = client.get(f"/bundles/{link}", headers=auth)
    assert zipped.status_code == 200
    assert zipped.content.startswith(b"PK")
    stranger = client.get(
        f"/cases/{world.case_id}/bundles",
        headers={**world.force.auth("bob"), "Accept": "text/html"},
    )
    assert stranger.status_code == 404


def test_the_whole_path_on_each_database(
    system: System, clock: ManualClock, tmp_path: Path
) -> None:
    """Ask, build in the background, download and verify: on SQLite and PostgreSQL."""
    world = build_world(system)
    with TestClient(app_for(system)) as client:
        asked = ask(client, world)
        run_jobs(world)
        auth = world.force.auth("fran")
        answer = client.get(f"/api/v1/bundles/{asked['id']}/download", headers=auth)
    assert answer.status_code == 200
    saved = tmp_path / "bundle.zip"
    saved.write_bytes(answer.content)
    assert verify_bundle(saved, system.server_key.public_key()).failure is None
    deleted = world.export(tmp_path / "closed", case_id=world.deleted_case_id)
    assert deleted.deleted == 1
