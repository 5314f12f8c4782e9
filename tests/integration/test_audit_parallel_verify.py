"""`verify` of a large log on PostgreSQL checks whole blocks of 2^14 events in worker
processes; whatever is tampered with, it finds and names exactly what the one-process walk
names, and an incremental verify still reads only what is new."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from custody.audit import blocks, sequencer, verify
from custody.audit.blocks import BLOCK
from custody.audit.log import GENESIS, HEAD_ID, event_hash, row_fields
from custody.audit.verify import Report, verify_log
from custody.bootstrap import build_system
from custody.config import Settings
from custody.db.models import AuditHead
from custody.domain import merkle
from custody.domain.actor import Actor
from custody.services.audit_trail import trail
from custody.services.system import System
from tests.conftest import Installer, PostgresAdmin, RecordedJobs, postgres_database_url

pytestmark = pytest.mark.postgres

# Three whole blocks and a part of one, with a checkpoint inside the second block.
EVENTS = 3 * BLOCK + 500
INSIDE = BLOCK + 1234


def _seed(system: System, count: int) -> None:
    """`count` events chained after the head by the sequencer's own code, COPYed in."""
    with system.sessions() as session:
        head = session.get_one(AuditHead, HEAD_ID)
        seq, prev = head.seq, head.hash if head.seq else GENESIS
        tree = sequencer.tree_at(session, seq) if seq else merkle.Accumulator()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        (
            None,
            start + timedelta(seconds=n),
            "user:recording:view",
            f"user:officer{n % 7}",
            "recording",
            f"rec-{n}",
            n % 5 != 0,
            None if n % 5 else "not theirs",
            "10.0.0.7",
            "Firefox",
            f'{{"range":[0,{n}]}}',
            None,
        )
        for n in range(seq + 1, seq + count + 1)
    ]
    events, nodes = sequencer.chain(tree, seq, prev, rows, check=False)
    with system.engine.begin() as connection:
        sequencer.write_postgres(connection, events, nodes)
        connection.execute(
            update(AuditHead)
            .where(AuditHead.id == HEAD_ID)
            .values(seq=events[-1][0], hash=events[-1][12])
        )


@dataclass(frozen=True)
class _Kept:
    template: str  # the PostgreSQL database the log was built in, kept as a template
    data_dir: Path  # the installation's data dir: the server key that signed the checkpoints


@pytest.fixture(scope="module")
def kept_log(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_admin: PostgresAdmin,
    postgres_template: str,
    install: Installer,
) -> _Kept:
    """The large log, built once for the module: most tests tamper with their copy of it."""
    data_dir = tmp_path_factory.mktemp("big-log") / "data"
    with postgres_admin.copy_of(postgres_template) as name:
        settings = Settings(data_dir=data_dir, database_url=postgres_database_url(name))
        system = install(settings, jobs=RecordedJobs())
        _seed(system, INSIDE)
        assert trail.publish_checkpoint(system) is not None
        _seed(system, EVENTS - INSIDE)
        assert trail.publish_checkpoint(system) is not None
        # Hint bits set and statistics gathered once here, not by the first reads of each copy.
        with system.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            db.execute(text("VACUUM (FREEZE, ANALYZE)"))
        system.engine.dispose()
        return _Kept(postgres_admin.keep(name), data_dir)


