"""Rotating the key-encryption key: every data key wrapped again, resumable after a kill,
new objects wrapped by the new key from the first moment, the old key retired only when
nothing uses it, audited; on SQLite and PostgreSQL (the HSM's rotation: tests/e2e)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from custody.bootstrap import build_system
from custody.db.models import AuditEvent
from custody.db.models.storage import ObjectKey
from custody.domain.clock import ManualClock
from custody.domain.errors import WrongKeyEncryptionKey
from custody.services.objects import kek_rotation
from custody.services.system import NoJobs, System
from custody.storage.kek import FileKek, next_key_path
from tests.integration.lifecycle_world import World, build_world
from tests.snapshots import world_of


class Killed(Exception):
    """Stands for the process being killed between two batches."""


@pytest.fixture
def world(system: System) -> World:
    return world_of(build_world, system)


def _kek_ids(system: System) -> dict[str, int]:
    with system.unit_of_work() as uow:
        return dict(
            uow.session.execute(
                select(ObjectKey.kek_id, func.count()).group_by(ObjectKey.kek_id)
            ).all()
        )


def _all_read(system: System, shas: list[str]) -> None:
    for sha in shas:
        assert hashlib.sha256(b"".join(system.store.read(sha))).hexdigest() == sha


def _killed_after_first(batches: int) -> None:
    if batches == 1:
        raise Killed


def test_rotating_the_key_file_rewraps_every_data_key_and_survives_a_kill(
    world: World, clock: ManualClock
) -> None:
    system = world.system
    settings = system.settings
    shas = [world.row(world.record(data=os.urandom(3000 + i))).sha256 for i in range(5)]
    old_id = FileKek.load(settings.resolved_kek_file).kek_id
    assert _kek_ids(system) == {old_id: 5}

    with pytest.raises(Killed):
        kek_rotation.rotate_kek(system, batch=2, fault=_killed_after_first)
    new_id = FileKek.load(next_key_path(settings.resolved_kek_file)).kek_id
    assert _kek_ids(system) == {old_id: 3, new_id: 2}
    _all_read(system, shas)
    # Mid-rotation, a new object's data key is wrapped by the new key at once.
    shas.append(system.store.put_stream([os.urandom(4000)]).sha256)
    assert _kek_ids(system) == {old_id: 3, new_id: 3}
    # A restart mid-rotation (another node, say) reads everything.
    restarted = build_system(settings, clock=clock, jobs=NoJobs())
    _all_read(restarted, shas)
    restarted.engine.dispose()

    report = kek_rotation.rotate_kek(system, batch=2)
    assert (report.from_kek, report.to_kek, report.rewrapped) == (old_id, new_id, 3)
    assert _kek_ids(system) == {new_id: 6}
    # Retired: the new key is in the old one's place, the old moved aside.
    assert FileKek.load(settings.resolved_kek_file).kek_id == new_id
    assert not next_key_path(settings.resolved_kek_file).exists()
    retired = settings.resolved_kek_file.parent / "retired"
    assert [FileKek.load(p).kek_id for p in retired.iterdir()] == [old_id]
    assert "wraps no data key now" in report.retired
    _all_read(system, shas)  # this process re-read its key file
    shas.append(system.store.put_stream([os.urandom(4100)]).sha256)
    assert _kek_ids(system) == {new_id: 7}

    shutil.rmtree(retired)  # nothing needs the old key any more
    after = build_system(settings, clock=clock, jobs=NoJobs())
    _all_read(after, shas)
    after.engine.dispose()
    with system.unit_of_work() as uow:
        tags = list(uow.session.scalars(select(AuditEvent.tag).order_by(AuditEvent.seq)))
    for tag in (kek_rotation.STARTED_TAG, kek_rotation.ROTATED_TAG, kek_rotation.RETIRED_TAG):
        assert tags.count(tag) == 1


def test_the_old_key_file_put_back_after_a_rotation_is_refused_at_start(
    world: World, clock: ManualClock
) -> None:
    system = world.system
    settings = system.settings
    world.record(data=os.urandom(3000))
    old = settings.resolved_kek_file.read_bytes()
    kek_rotation.rotate_kek(system)
    settings.resolved_kek_file.write_bytes(old)
    with pytest.raises(WrongKeyEncryptionKey) as refused:
        build_system(settings, clock=clock, jobs=NoJobs())
    assert "wrapped by key-encryption key file:" in refused.value.message


def test_a_rotation_with_nothing_stored_retires_the_old_key_at_once(
    system: System, tmp_path: Path
) -> None:
    report = kek_rotation.rotate_kek(system)
    assert report.rewrapped == 0 and report.finished
    assert FileKek.load(system.settings.resolved_kek_file).kek_id == report.to_kek
