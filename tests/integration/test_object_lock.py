"""Object Lock follows Custody's rules on a real S3 server (Ceph RGW): what Custody must
keep the store refuses to delete, even with Custody's own keys; a hold is a legal hold
until lifted; what falls due is deleted by the sweep, never blocked.

The store's clock is the real one, so the test clock here stays within seconds of it
where a lock must run out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from custody.bootstrap import build_system
from custody.config import Settings
from custody.domain.clock import ManualClock
from custody.domain.errors import ObjectLocked
from custody.domain.retention import STATUTORY_LIMIT, SWEEP_MARGIN
from custody.services.evidence import holds as hold_service
from custody.services.retention import locks, sweep
from custody.services.system import System
from custody.storage.encryption import unsealed
from custody.storage.s3 import S3Store
from tests.conftest import Installer, RecordedJobs, custody
from tests.integration.lifecycle_world import World, build_world
from tests.snapshots import world_of

DAY = timedelta(days=1)


# The force (people, cameras, tokens) is built once per test process and database
# (`tests/snapshots.py`) at this time, on an installation that has stored nothing yet: its
# copy is then pointed at the test's bucket, and its clock at the real now.
BUILT_AT = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def s3_system(
    tmp_path: Path, clock: ManualClock, install: Installer, database_url: str
) -> Iterator[System]:
    """An installation whose store is not yet the bucket: `world` points it there."""
    clock.set(BUILT_AT)
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    built = install(settings, clock=clock, jobs=RecordedJobs())
    yield built
    built.engine.dispose()


@pytest.fixture
def world(s3_system: System, clock: ManualClock, s3_url: str) -> World:
    world = world_of(build_world, s3_system)
    # The world stored no object: the same installation on the bucket is the same world.
    s3_system.engine.dispose()
    s3_system.settings.storage_url = s3_url
    on_s3 = build_system(s3_system.settings, clock=clock, jobs=s3_system.jobs)
    for each in fields(System):
        setattr(s3_system, each.name, getattr(on_s3, each.name))
    # The test clock starts at the real now: Object Lock dates are the store's real time.
    clock.set(datetime.now(UTC).replace(microsecond=0))
    return world


def _store(world: World) -> S3Store:
    """The S3 store under the installation's encryption: Object Lock is the stored object's."""
    store = unsealed(world.system.store)
    assert isinstance(store, S3Store)
    return store


def _days_left(until: datetime | None) -> float:
    assert until is not None
    return (until.timestamp() - time.time()) / 86400


def test_new_footage_is_kept_by_the_store_until_its_31_day_baseline(world: World) -> None:
    store = _store(world)
    rid = world.record()
    locks.lock_objects(world.system, [rid])  # as the ingest commit does
    sha = world.row(rid).sha256
    until, hold = store.protection(sha)
    baseline = (STATUTORY_LIMIT - SWEEP_MARGIN).days
    assert baseline - 0.01 < _days_left(until) <= baseline and hold is False
    with pytest.raises(ObjectLocked):
        store.delete(sha)
    # With Custody's own keys straight at S3: no version delete, bypass or not.
    (version,) = store.client.list_object_versions(Bucket=store.bucket, Prefix=store.key_of(sha))[
        "Versions"
    ]
    with pytest.raises(ClientError) as refused:
        store.client.delete_object(
            Bucket=store.bucket,
            Key=store.key_of(sha),
            VersionId=version["VersionId"],
            BypassGovernanceRetention=True,
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert store.exists(sha)


def test_a_hold_is_a_legal_hold_in_the_store_until_lifted(world: World, clock: ManualClock) -> None:
    store, system = _store(world), world.system
    pat = world.people["pat"]
    # Recorded 100 days ago and kept by a category, say: past its baseline.
    rid = world.record(started_at=clock.now() - 100 * DAY)
    sha = world.row(rid).sha256
    (hold,) = hold_service.place_hold(
        system, pat, kind="legal", reason="civil claim", actor=pat.actor(), recording_ids=[rid]
    )
    until, held = store.protection(sha)
    # Kept for as long as the hold stands: COMPLIANCE only as far as no change could make it
    # due (a lifted hold gives 7 days' notice), the legal hold for the rest.
    assert held is True and 5.99 < _days_left(until) <= 6
    with pytest.raises(ObjectLocked):
        store.delete(sha)

    hold_service.lift_hold(system, pat, hold.id, "claim settled", pat.actor())
    # Due after the 7 days' notice; the daily renewal lifts the legal hold once the
    # COMPLIANCE retention reaches the due date.
    assert store.protection(sha)[1] is True
    clock.advance(1 * DAY + timedelta(hours=1))
    assert locks.renew_locks(system).told == 1
    assert store.protection(sha)[1] is False
    assert world.row(rid).delete_due_at is not None


def test_footage_that_falls_due_is_deleted_not_blocked(world: World, clock: ManualClock) -> None:
    store, system = _store(world), world.system
    # Its 31-day baseline is three seconds away: the store is told to keep it for as long
    # from its own now (which must still be ahead when the store hears of it).
    baseline = STATUTORY_LIMIT - SWEEP_MARGIN
    rid = world.record(started_at=clock.now() - baseline + timedelta(seconds=3))
    locks.lock_objects(system, [rid])
    sha = world.row(rid).sha256
    until = store.protection(sha)[0]
    assert until is not None
    assert sweep.sweep(system).deleted == []
    # The lock runs out by the store's own clock (this machine's): waited for, no longer.
    time.sleep(max(0.0, until.timestamp() - time.time()) + 0.1)
    clock.advance(timedelta(seconds=3))
    report = sweep.sweep(system)
    assert report.deleted == [rid] and report.failures == []
    assert not store.exists(sha)
    assert (
        store.client.list_object_versions(Bucket=store.bucket, Prefix=store.key_of(sha)).get(
            "Versions", []
        )
        == []
    )


def test_doctor_says_whether_the_store_has_object_lock(
    tmp_path: Path, s3_url: str, install: Installer
) -> None:
    on_files, on_s3 = tmp_path / "files", tmp_path / "s3"
    # What `custody init` makes (tests/conftest.py), without migrating a database again.
    install(Settings(data_dir=on_files)).engine.dispose()
    checked = custody(on_files, "doctor")
    assert checked.returncode == 0
    assert "no Object Lock" in " ".join(checked.stdout.split())

    env = {"CUSTODY_STORAGE_URL": s3_url}
    install(Settings(data_dir=on_s3, storage_url=s3_url)).engine.dispose()
    checked = custody(on_s3, "doctor", env=env)
    assert checked.returncode == 0, checked.stdout
    assert "Object Lock: the store itself refuses early deletes" in checked.stdout

    down = {"CUSTODY_STORAGE_URL": s3_url, "CUSTODY_S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    checked = custody(on_s3, "doctor", env={**down, "CUSTODY_S3_MAX_ATTEMPTS": "1"})
    assert checked.returncode == 1
    assert "unreachable" in checked.stdout


def _counting_protect(store: object, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every object the store is asked to protect, in order (the real call still runs)."""
    told: list[str] = []
    original = store.protect  # type: ignore[attr-defined]

    def protect(sha256: str, keep_for: timedelta, hold: bool) -> None:
        told.append(sha256)
        original(sha256, keep_for, hold)

    monkeypatch.setattr(store, "protect", protect)
    return told


