"""Someone with the database password edits, deletes, inserts and reorders audit rows directly;
the real `custody audit verify` command fails and names the event, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from custody.audit.log import event_hash, hashed_fields
from custody.db.models import AuditEvent
from custody.domain.actor import Actor
from custody.services.audit_trail import trail
from custody.services.system import System
from tests.conftest import custody

EVENTS = 12


def _append(system: System, first: int, count: int) -> None:
    for index in range(first, first + count):
        with system.unit_of_work() as uow:
            uow.audit(
                "user:recording:view",
                Actor("user:alice", "10.0.0.7", "Firefox"),
                object_type="recording",
                object_id=f"rec-{index}",
            )
            uow.commit()


@pytest.fixture
def log(system: System) -> Iterator[System]:
    """Twelve events, with signed checkpoints over the first eight and over all twelve."""
    _append(system, 1, 8)
    assert trail.publish_checkpoint(system) is not None
    _append(system, 9, EVENTS - 8)
    assert trail.publish_checkpoint(system) is not None
    yield system


def verify_command(system: System) -> subprocess.CompletedProcess[str]:
    """`custody audit verify`, as an auditor would run it (in the test's process)."""
    env = {"CUSTODY_DATABASE_URL": system.settings.resolved_database_url, "COLUMNS": "200"}
    return custody(system.settings.data_dir, "audit", "verify", env=env)


def tamper(system: System, change: Callable[[Connection], None]) -> None:
    with system.engine.begin() as connection:
        change(connection)


def _row(connection: Connection, seq: int) -> dict[str, object]:
    return dict(
        connection.execute(text("SELECT * FROM audit_events WHERE seq = :s"), {"s": seq})
        .mappings()
        .one()
    )


def _rehash(connection: Connection, seq: int, prev_hash: str | None = None) -> str:
    """Recompute a row's hash as a forger who knows the scheme would (no key needed)."""
    with Session(bind=connection) as session:
        event = session.get_one(AuditEvent, seq)
        if prev_hash is not None:
            event.prev_hash = prev_hash
        fields = hashed_fields(event)
    digest = event_hash(fields)
    connection.execute(
        text("UPDATE audit_events SET hash = :h, prev_hash = :p WHERE seq = :s"),
        {"h": digest, "p": fields["prev_hash"], "s": seq},
    )
    return digest


def _rechain(connection: Connection, start: int, end: int) -> str:
    """Re-hash every event from `start` on, so that the chain links again."""
    prev = str(_row(connection, start - 1)["hash"]) if start > 1 else "0" * 64
    for seq in range(start, end + 1):
        prev = _rehash(connection, seq, prev)
    connection.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": end, "h": prev})
    return prev


def assert_fails_naming(system: System, seq: int, *phrases: str) -> str:
    result = verify_command(system)
    output = result.stderr + result.stdout
    assert result.returncode != 0, output
    assert f"first bad event: {seq}" in output, output
    for phrase in phrases:
        assert phrase in output, output
    return output


def test_an_intact_log_verifies(log: System) -> None:
    result = verify_command(log)
    assert result.returncode == 0, result.stderr
    assert f"{EVENTS} events" in result.stderr and "2 signed checkpoint" in result.stderr


def test_editing_an_event_names_it(log: System) -> None:
    tamper(
        log,
        lambda c: c.execute(text("UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 5")),
    )
    assert_fails_naming(log, 5, "do not match its hash")


def test_editing_and_rehashing_an_event_names_it(log: System) -> None:
    def change(connection: Connection) -> None:
        connection.execute(text("UPDATE audit_events SET address = '6.6.6.6' WHERE seq = 5"))
        _rehash(connection, 5)

    tamper(log, change)
    assert_fails_naming(log, 5, "event 6 does not link to event 5")


def test_rewriting_the_whole_chain_after_an_edit_is_caught_by_the_signed_checkpoint(
    log: System,
) -> None:
    def change(connection: Connection) -> None:
        connection.execute(text("UPDATE audit_events SET object_id = 'other' WHERE seq = 10"))
        _rechain(connection, 10, EVENTS)

    tamper(log, change)
    # The checkpoint over eight events still fits; the one over twelve does not.
    assert_fails_naming(log, 9, "events 9 to 12 do not match checkpoint")


def test_deleting_an_event_names_it(log: System) -> None:
    tamper(log, lambda c: c.execute(text("DELETE FROM audit_events WHERE seq = 5")))
    assert_fails_naming(log, 5, "event 5 is missing")


def test_deleting_the_last_event_names_it(log: System) -> None:
    tamper(log, lambda c: c.execute(text(f"DELETE FROM audit_events WHERE seq = {EVENTS}")))
    assert_fails_naming(log, EVENTS, f"event {EVENTS} is missing")


def test_truncating_and_moving_the_head_back_is_caught_by_the_checkpoint(log: System) -> None:
    def change(connection: Connection) -> None:
        connection.execute(text("DELETE FROM audit_events WHERE seq > 10"))
        last = _row(connection, 10)["hash"]
        connection.execute(text("UPDATE audit_head SET seq = 10, hash = :h"), {"h": last})

    tamper(log, change)
    assert_fails_naming(log, 11, "event 11 is missing", "covers 12 events")


def test_inserting_an_event_in_the_middle_names_it(log: System) -> None:
    def change(connection: Connection) -> None:
        # Make room at 6 (from the top down, so the primary key never collides).
        for seq in range(EVENTS, 5, -1):
            connection.execute(
                text("UPDATE audit_events SET seq = :n WHERE seq = :s"), {"n": seq + 1, "s": seq}
            )
        forged = {**_row(connection, 5), "seq": 6, "actor": "user:nobody"}
        connection.execute(
            text(
                "INSERT INTO audit_events (seq, at, tag, actor, object_type, object_id, "
                "allowed, reason, address, user_agent, details, prev_hash, hash) VALUES "
                "(:seq, :at, :tag, :actor, :object_type, :object_id, :allowed, :reason, "
                ":address, :user_agent, :details, :prev_hash, :hash)"
            ),
            forged,
        )

    tamper(log, change)
    assert_fails_naming(log, 6, "event 6: its contents do not match its hash")


def test_inserting_an_event_after_the_head_names_it(log: System) -> None:
    def change(connection: Connection) -> None:
        forged = {**_row(connection, EVENTS), "seq": EVENTS + 1}
        connection.execute(
            text(
                "INSERT INTO audit_events (seq, at, tag, actor, object_type, object_id, "
                "allowed, reason, address, user_agent, details, prev_hash, hash) VALUES "
                "(:seq, :at, :tag, :actor, :object_type, :object_id, :allowed, :reason, "
                ":address, :user_agent, :details, :prev_hash, :hash)"
            ),
            forged,
        )
        _rehash(connection, EVENTS + 1, str(_row(connection, EVENTS)["hash"]))

    tamper(log, change)
    assert_fails_naming(log, EVENTS + 1, "behind the chain head")


def test_reordering_events_names_the_first(log: System) -> None:
    def change(connection: Connection) -> None:
        swap = "UPDATE audit_events SET seq = :n WHERE seq = :s"
        connection.execute(text(swap), {"n": -1, "s": 4})
        connection.execute(text(swap), {"n": 4, "s": 5})
        connection.execute(text(swap), {"n": 5, "s": -1})

    tamper(log, change)
    assert_fails_naming(log, 4, "event 4: its contents do not match its hash")


def test_a_forged_checkpoint_is_refused(log: System) -> None:
    tamper(
        log,
        lambda c: c.execute(
            text("UPDATE audit_checkpoints SET root = :r WHERE size = 8"), {"r": "ab" * 32}
        ),
    )
    result = verify_command(log)
    assert result.returncode != 0
    assert "not signed by this server's key" in result.stderr


def test_the_service_refuses_to_sign_over_a_broken_chain(log: System) -> None:
    _append(log, 13, 1)
    tamper(
        log,
        lambda c: c.execute(text("UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 13")),
    )
    from custody.audit.checkpoints import ChainBroken

    with pytest.raises(ChainBroken, match="event 13"):
        trail.publish_checkpoint(log)


def test_verify_reports_progress_and_counts(log: System, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    report = trail.verify(log, lambda done, total: seen.append((done, total)))
    assert report.intact and report.events == EVENTS and report.checkpoints == 2
    assert seen[-1] == (EVENTS, EVENTS)
