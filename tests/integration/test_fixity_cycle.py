"""The periodic fixity walk: a slice at a time, resuming where it stopped, on SQLite and
PostgreSQL; the storage page counts in the database and shows where the cycle stands."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import select

from custody.db.models import Recording
from custody.db.models.storage import FixityCheck, FixityCursor
from custody.domain.clock import ManualClock
from custody.services.objects import fixity
from custody.services.system import System
from tests.integration.lifecycle_world import World, build_world
from tests.snapshots import world_of

HOUR = timedelta(hours=1)


class Killed(Exception):
    """Stands for the worker being killed mid-object."""


@pytest.fixture
def world(system: System) -> World:
    return world_of(build_world, system)


def test_a_killed_fixity_slice_resumes_where_it_stopped_and_the_cycle_covers_everything(
    world: World, clock: ManualClock
) -> None:
    system = world.system
    rows = [world.row(world.record(data=os.urandom(3000 + i))) for i in range(7)]
    # Two recordings of the same bytes (content addressing): one object, checked once.
    same = os.urandom(5000)
    twins = [world.row(world.record(data=same)) for _ in range(2)]
    objects = {row.sha256 for row in rows + twins}
    assert len(objects) == 8
    # The walk's order is the database's (its collation orders the ids).
    with system.unit_of_work() as uow:
        ids = list(uow.session.scalars(select(Recording.id).order_by(Recording.id)))
    sha_of = {row.id: row.sha256 for row in rows + twins}
    distinct = list(dict.fromkeys(sha_of[rid] for rid in ids))
    fourth_from = next(i for i, rid in enumerate(ids) if sha_of[rid] == distinct[3])

    # The first slice: every object is new, so it checks them all (new footage first),
    # and its walk ends the first cycle.
    assert fixity.run_fixity(system, resume=True, seconds=3600).checked == 8
    assert _cycles(system) == 1

    clock.advance(HOUR)
    seen: list[str] = []

    def killed_at_fourth(sha: str, _read: int) -> None:
        if sha not in seen:
            seen.append(sha)
        if len(seen) == 4:
            raise Killed

    with pytest.raises(Killed):
        fixity.run_fixity(system, resume=True, seconds=3600, progress=killed_at_fourth)
    assert seen == distinct[:4]  # the walk's order
    assert _checked_at(system, clock) == set(distinct[:3])  # the fourth was cut short
    with system.unit_of_work() as uow:
        cursor = uow.session.get(FixityCursor, fixity.PERIODIC)
        assert cursor is not None and cursor.after == ids[fourth_from - 1]

    clock.advance(HOUR)
    resumed: list[str] = []
    report = fixity.run_fixity(
        system, resume=True, seconds=3600, progress=lambda sha, _n: resumed.append(sha)
    )
    # It started at the fourth, never went back over the first three, read the twins once.
    assert report.checked == 5 and report.intact == 5
    assert resumed[0] == distinct[3]
    assert not set(distinct[:3]) & set(resumed)
    assert _cycles(system) == 2

    # New footage is checked first by the next slice, wherever the walk stands.
    clock.advance(HOUR)
    new = world.row(world.record(data=os.urandom(6000))).sha256
    first: list[str] = []
    fixity.run_fixity(system, resume=True, seconds=3600, progress=lambda s, _n: first.append(s))
    assert first[0] == new


def _cycles(system: System) -> int:
    with system.unit_of_work() as uow:
        cursor = uow.session.get(FixityCursor, fixity.PERIODIC)
        return 0 if cursor is None else cursor.cycles_done


def _checked_at(system: System, clock: ManualClock) -> set[str]:
    with system.unit_of_work() as uow:
        return set(
            uow.session.scalars(
                select(FixityCheck.sha256).where(FixityCheck.checked_at == clock.now())
            )
        )


def test_the_storage_standing_is_counted_by_the_database(world: World, clock: ManualClock) -> None:
    system = world.system
    admin = world.people["admin2"]
    rows = [world.row(world.record(data=os.urandom(2000 + i))) for i in range(3)]
    first = fixity.standing(system, admin, admin.actor())
    assert (first.objects, first.proven, first.never_proven) == (3, 0, 3)
    assert first.oldest_proof_at is None and first.cycles_done == 0

    fixity.run_fixity(system, resume=True, seconds=3600)
    after = fixity.standing(system, admin, admin.actor())
    assert (after.objects, after.proven, after.never_proven) == (3, 3, 0)
    assert after.oldest_proof_at is not None and after.cycles_done == 1
    assert after.problems == [] and after.problems_total == 0
    assert rows  # every object counted once, whatever rows name it
