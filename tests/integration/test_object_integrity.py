"""Footage at rest: sealed, shredded on deletion, checked by fixity, verified and migrated.

A recording's objects are sealed in the store, a backup copy of them taken before its
deletion is unreadable after it, a changed byte or a missing object is found, recorded,
shown and audited (never repaired), and a migration killed half-way finishes on its next
run with a signed report.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.bootstrap import build_system
from custody.config import Settings
from custody.db.models import AuditEvent
from custody.db.models.storage import FixityCheck, ObjectKey
from custody.domain import signing
from custody.domain.clock import ManualClock
from custody.domain.errors import KeyDestroyed, WrongKeyEncryptionKey
from custody.services.identity import signin
from custody.services.object_keys import open_other_store
from custody.services.objects import fixity, migration, verification
from custody.services.retention import sweep
from custody.services.system import NoJobs, System
from custody.storage.encryption import EncryptedStore
from custody.storage.filesystem import FilesystemStore
from custody.web.deps import SESSION_COOKIE
from tests.apps import app_for
from tests.conftest import START, Installer, custody
from tests.factories import give_password
from tests.integration.lifecycle_world import World, build_world
from tests.people import PASSWORD
from tests.snapshots import world_of

DAY = timedelta(days=1)


def _object_path(system: System, sha: str) -> Path:
    store = system.store
    assert isinstance(store, EncryptedStore) and isinstance(store.inner, FilesystemStore)
    return store.inner.path_of(sha)


def _tags(system: System, tag: str) -> list[AuditEvent]:
    with system.unit_of_work() as uow:
        return list(uow.session.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


def test_footage_is_sealed_at_rest_and_reads_back_whole(system: System) -> None:
    world = build_world(system)
    data = os.urandom(3 * 1024 * 1024 + 123)
    row = world.row(world.record(data=data))
    at_rest = _object_path(system, row.sha256).read_bytes()
    assert hashlib.sha256(at_rest).hexdigest() != row.sha256
    assert data[1000:1064] not in at_rest
    assert b"".join(system.store.read(row.sha256)) == data
    # A player's range across the first segment boundary.
    assert b"".join(system.store.read(row.sha256, 1048000, 1049000)) == data[1048000:1049000]
    with system.unit_of_work() as uow:
        key = uow.session.get(ObjectKey, row.sha256)
        assert key is not None and row.sha256.encode() not in key.wrapped


def test_a_deleted_recordings_backup_copy_is_unreadable_and_the_certificate_says_so(
    system: System, clock: ManualClock, tmp_path: Path
) -> None:
    world = build_world(system)
    data = os.urandom(5000)
    rid = world.record(data=data, thumbnail=b"\xff\xd8 a thumbnail \xff\xd9")
    kept = world.record(officer="5678CD", started_at=START + 10 * DAY)
    row = world.row(rid)
    objects = system.settings.data_dir / "objects"
    backup = tmp_path / "backup-before-deletion"
    shutil.copytree(objects, backup)
    restored = open_other_store(system, backup.as_uri())
    assert b"".join(restored.read(row.sha256)) == data  # the backup reads while it lives

    clock.set(START + 30 * DAY)
    assert sweep.sweep(system).deleted == [rid]

    certificate = json.loads(world.row(rid).deletion_certificate or "{}")
    signing.verify(certificate, system.server_key.public_key())
    assert certificate["data_keys_destroyed"] == sorted([row.sha256, row.thumbnail_sha256])
    for sha in (row.sha256, row.thumbnail_sha256):
        assert sha is not None and (backup / sha[:2] / sha[2:4] / sha).exists()
        with pytest.raises(KeyDestroyed):
            b"".join(restored.read(sha))
    # The other recording in the same backup still reads: only the deleted one is shredded.
    other = world.row(kept)
    assert hashlib.sha256(b"".join(restored.read(other.sha256))).hexdigest() == other.sha256

    # Verifying the restored backup names what should be gone, and why it cannot be read.
    result = verification.verify_store(system, restored, "backup")
    assert not result.matches
    assert {(d.sha256, d.outcome) for d in result.differences} == {
        (row.sha256, "present_after_deletion"),
        (row.thumbnail_sha256, "present_after_deletion"),
    }
    assert all("destroyed" in d.detail for d in result.differences)
    assert verification.verify_store(system, system.store, "live").matches


@pytest.fixture
def world(sqlite_system: System) -> World:
    return world_of(build_world, sqlite_system)


def test_fixity_finds_a_changed_byte_and_a_missing_object_and_repairs_nothing(
    world: World, clock: ManualClock
) -> None:
    system = world.system
    rows = [world.row(world.record(data=os.urandom(4000 + i))) for i in range(3)]
    first = fixity.run_fixity(system)
    assert (first.checked, first.intact, first.problems) == (3, 3, [])
    proven_at = clock.now()

    changed, missing, fine = rows
    path = _object_path(system, changed.sha256)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    path.write_bytes(bytes(raw))
    before = path.read_bytes()
    _object_path(system, missing.sha256).unlink()
    clock.advance(DAY)

    report = fixity.run_fixity(system)
    assert report.checked == 3 and report.intact == 1
    assert {(p.sha256, p.outcome) for p in report.problems} == {
        (changed.sha256, "changed"),
        (missing.sha256, "missing"),
    }
    # Never repaired: the changed bytes are as they were found, the missing one still gone.
    assert path.read_bytes() == before
    assert not _object_path(system, missing.sha256).exists()

    with system.unit_of_work() as uow:
        checks = {c.sha256: c for c in uow.session.scalars(select(FixityCheck))}
    assert checks[fine.sha256].intact_at == clock.now()
    # The last good check of a failed object is kept: when it was last proven intact.
    assert checks[changed.sha256].intact_at == proven_at
    assert checks[changed.sha256].outcome == "changed"
    events = _tags(system, fixity.FAILED_TAG)
    assert sorted(e.object_id or "" for e in events) == sorted([changed.sha256, missing.sha256])
    assert json.loads(events[0].details or "{}")["recordings"]

    # A second run finds the same and says so in its report, without a second alarm.
    again = fixity.run_fixity(system)
    assert len(again.problems) == 2 and len(_tags(system, fixity.FAILED_TAG)) == 2

    # The administration page shows the alarm and when everything was last proven.
    with TestClient(app_for(system), follow_redirects=False) as client:
        _sign_in(client, world, "admin2")
        page = client.get("/admin/storage")
        assert page.status_code == 200, page.text
        assert changed.sha256 in page.text and missing.sha256 in page.text
        assert "2 objects not proven intact" in page.text
        assert "Storage" in client.get("/admin/users").text  # its tab
        _sign_in(client, world, "alice")
        assert client.get("/admin/storage").status_code == 403


def _sign_in(client: TestClient, world: World, username: str) -> None:
    give_password(world.system, world.people["admin2"], username, PASSWORD)
    client.cookies.set(SESSION_COOKIE, signin.sign_in(world.system, username, PASSWORD).secret)


def test_custody_fixity_exits_1_on_a_problem_and_0_when_all_is_intact(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    assert custody(data_dir, "init").returncode == 0
    system = build_system(Settings(data_dir=data_dir), jobs=NoJobs())
    world = build_world(system)
    row = world.row(world.record(data=os.urandom(10_000)))
    system.engine.dispose()

    good = custody(data_dir, "fixity", "--json")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["intact"] == 1

    path = data_dir / "objects" / row.sha256[:2] / row.sha256[2:4] / row.sha256
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    bad = custody(data_dir, "fixity")
    assert bad.returncode == 1
    assert row.sha256 in bad.stderr and "changed" in bad.stderr


def test_a_wrong_or_missing_key_encryption_key_is_refused_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    assert custody(data_dir, "init").returncode == 0
    settings = Settings(data_dir=data_dir)
    system = build_system(settings, jobs=NoJobs())
    build_world(system).record()
    system.engine.dispose()
    kek = settings.resolved_kek_file
    assert kek.stat().st_mode & 0o777 == 0o600
    original = kek.read_bytes()

    kek.write_bytes(os.urandom(32))
    with pytest.raises(WrongKeyEncryptionKey, match="wrapped by key-encryption key"):
        build_system(settings, jobs=NoJobs())
    for command in (("fixity",), ("store", "verify")):
        refused = custody(data_dir, *command)
        assert refused.returncode == 2 and "key-encryption key" in refused.stderr

    kek.unlink()
    with pytest.raises(WrongKeyEncryptionKey, match="no key-encryption key"):
        build_system(settings, jobs=NoJobs())
    assert not kek.exists()  # never quietly replaced by a new one

    kek.write_bytes(original)
    build_system(settings, jobs=NoJobs()).engine.dispose()


MIGRATE_AND_DIE = """
import os, signal, sys
from pathlib import Path
from custody.bootstrap import build_system
from custody.config import Settings
from custody.services.object_keys import open_other_store
from custody.services.objects import migration
from custody.services.system import NoJobs

