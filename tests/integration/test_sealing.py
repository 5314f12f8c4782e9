"""Objects stored before encryption at rest are sealed in place, safely: killed at any step,
every object still reads and the next run finishes; on S3 with Object Lock, the new version
is locked again and the locked plaintext version is named."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from custody.bootstrap import build_system
from custody.config import Settings
from custody.db.models.storage import ObjectKey
from custody.domain.clock import ManualClock
from custody.services.objects import sealing
from custody.services.retention import locks
from custody.services.system import NoJobs, System
from custody.storage.encryption import PLAINTEXT, EncryptedStore
from custody.storage.s3 import S3Store
from tests.conftest import Installer
from tests.integration.lifecycle_world import World, build_world


class Killed(Exception):
    """Stands for the process being killed at that step."""


def _upgraded(
    tmp_path: Path, clock: ManualClock, install: Installer, **options: str
) -> Iterator[tuple[System, World, list[str]]]:
    """An installation that stored footage before encryption at rest, started with it."""
    settings = Settings(data_dir=tmp_path / "data", storage_encryption=False, **options)  # type: ignore[arg-type]
    before = install(settings, clock=clock, jobs=NoJobs())
    world = build_world(before)
    rids = [world.record(data=_footage(1500 * 1024 + i)) for i in range(4)]
    locks.lock_objects(before, rids)  # where the store has Object Lock, as ingest does
    before.engine.dispose()
    upgraded = build_system(
        Settings(data_dir=settings.data_dir, **options),  # type: ignore[arg-type]
        clock=clock,
        jobs=NoJobs(),
    )
    world.system = upgraded
    yield upgraded, world, rids
    upgraded.engine.dispose()


def _footage(size: int) -> bytes:
    """Bytes that begin as an MP4 does, with a box length. Random bytes alone began with a
    sealed object's header byte (40) one time in 256, and an object that looks sealed is
    rightly not adopted as plaintext (`adopt_plaintext_objects`): the test then failed."""
    return b"\x00\x00\x00\x18ftypisom" + os.urandom(size - 12)


def _reads_whole(system: System, world: World, rids: list[str]) -> None:
    for rid in rids:
        sha = world.row(rid).sha256
        assert hashlib.sha256(b"".join(system.store.read(sha))).hexdigest() == sha
        assert (
            b"".join(system.store.read(sha, 1000, 1100))
            == b"".join(system.store.read(sha))[1000:1100]
        )


def _at_rest(system: System, sha: str) -> bytes:
    store = system.store
    assert isinstance(store, EncryptedStore)
    return b"".join(store.inner.read(sha))


def _kill_at(sha: str, stage: str) -> object:
    def fault(at: str, reached: str) -> None:
        if (at, reached) == (sha, stage):
            raise Killed

    return fault


def _seal_with_kills(system: System, world: World, rids: list[str]) -> sealing.SealReport:
    shas = sorted(world.row(rid).sha256 for rid in rids)
    with system.unit_of_work() as uow:
        kinds = {k.sha256: k.kek_id for k in uow.session.scalars(select(ObjectKey))}
    assert all(kinds[sha] == PLAINTEXT for sha in shas)  # adopted as they were

    # Killed once its new key is kept, before its bytes moved: still reads, as plaintext.
    with pytest.raises(Killed):
        sealing.seal_plaintext_objects(system, fault=_kill_at(shas[1], "key kept"))  # type: ignore[arg-type]
    _reads_whole(system, world, rids)
    assert hashlib.sha256(_at_rest(system, shas[1])).hexdigest() == shas[1]
    # Killed right after the sealed copy took its place: reads, sealed.
    with pytest.raises(Killed):
        sealing.seal_plaintext_objects(system, fault=_kill_at(shas[2], "swapped"))  # type: ignore[arg-type]
    _reads_whole(system, world, rids)
    assert hashlib.sha256(_at_rest(system, shas[2])).hexdigest() != shas[2]

    report = sealing.seal_plaintext_objects(system)
    assert report.problems == [] and report.remaining == 0 and report.complete
    _reads_whole(system, world, rids)
    for sha in shas:
        assert hashlib.sha256(_at_rest(system, sha)).hexdigest() != sha  # sealed at rest
    with system.unit_of_work() as uow:
        rows = {k.sha256: k for k in uow.session.scalars(select(ObjectKey))}
    assert all(rows[s].kek_id != PLAINTEXT and not rows[s].resealing for s in shas)
    assert sealing.seal_plaintext_objects(system).sealed == 0  # nothing left
    return report


def test_plaintext_objects_are_sealed_in_place_and_a_killed_run_loses_nothing(
    tmp_path: Path, clock: ManualClock, install: Installer, database_url: str
) -> None:
    for system, world, rids in _upgraded(tmp_path, clock, install, database_url=database_url):
        report = _seal_with_kills(system, world, rids)
        assert report.plaintext_versions_kept == []


def test_a_changed_plaintext_object_is_reported_and_never_sealed_over(
    tmp_path: Path, clock: ManualClock, install: Installer
) -> None:
    for system, world, rids in _upgraded(tmp_path, clock, install):
        sha = world.row(rids[0]).sha256
        store = system.store
        assert isinstance(store, EncryptedStore)
        path = store.inner.path_of(sha)  # type: ignore[attr-defined]
        raw = bytearray(path.read_bytes())
        raw[10] ^= 1
        path.write_bytes(bytes(raw))
        report = sealing.seal_plaintext_objects(system)
        assert [(p.sha256, p.outcome) for p in report.problems] == [(sha, "changed")]
        assert report.sealed == 3 and report.remaining == 1 and not report.complete
        assert path.read_bytes() == bytes(raw)  # left as found, for a person to decide
        with system.unit_of_work() as uow:
            row = uow.session.get(ObjectKey, sha)
            assert row is not None and row.kek_id == PLAINTEXT and not row.resealing


def test_sealing_on_s3_with_object_lock_locks_the_new_version_and_names_the_old(
    tmp_path: Path, clock: ManualClock, install: Installer, s3_url: str
) -> None:
    clock.set(datetime.now(UTC).replace(microsecond=0))  # Object Lock dates are real time
    for system, world, rids in _upgraded(tmp_path, clock, install, storage_url=s3_url):
        report = _seal_with_kills(system, world, rids)
        shas = sorted(world.row(rid).sha256 for rid in rids)
        # The plaintext versions are under COMPLIANCE retention: the store keeps them. The
        # last run names those it sealed itself (a killed run's report died with it).
        assert report.plaintext_versions_kept == [shas[3]]
        store = system.store
        assert isinstance(store, EncryptedStore) and isinstance(store.inner, S3Store)
        s3 = store.inner
        for sha in shas:
            versions = s3.client.list_object_versions(Bucket=s3.bucket, Prefix=s3.key_of(sha))[
                "Versions"
            ]
            assert len(versions) == 2  # the sealed one current, the locked plaintext older
            (older,) = [v for v in versions if not v["IsLatest"]]
            raw = s3.client.get_object(
                Bucket=s3.bucket, Key=s3.key_of(sha), VersionId=older["VersionId"]
            )["Body"].read()
            assert hashlib.sha256(raw).hexdigest() == sha
            until, _hold = s3.protection(sha)  # the current (sealed) version is locked too
            assert until is not None


def test_custody_store_seal_then_rotate_kek_from_the_command_line(tmp_path: Path) -> None:
    from custody.storage.kek import FileKek
    from tests.conftest import custody

    data_dir = tmp_path / "server"
    plain = {"CUSTODY_STORAGE_ENCRYPTION": "false"}
    assert custody(data_dir, "init", env=plain).returncode == 0
    before = build_system(Settings(data_dir=data_dir, storage_encryption=False), jobs=NoJobs())
    world = build_world(before)
    sha = world.row(world.record(data=_footage(20_000))).sha256
    before.engine.dispose()
    path = data_dir / "objects" / sha[:2] / sha[2:4] / sha
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha

    sealed = custody(data_dir, "store", "seal", "--json")
    assert sealed.returncode == 0, sealed.stderr
    assert '"sealed": 1' in sealed.stdout and '"remaining": 0' in sealed.stdout
    assert hashlib.sha256(path.read_bytes()).hexdigest() != sha

    old = FileKek.load(data_dir / "keys" / "storage-kek.bin").kek_id
    rotated = custody(data_dir, "store", "rotate-kek")
    assert rotated.returncode == 0, rotated.stderr
    assert "1 data key(s) wrapped again" in rotated.stderr
    assert FileKek.load(data_dir / "keys" / "storage-kek.bin").kek_id != old
    verified = custody(data_dir, "store", "verify")
    assert verified.returncode == 0, verified.stderr
    assert custody(data_dir, "fixity").returncode == 0
