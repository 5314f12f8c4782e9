"""The audit chain on SQLite and PostgreSQL: appends link up, and tampering is found."""

from __future__ import annotations

from sqlalchemy import text

from custody.audit import verify_chain
from custody.domain.actor import Actor
from custody.services.system import System


def _append(system: System, count: int) -> None:
    for index in range(count):
        with system.unit_of_work() as uow:
            uow.audit(
                "test:thing:touch", Actor("user:alice"), object_type="thing", object_id=str(index)
            )
            uow.commit()


def _faults(system: System) -> list[int]:
    with system.unit_of_work() as uow:
        return [fault.seq for fault in verify_chain(uow.session)]


def test_events_chain_and_verify(system: System) -> None:
    _append(system, 5)
    assert _faults(system) == []


def test_an_event_rolled_back_with_its_change_leaves_no_trace(system: System) -> None:
    _append(system, 2)
    with system.unit_of_work() as uow:
        uow.audit("test:thing:touch", Actor("user:alice"))
        # no commit: the change and its audit event go together
    assert _faults(system) == []
    with system.unit_of_work() as uow:
        assert uow.session.execute(text("SELECT count(*) FROM audit_events")).scalar() >= 2


def test_editing_an_event_is_found(system: System) -> None:
    _append(system, 5)
    with system.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_events SET actor = 'user:mallory' WHERE object_id = '2'")
        )
    faults = _faults(system)
    assert faults and faults[0] > 0


def test_deleting_the_last_event_is_found(system: System) -> None:
    _append(system, 5)
    with system.engine.begin() as connection:
        connection.execute(
            text("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)")
        )
    assert _faults(system)