def test_the_renewal_tells_the_store_only_what_is_due_or_changed(
    world: World, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, system = _store(world), world.system
    pat = world.people["pat"]
    fresh = world.record()  # non-evidential, inside its 31-day baseline
    kept = world.record(started_at=clock.now() - 100 * DAY)
    lifted = world.record(started_at=clock.now() - 100 * DAY)
    locks.lock_objects(system, [fresh])
    holds = {
        rid: hold_service.place_hold(
            system, pat, kind="legal", reason="claim", actor=pat.actor(), recording_ids=[rid]
        )[0]
        for rid in (kept, lifted)
    }
    sha = {rid: world.row(rid).sha256 for rid in (fresh, kept, lifted)}
    assert store.protection(sha[kept])[1] is True  # the hold reached the object
    told = _counting_protect(system.store, monkeypatch)

    # The day after: the store has everything already.
    clock.advance(DAY)
    assert locks.renew_locks(system).told == 0 and told == []

    # A hold lifted reaches the store at once only where the hold must go: within 7 days'
    # notice COMPLIANCE does not reach the due date yet, so the legal hold stays.
    hold_service.lift_hold(system, pat, holds[lifted].id, "settled", pat.actor())
    assert told == [] and store.protection(sha[lifted])[1] is True

    # Four days on, the kept footage's six days of COMPLIANCE run out within the horizon:
    # renewed; the lifted one is due within COMPLIANCE now, so its legal hold goes; the
    # fresh footage's baseline lies ahead: not touched.
    clock.advance(4 * DAY)
    assert locks.renew_locks(system).told == 2
    assert sorted(told) == sorted([sha[kept], sha[lifted]])
    assert store.protection(sha[lifted])[1] is False
    assert store.protection(sha[kept])[1] is True
    assert store.protection(sha[fresh])[1] is False
    told.clear()
    assert locks.renew_locks(system).told == 0 and told == []

    # A hold placed later reaches the object straight after its commit, and only it.
    hold_service.place_hold(
        system, pat, kind="legal", reason="new claim", actor=pat.actor(), recording_ids=[fresh]
    )
    assert told == [sha[fresh]] and store.protection(sha[fresh])[1] is True


def test_a_store_down_during_renewal_is_told_next_time(
    world: World, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custody.domain.errors import StoreUnavailable

    store, system = _store(world), world.system
    pat = world.people["pat"]
    rid = world.record(started_at=clock.now() - 100 * DAY)
    sha = world.row(rid).sha256
    original = system.store.protect

    def down(sha256: str, keep_for: timedelta, hold: bool) -> None:
        raise StoreUnavailable("the store is down (injected)")

    monkeypatch.setattr(system.store, "protect", down)
    hold_service.place_hold(
        system, pat, kind="legal", reason="claim", actor=pat.actor(), recording_ids=[rid]
    )
    assert store.protection(sha)[1] is False  # the commit stands; the store was not told
    monkeypatch.setattr(system.store, "protect", original)
    assert locks.renew_locks(system).told == 1
    assert store.protection(sha)[1] is True
    assert locks.renew_locks(system).told == 0


def test_the_renewal_reads_only_what_changed_a_page_at_a_time(
    world: World, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custody.domain.errors import StoreUnavailable

    store, system = _store(world), world.system
    pat = world.people["pat"]
    kept = world.record(started_at=clock.now() - 100 * DAY)
    hold_service.place_hold(
        system, pat, kind="legal", reason="claim", actor=pat.actor(), recording_ids=[kept]
    )
    # Six recordings ingested while nothing told the store (no after-commit lock here).
    fresh = [world.record() for _ in range(6)]

    # The renewal reads the six, two a page, and tells the store of each; `kept` was told
    # after its hold's commit and is not read at all.
    first = locks.renew_locks(system, page=2)
    assert (first.considered, first.told) == (6, 6)
    assert all(store.protection(world.row(rid).sha256)[0] is not None for rid in fresh)
    # Nothing changed: nothing is read, however many live recordings there are.
    assert locks.renew_locks(system, page=2) == locks.Renewal(0, 0)

    # A hold placed while the store was down: the change commits, the store is not told,
    # and the next renewal reads that one recording only.
    original = system.store.protect

    def down(sha256: str, keep_for: timedelta, hold: bool) -> None:
        raise StoreUnavailable("the store is down (injected)")

    monkeypatch.setattr(system.store, "protect", down)
    hold_service.place_hold(
        system, pat, kind="legal", reason="claim", actor=pat.actor(), recording_ids=[fresh[0]]
    )
    monkeypatch.setattr(system.store, "protect", original)
    assert store.protection(world.row(fresh[0]).sha256)[1] is False
    assert locks.renew_locks(system, page=2) == locks.Renewal(1, 1)
    assert store.protection(world.row(fresh[0]).sha256)[1] is True

    # Four days on, only the kept footage's COMPLIANCE runs out within the horizon (the
    # others' baseline lies ahead): it alone is read and rolled forward.
    clock.advance(4 * DAY)
    assert locks.renew_locks(system, page=2) == locks.Renewal(1, 1)
    assert 5.99 < _days_left(store.protection(world.row(kept).sha256)[0]) <= 6
    assert locks.renew_locks(system, page=2) == locks.Renewal(0, 0)


def test_a_migration_to_another_bucket_then_store_lock_locks_every_copy(
    tmp_path: Path, s3_url: str, install: Installer
) -> None:
    """What an administrator does by hand: migrate (the bucket must exist, and a missing one
    is said plainly), point Custody at the copy, and tell the new bucket's Object Lock."""
    import boto3

    from custody.services.system import NoJobs

    data_dir = tmp_path / "data"
    here = {"CUSTODY_STORAGE_URL": s3_url}
    # What `custody init` makes (tests/conftest.py), without migrating a database again.
    system = install(Settings(data_dir=data_dir, storage_url=s3_url), jobs=NoJobs())
    world = build_world(system)
    rids = [world.record() for _ in range(3)]
    shas = sorted(world.row(rid).sha256 for rid in rids)
    assert locks.renew_locks(system).told == 3
    system.engine.dispose()

    bucket = f"custody-moved-{time.time_ns()}"
    target = f"s3://{bucket}/custody"
    missing = custody(data_dir, "store", "migrate", "--to", target, env=here)
    assert missing.returncode == 1
    assert f"the bucket {bucket} does not exist" in " ".join(missing.stderr.split())
    boto3.client("s3").create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    moved = custody(data_dir, "store", "migrate", "--to", target, env=here)
    assert moved.returncode == 0, moved.stderr
    assert "custody store lock --again" in " ".join(moved.stderr.split())

    there = {"CUSTODY_STORAGE_URL": target}
    copy = S3Store.from_url(target)
    assert all(copy.protection(sha) == (None, False) for sha in shas)  # copies carry no lock
    # The old bucket's locks are what Custody remembers: a plain renewal has nothing to do.
    plain = custody(data_dir, "store", "lock", env=there)
    assert plain.returncode == 0 and "told about 0 object(s)" in plain.stderr
    again = custody(data_dir, "store", "lock", "--again", env=there)
    assert again.returncode == 0 and "told about 3 object(s)" in again.stderr
    baseline = (STATUTORY_LIMIT - SWEEP_MARGIN).days
    for sha in shas:
        until, hold = copy.protection(sha)
        assert baseline - 1 < _days_left(until) <= baseline and hold is False
    assert custody(data_dir, "store", "verify", env=there).returncode == 0
