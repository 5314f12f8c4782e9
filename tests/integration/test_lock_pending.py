"""The mark a retention change leaves for the store's Object Lock (`recordings.locks_pending`):
made in the change's own transaction, and cleared only for the version whose protection
the store was given, so a change made while the store was being told is never lost.
"""

from __future__ import annotations

from custody.db.models import Recording
from custody.services.evidence import holds as hold_service
from custody.services.retention import locks
from custody.services.system import System
from tests.integration.lifecycle_world import build_world


def _pending(system: System, rid: str) -> tuple[bool, int]:
    with system.unit_of_work() as uow:
        row = uow.session.get(Recording, rid)
        assert row is not None
        return row.locks_pending, row.locks_version


def test_a_change_while_the_store_is_told_stays_pending(system: System) -> None:
    world = build_world(system)
    rid = world.record()
    assert _pending(system, rid) == (True, 0)  # new footage: the store has not been told

    # The store is being told about version 0 when a hold is placed (version 1): telling
    # the store about version 0 must not clear the mark the hold left.
    pat = world.people["pat"]
    (hold,) = hold_service.place_hold(
        system, pat, kind="legal", reason="claim", actor=pat.actor(), recording_ids=[rid]
    )
    assert _pending(system, rid) == (True, 1)
    locks._settle(system, [(rid, 0)])
    assert _pending(system, rid) == (True, 1)
    locks._settle(system, [(rid, 1)])
    assert _pending(system, rid) == (False, 1)

    # The next change marks it again, in its own transaction. A store without Object Lock
    # (this one) is never told: the mark waits for one that has it (custody store lock).
    hold_service.lift_hold(system, pat, hold.id, "settled", pat.actor())
    assert _pending(system, rid) == (True, 2)
    assert locks.renew_locks(system) == locks.Renewal(0, 0)
    assert _pending(system, rid) == (True, 2)