system = build_system(Settings(data_dir=sys.argv[1]), jobs=NoJobs())
target = open_other_store(system, sys.argv[2])
seen = 0

def step(sha, outcome):
    global seen
    seen += 1
    if seen == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)

migration.migrate_store(
    system, target, source_name="here", target_name="there", progress=step,
    listing=Path(sys.argv[1]) / "killed.jsonl", page=int(sys.argv[4]),
)
"""


def test_a_migration_killed_half_way_finishes_on_its_next_run(tmp_path: Path) -> None:
    """Seven objects, two names a page: the kill falls just after the third object, in the
    middle of the second page; the next run verifies what was copied, copies the rest,
    and names the lost one."""
    data_dir = tmp_path / "server"
    assert custody(data_dir, "init").returncode == 0
    system = build_system(Settings(data_dir=data_dir), jobs=NoJobs())
    world = build_world(system)
    rows = [world.row(world.record(data=os.urandom(3000 + i))) for i in range(6)]
    shas = sorted(row.sha256 for row in rows)
    lost = world.row(world.record(data=os.urandom(100))).sha256
    (data_dir / "objects" / lost[:2] / lost[2:4] / lost).unlink()
    everything = sorted([*shas, lost])
    system.engine.dispose()
    target = tmp_path / "new-store"

    killed = subprocess.run(
        [sys.executable, "-c", MIGRATE_AND_DIE, str(data_dir), target.as_uri(), "3", "2"],
        capture_output=True,
        env=os.environ,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # Name order: the first three objects are done (copied, or found missing), no more.
    before_kill = everything[:3]
    assert sorted(FilesystemStore(target).iter_objects()) == [s for s in before_kill if s != lost]

    system = build_system(Settings(data_dir=data_dir), jobs=NoJobs())
    moved = open_other_store(system, target.as_uri())
    listing = tmp_path / "listing.jsonl"
    report = migration.migrate_store(
        system, moved, source_name="here", target_name="there", listing=listing, page=2
    )
    signing.verify(report, system.server_key.public_key())
    lines = listing.read_bytes()
    assert report["listing"] == {
        "file": "listing.jsonl",
        "sha256": hashlib.sha256(lines).hexdigest(),
        "objects": 7,
    }
    entries = [json.loads(line) for line in lines.splitlines()]
    assert [e["sha256"] for e in entries] == everything  # each once, in name order
    outcomes = {e["sha256"]: e["outcome"] for e in entries}
    assert outcomes[lost] == "missing"
    assert sorted(s for s, o in outcomes.items() if o == "verified") == [
        s for s in before_kill if s != lost
    ]
    assert report["counts"] == {
        "copied": 6 - len([s for s in before_kill if s != lost]),
        "verified": len([s for s in before_kill if s != lost]),
        "missing": 1,
        "changed_at_source": 0,
        "failed": 0,
    }
    assert [p["sha256"] for p in report["problems"]] == [lost]
    assert report["complete"] is False
    # The new store holds every object that existed, sealed, and reads back whole.
    for sha in shas:
        assert hashlib.sha256(b"".join(moved.read(sha))).hexdigest() == sha
    # A store verification, two names a page, names the one difference.
    result = verification.verify_store(system, moved, "there", page=2)
    assert (result.live, result.intact) == (7, 6)
    assert [(d.sha256, d.outcome) for d in result.differences] == [(lost, "missing")]
    system.engine.dispose()

    report_path = tmp_path / "report.json"
    finished = custody(
        data_dir, "store", "migrate", "--to", target.as_uri(), "--report", str(report_path)
    )
    assert finished.returncode == 1  # one object was already missing at the source
    assert lost in finished.stderr
    again = json.loads(report_path.read_text())
    assert again["counts"]["verified"] == 6 and again["counts"]["missing"] == 1
    written = tmp_path / "report.objects.jsonl"
    assert again["listing"]["sha256"] == hashlib.sha256(written.read_bytes()).hexdigest()
    unknown = custody(data_dir, "store", "migrate", "--to", "ftp://elsewhere/")
    assert unknown.returncode == 1 and "unsupported storage URL" in unknown.stderr
    verified = custody(data_dir, "store", "verify", "--url", target.as_uri())
    assert verified.returncode == 1 and lost in verified.stderr and "missing" in verified.stderr


def test_store_verify_names_each_difference(world: World, tmp_path: Path) -> None:
    system = world.system
    rows = [world.row(world.record(data=os.urandom(2000 + i))) for i in range(3)]
    assert verification.verify_store(system, system.store, "live").matches
    changed, missing, _ = rows
    path = _object_path(system, changed.sha256)
    raw = bytearray(path.read_bytes())
    raw[50] ^= 2
    path.write_bytes(bytes(raw))
    _object_path(system, missing.sha256).unlink()
    stray = system.store.put_stream([b"nobody names me"]).sha256
    result = verification.verify_store(system, system.store, "live")
    assert {(d.sha256, d.outcome) for d in result.differences} == {
        (changed.sha256, "changed"),
        (missing.sha256, "missing"),
    }
    assert result.unreferenced == [stray]
    assert _tags(system, verification.VERIFY_TAG)


def test_migration_refuses_to_carry_a_changed_object(world: World, tmp_path: Path) -> None:
    system = world.system
    row = world.row(world.record(data=os.urandom(3000)))
    path = _object_path(system, row.sha256)
    raw = bytearray(path.read_bytes())
    raw[100] ^= 1
    path.write_bytes(bytes(raw))
    target = open_other_store(system, (tmp_path / "to").as_uri())
    report = migration.migrate_store(
        system, target, source_name="a", target_name="b", listing=tmp_path / "objects.jsonl"
    )
    assert report["problems"] == [
        {
            "sha256": row.sha256,
            "outcome": "changed_at_source",
            "detail": report["problems"][0]["detail"],
        }
    ]
    assert not target.exists(row.sha256) and report["complete"] is False


def test_objects_stored_before_encryption_still_read_and_new_ones_are_sealed(
    tmp_path: Path, clock: ManualClock, install: Installer
) -> None:
    settings = Settings(data_dir=tmp_path / "data", storage_encryption=False)
    before = install(settings, clock=clock, jobs=NoJobs())
    world = build_world(before)
    old = world.row(world.record(data=b"footage from before " * 500))
    before.engine.dispose()
    path = settings.data_dir / "objects" / old.sha256[:2] / old.sha256[2:4] / old.sha256
    assert hashlib.sha256(path.read_bytes()).hexdigest() == old.sha256  # plaintext at rest

    upgraded = build_system(Settings(data_dir=settings.data_dir), clock=clock, jobs=NoJobs())
    assert b"".join(upgraded.store.read(old.sha256, 20, 60)) == path.read_bytes()[20:60]
    world.system = upgraded
    new = world.row(world.record(data=b"footage from after " * 500))
    new_path = _object_path(upgraded, new.sha256)
    assert hashlib.sha256(new_path.read_bytes()).hexdigest() != new.sha256  # sealed
    assert fixity.run_fixity(upgraded).intact == 2

    clock.set(START + 30 * DAY)
    assert sorted(sweep.sweep(upgraded).deleted) == sorted([old.id, new.id])
    # Only the sealed object's key is claimed destroyed: the old one's copies are plaintext.
    assert json.loads(world.row(old.id).deletion_certificate or "{}")["data_keys_destroyed"] == []
    assert json.loads(world.row(new.id).deletion_certificate or "{}")["data_keys_destroyed"] == [
        new.sha256
    ]
    with upgraded.unit_of_work() as uow:  # fixity watches what is kept, nothing deleted
        assert list(uow.session.scalars(select(FixityCheck))) == []
    upgraded.engine.dispose()


def test_the_hourly_fixity_job_runs_once_an_hour_across_workers(
    tmp_path: Path, clock: ManualClock, install: Installer
) -> None:
    # Wired as `custody serve` wires it: Huey on SQLite in the data dir; a second HueyJobs on
    # the same queue stands for another node's worker.
    from custody.jobs.queue import HueyJobs

    system = install(Settings(data_dir=tmp_path / "data"), clock=clock)
    try:
        world = build_world(system)
        row = world.row(world.record(data=os.urandom(5000)))
        assert isinstance(system.jobs, HueyJobs)
        other = HueyJobs.for_system(system)
        system.jobs.tasks.fixity.call_local()
        first = clock.now()
        clock.advance(timedelta(minutes=1))
        other.tasks.fixity.call_local()  # same hour: the other worker skips it
        with system.unit_of_work() as uow:
            check = uow.session.get(FixityCheck, row.sha256)
            assert check is not None and (check.outcome, check.checked_at) == ("intact", first)
    finally:
        system.engine.dispose()