@pytest.fixture
def big_log(
    tmp_path: Path,
    kept_log: _Kept,
    postgres_admin: PostgresAdmin,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[System]:
    """An installation of this test's own whose log is a copy of the module's large log."""
    monkeypatch.setattr(verify, "PARALLEL_FROM", 2)
    with postgres_admin.copy_of(kept_log.template) as name:
        data_dir = tmp_path / "data"
        shutil.copytree(kept_log.data_dir, data_dir)
        settings = Settings(data_dir=data_dir, database_url=postgres_database_url(name))
        system = build_system(settings, jobs=RecordedJobs())
        yield system
        system.engine.dispose()


def both_ways(system: System) -> tuple[Report, Report]:
    """The report of the parallel walk and of the one-process walk."""
    key = system.server_key.public_key()
    parallel = verify_log(system.sessions, key, workers=2)
    alone = verify_log(system.sessions, key, workers=1)
    assert parallel.worker_cpu > 0, "the blocks were checked by workers"
    assert alone.worker_cpu == 0
    return parallel, alone


def sql(system: System, statement: str, **values: object) -> None:
    with system.engine.begin() as connection:
        connection.execute(text(statement), values)


def test_a_large_intact_log_verifies_in_workers_as_in_one_process(big_log: System) -> None:
    parallel, alone = both_ways(big_log)
    assert parallel.intact and alone.intact
    assert parallel.events == alone.events == EVENTS
    assert parallel.checkpoints == alone.checkpoints == 2


def test_the_checkers_find_an_intact_logs_blocks_whole(big_log: System) -> None:
    # Not merely the same report: a checker that took every block for broken would leave
    # them all to the verifying process and still agree with it.
    dsn = verify._worker_dsn(big_log.sessions)
    assert dsn is not None
    lows = [0, 2 * BLOCK]
    with blocks.Checkers(dsn, 2) as checkers:
        summaries = list(checkers.summaries(lows))
    with big_log.sessions() as session:
        stored = sequencer.read_subtrees(
            session, [(blocks.BLOCK_LEVEL, 0), (blocks.BLOCK_LEVEL, 2)]
        )
    assert [summary.whole for summary in summaries] == [True, True]
    assert [summary.root for summary in summaries] == [
        stored[(blocks.BLOCK_LEVEL, 0)],
        stored[(blocks.BLOCK_LEVEL, 2)],
    ]
    assert summaries[0].first_prev == GENESIS


@pytest.mark.parametrize(
    ("tampering", "seq"),
    [
        # A time moved by a microsecond (the checkers read times as UTC wall time).
        (
            ["UPDATE audit_events SET at = at + interval '1 microsecond' WHERE seq = :s"],
            2 * BLOCK + 3,
        ),
        # A null where an event has none, once the column allows it.
        (
            [
                "ALTER TABLE audit_events ALTER COLUMN actor DROP NOT NULL",
                "UPDATE audit_events SET actor = NULL WHERE seq = :s",
            ],
            2 * BLOCK + 3,
        ),
        # A column of another type: 1 and 0 are not true and false in an event's hash.
        (["ALTER TABLE audit_events ALTER COLUMN allowed TYPE integer USING allowed::integer"], 1),
    ],
    ids=["time", "null", "type"],
)
def test_an_event_changed_in_a_way_the_checkers_read_differently_is_named(
    big_log: System, tampering: list[str], seq: int
) -> None:
    for statement in tampering:
        sql(big_log, statement, s=seq)
    parallel, alone = both_ways(big_log)
    assert parallel.faults == alone.faults
    assert parallel.first is not None and parallel.first.seq == seq
    assert "do not match its hash" in parallel.first.problem


def test_a_checker_that_cannot_reach_the_log_leaves_its_blocks_to_the_verifying_process(
    big_log: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = verify._worker_dsn(big_log.sessions)
    assert dsn is not None
    monkeypatch.setattr(verify, "_worker_dsn", lambda _: {**dsn, "dbname": "no_such_log"})
    parallel, alone = both_ways(big_log)
    assert parallel.intact and parallel.events == alone.events == EVENTS


def test_an_event_edited_inside_a_workers_block_is_named(big_log: System) -> None:
    sql(big_log, "UPDATE audit_events SET actor = 'user:mallory' WHERE seq = :s", s=2 * BLOCK + 7)
    parallel, alone = both_ways(big_log)
    assert parallel.faults == alone.faults
    assert parallel.first is not None and parallel.first.seq == 2 * BLOCK + 7
    assert "do not match its hash" in parallel.first.problem


def test_an_event_edited_and_rehashed_is_named(big_log: System) -> None:
    seq = 100
    with big_log.engine.begin() as connection:
        row = connection.execute(
            text(
                "SELECT seq, at, tag, actor, object_type, object_id, allowed, reason, address, "
                "user_agent, details, prev_hash, hash FROM audit_events WHERE seq = :s"
            ),
            {"s": seq},
        ).one()
        fields = row_fields(row)
        fields["actor"] = "user:mallory"
        connection.execute(
            text("UPDATE audit_events SET actor = 'user:mallory', hash = :h WHERE seq = :s"),
            {"h": event_hash(fields), "s": seq},
        )
    parallel, alone = both_ways(big_log)
    assert parallel.faults == alone.faults
    assert parallel.first is not None and parallel.first.seq == seq
    assert "does not link" in parallel.first.problem


def test_a_stored_tree_node_edited_inside_a_workers_block_is_named(big_log: System) -> None:
    level, index = 3, (2 * BLOCK >> 3) + 11  # over events 2*BLOCK + 89 to 2*BLOCK + 96
    sql(
        big_log,
        "UPDATE audit_tree_nodes SET hash = :h WHERE id = :i",
        h=b"\x00" * 32,
        i=sequencer.node_id(level, index),
    )
    parallel, alone = both_ways(big_log)
    assert parallel.faults == alone.faults
    assert parallel.first is not None and parallel.first.seq == 2 * BLOCK + 89
    assert "stored Merkle tree node over events" in parallel.first.problem


def test_a_stored_tree_node_cut_to_another_length_is_named(big_log: System) -> None:
    # Two nodes re-cut so that their bytes run on unchanged: only their lengths tell.
    first, second = sequencer.node_id(1, 20), sequencer.node_id(1, 21)
    sql(
        big_log,
        "UPDATE audit_tree_nodes SET hash = CASE id WHEN :a THEN substring(hash for 31) "
        "ELSE (SELECT substring(hash from 32) FROM audit_tree_nodes WHERE id = :a) || hash END "
        "WHERE id IN (:a, :b)",
        a=first,
        b=second,
    )
    parallel, alone = both_ways(big_log)
    assert parallel.faults == alone.faults
    assert parallel.first is not None and parallel.first.seq == 41


def test_a_deleted_event_inside_a_workers_block_is_named(big_log: System) -> None:
    sql(big_log, "DELETE FROM audit_events WHERE seq = :s", s=BLOCK * 2 + 1)
    parallel, alone = both_ways(big_log)
    assert parallel.faults == alone.faults
    assert parallel.first is not None and parallel.first.seq == BLOCK * 2 + 1
    assert "missing" in parallel.first.problem


def test_an_edited_pending_event_is_still_named(big_log: System) -> None:
    with big_log.unit_of_work() as uow:
        uow.audit("user:recording:view", Actor("user:alice"), object_id="rec-x")
        uow.session.commit()  # not sequenced yet
    sql(big_log, "UPDATE audit_pending SET object_id = 'rec-y'")
    parallel, alone = both_ways(big_log)
    assert parallel.faults == alone.faults
    assert any("pending event" in fault.problem for fault in parallel.faults)


def test_an_incremental_verify_after_a_parallel_one_reads_only_what_is_new(
    big_log: System,
) -> None:
    whole = trail.verify(big_log, record_as="auditor")
    assert whole.intact and whole.events == EVENTS and whole.worker_cpu > 0
    _seed(big_log, 2 * BLOCK)
    assert trail.publish_checkpoint(big_log) is not None
    again = trail.verify(big_log, since_last=True)
    assert again.intact
    assert again.skipped == EVENTS
    # What is new: the seeded events and the event recording the first verify.
    assert again.events == trail.log_size(big_log) - EVENTS == 2 * BLOCK + 1
    sql(big_log, "UPDATE audit_events SET tag = 'user:recording:edit' WHERE seq = :s", s=EVENTS + 5)
    broken = trail.verify(big_log, since_last=True)
    assert broken.first is not None and broken.first.seq == EVENTS + 5
