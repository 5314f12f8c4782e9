"""The sequenced audit log: events committed with their change, chained after, nothing lost.

Writers commit pending rows without a shared lock; the sequencer chains them. Shown here
on SQLite and PostgreSQL: two processes (two nodes) writing at once leave one chain; a
process killed between its commit and sequencing loses nothing; a pending event or a
stored tree node edited in the database is caught; proofs read from the stored tree are
the RFC 6962 proofs and check against the signed checkpoints; `verify` hashes aligned
blocks whole and finds the same faults; an incremental verify reads only what is new;
and migration 0017 keeps an existing chain, and its checkpoints, valid.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from custody.audit import sequencer, verify
from custody.audit.log import GENESIS, event_hash, iter_rows
from custody.audit.proofs import check_proof
from custody.bootstrap import build_system
from custody.config import Settings
from custody.db import migrate
from custody.db.engine import make_engine
from custody.db.models import AuditCheckpoint, AuditEvent, AuditPending
from custody.domain import merkle
from custody.domain.actor import Actor
from custody.services.audit_trail import trail
from custody.services.system import System
from tests.conftest import RecordedJobs, custody


def _append(system: System, count: int, first: int = 0) -> None:
    for index in range(first, first + count):
        with system.unit_of_work() as uow:
            uow.audit(
                "user:recording:view",
                Actor("user:alice", "10.0.0.7", "Firefox"),
                object_type="recording",
                object_id=f"rec-{index}",
            )
            uow.commit()


def _count(system: System, table: type[AuditEvent] | type[AuditPending]) -> int:
    with system.sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _verify(system: System) -> subprocess.CompletedProcess[str]:
    env = {"CUSTODY_DATABASE_URL": system.settings.resolved_database_url, "COLUMNS": "200"}
    return custody(system.settings.data_dir, "audit", "verify", env=env)


def _run(system: System, script: str) -> subprocess.CompletedProcess[str]:
    """A script in a process of its own, on the same database (another node)."""
    env = {
        **os.environ,
        "CUSTODY_DATA_DIR": str(system.settings.data_dir),
        "CUSTODY_DATABASE_URL": system.settings.resolved_database_url,
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


WRITER = """
    import sys
    from custody.bootstrap import build_system
    from custody.config import Settings
    from custody.domain.actor import Actor
    from custody.services.system import NoJobs

    system = build_system(Settings(), jobs=NoJobs())
    if sys.argv[-1] == "background":
        system.start_sequencer()
    for index in range({count}):
        with system.unit_of_work() as uow:
            uow.audit("test:thing:touch", Actor("user:{name}"), object_type="thing",
                      object_id=str(index))
            uow.commit()
        if index % 25 == 0:
            from custody.services.audit_trail import trail
            trail.publish_checkpoint(system)
    system.stop_sequencer()
"""


def test_two_nodes_writing_at_once_leave_one_chain(system: System) -> None:
    """Two processes, each its own engine (one sequencing in line, one in the background),
    append and publish checkpoints at once: one chain, every event in it once."""
    count = 80
    env = {
        **os.environ,
        "CUSTODY_DATA_DIR": str(system.settings.data_dir),
        "CUSTODY_DATABASE_URL": system.settings.resolved_database_url,
    }
    nodes = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER.format(count=count, name=name)), mode],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, mode in (("node1", "inline"), ("node2", "background"))
    ]
    for node in nodes:
        _, errors = node.communicate(timeout=300)
        assert node.returncode == 0, errors
    report = trail.verify(system)
    assert report.intact, report.faults
    assert report.events == 2 * count
    assert _count(system, AuditPending) == 0
    with system.sessions() as session:
        seqs = list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        written = {
            (actor, object_id)
            for actor, object_id in session.execute(select(AuditEvent.actor, AuditEvent.object_id))
        }
    assert seqs == list(range(1, 2 * count + 1))
    assert written == {(f"user:{n}", str(i)) for n in ("node1", "node2") for i in range(count)}
    # Every checkpoint either node signed extends the one before: one history.
    sizes = [c.size for c in trail.checkpoints(system, limit=100)][::-1]
    assert len(sizes) >= 2
    ids = [c.id for c in trail.checkpoints(system, limit=100)][::-1]
    for older, newer in itertools.pairwise(ids):
        document = trail.consistency_proof(system, older, new_id=newer).model_dump()
        assert check_proof(document, system.server_key.public_key()).ok


CRASH = """
    import os
    from custody.bootstrap import build_system
    from custody.config import Settings
    from custody.domain.actor import Actor
    from custody.services.system import NoJobs, System

    # The fault: the process dies the moment its transaction has committed, before the
    # sequencer could run (as a node killed by the kernel would).
    System.audit_committed = lambda self: os._exit(9)
    system = build_system(Settings(), jobs=NoJobs())
    with system.unit_of_work() as uow:
        uow.audit("user:recording:view", Actor("user:crash"), object_type="recording",
                  object_id="rec-crash")
        uow.commit()
    raise SystemExit("not reached: the commit's hook ends the process")
"""


def test_a_crash_between_commit_and_sequencing_loses_nothing(system: System) -> None:
    _append(system, 3)
    assert trail.publish_checkpoint(system) is not None
    died = _run(system, CRASH)
    assert died.returncode == 9, died.stderr
    # Committed with its change: durable, pending, not yet in the chain.
    assert _count(system, AuditPending) == 1
    assert _count(system, AuditEvent) == 3
    # Any later reader sequences it first: here the auditor's `verify`.
    result = _verify(system)
    assert result.returncode == 0, result.stderr
    assert "4 events" in result.stderr
    assert _count(system, AuditPending) == 0
    with system.sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.seq == 4)).one()
    assert (event.actor, event.object_id) == ("user:crash", "rec-crash")
    published = trail.publish_checkpoint(system)
    assert published is not None and published.size >= 4
    proof = trail.inclusion_proof(system, 4).model_dump()
    assert check_proof(proof, system.server_key.public_key()).ok


def test_an_event_rolled_back_with_its_change_is_never_chained(system: System) -> None:
    _append(system, 2)
    with system.unit_of_work() as uow:
        uow.audit("user:recording:view", Actor("user:alice"), object_id="gone")
        # no commit
    assert _count(system, AuditPending) == 0
    assert trail.verify(system).events == 2


def _hold_pending(system: System, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """Events committed but left pending (the sequencer held off for the test)."""
    monkeypatch.setattr(System, "audit_committed", lambda self: None)
    _append(system, count, first=100)
    monkeypatch.undo()
    assert _count(system, AuditPending) == count


def test_editing_a_pending_event_is_caught_and_it_is_never_chained(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    _append(system, 4)
    _hold_pending(system, monkeypatch, 2)
    with system.engine.begin() as connection:
        first = connection.execute(select(func.min(AuditPending.id))).scalar_one()
        connection.execute(
            text("UPDATE audit_pending SET actor = 'user:mallory' WHERE id = :i"), {"i": first}
        )
    with pytest.raises(sequencer.PendingTampered, match=f"pending audit event {first}"):
        system.sequence_audit()
    result = _verify(system)
    assert result.returncode != 0
    assert f"pending event {first} (not yet sequenced) does not match its entry hash" in (
        result.stderr
    )
    # The chain itself is untouched: the edited event was not signed into anything.
    assert _count(system, AuditEvent) == 4


def test_editing_a_sequenced_event_is_still_named(system: System) -> None:
    _append(system, 6)
    with system.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 3"))
    result = _verify(system)
    assert result.returncode != 0
    assert "first bad event: 3" in result.stderr


def test_an_edited_tree_node_is_caught_and_no_proof_is_given_from_it(system: System) -> None:
    _append(system, 8)
    assert trail.publish_checkpoint(system) is not None
    with system.engine.begin() as connection:
        # The node over events 1-4 (level 2, index 0).
        connection.execute(
            text("UPDATE audit_tree_nodes SET hash = :h WHERE id = :i"),
            {"h": b"\x07" * 32, "i": sequencer.node_id(2, 0)},
        )
    with pytest.raises(sequencer.TreeBroken, match="does not lead from event 6"):
        trail.inclusion_proof(system, 6)
    # The event's own sibling subtree is untouched: its proof does not read that node.
    assert check_proof(trail.inclusion_proof(system, 2).model_dump()).ok
    result = _verify(system)
    assert result.returncode != 0
    assert "first bad event: 1" in result.stderr
    assert "the stored Merkle tree node over events 1 to 4 does not match them" in result.stderr
    # A checkpoint's root is computed from the events, never read from the stored nodes.
    _append(system, 1, first=50)
    published = trail.publish_checkpoint(system)
    assert published is not None
    hashes = [row[-1] for row in iter_rows(system.sessions, until=published.size)]
    leaves = [merkle.leaf_hash(bytes.fromhex(digest)) for digest in hashes]
    assert published.root == merkle.root_of(leaves).hex()


def test_proofs_from_stored_nodes_are_the_rfc_6962_proofs(system: System) -> None:
    checkpoints = []
    total = 0
    for size in (1, 5, 8, 13, 16, 17, 31):
        _append(system, size - total, first=total)
        total = size
        published = trail.publish_checkpoint(system)
        assert published is not None and published.size == size
        checkpoints.append(published)
    key = system.server_key.public_key()
    hashes = [row[-1] for row in iter_rows(system.sessions, until=total)]
    leaves = [merkle.leaf_hash(bytes.fromhex(digest)) for digest in hashes]
    for checkpoint in checkpoints:
        for seq in range(1, checkpoint.size + 1):
            proof = trail.inclusion_proof(system, seq, checkpoint_id=checkpoint.id).model_dump()
            assert check_proof(proof, key).ok, (seq, checkpoint.size)
            expected = merkle.inclusion_proof(seq - 1, checkpoint.size, leaves)
            assert proof["audit_path"] == [node.hex() for node in expected]
    for older in checkpoints:
        for newer in checkpoints:
            if older.size < newer.size:
                proof = trail.consistency_proof(system, older.id, new_id=newer.id).model_dump()
                assert check_proof(proof, key).ok, (older.size, newer.size)
                expected = merkle.consistency_proof(older.size, newer.size, leaves)
                assert proof["path"] == [node.hex() for node in expected]


def test_verify_hashes_aligned_blocks_whole_and_finds_the_same_faults(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of four leaves, so that a small log has whole blocks, checkpoints inside
    # and at the ends of blocks, and a partial block at the end.
    monkeypatch.setattr(verify, "BLOCK_LEVEL", 2)
    monkeypatch.setattr(verify, "BLOCK", 4)
    for size in (3, 4, 8, 10, 16, 19):
        _append(system, size - _count(system, AuditEvent), first=size * 10)
        assert trail.publish_checkpoint(system) is not None
    report = trail.verify(system)
    assert report.intact and report.events == 19 and report.checkpoints == 6, report.faults
    with system.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET object_id = 'forged' WHERE seq = 13"))
    report = trail.verify(system)
    assert not report.intact
    assert report.first is not None and report.first.seq == 13
    assert "its contents do not match its hash" in report.first.problem


def test_verify_names_an_edited_node_inside_a_whole_block(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "BLOCK_LEVEL", 2)
    monkeypatch.setattr(verify, "BLOCK", 4)
    _append(system, 12)
    assert trail.publish_checkpoint(system) is not None
    with system.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_tree_nodes SET hash = :h WHERE id = :i"),
            {"h": b"\x01" * 32, "i": sequencer.node_id(1, 3)},  # events 7 and 8
        )
    report = trail.verify(system)
    assert report.first is not None and report.first.seq == 7, report.faults
    assert "node over events 7 to 8" in report.first.problem


def test_incremental_verify_reads_only_what_is_new(system: System) -> None:
    _append(system, 10)
    first = trail.publish_checkpoint(system)
    assert first is not None
    whole = trail.verify(system, record_as="test")
    assert whole.intact and whole.skipped == 0
    _append(system, 5, first=10)
    assert trail.publish_checkpoint(system) is not None
    since = trail.verify(system, since_last=True, record_as="test")
    assert since.intact, since.faults
    assert since.skipped == first.size
    # The new events: five, and the verification's own record of the first check.
    assert since.events == trail.log_size(system) - first.size - 1
    # An edit after the last verified checkpoint is found by the next incremental check;
    # one before it only by a whole verify (which an auditor runs as well: see the docs).
    assert since.last_checkpoint is not None
    verified_to = since.last_checkpoint.size
    _append(system, 3, first=20)
    assert trail.publish_checkpoint(system) is not None
    with system.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_events SET actor = 'user:m' WHERE seq = :s"),
            {"s": verified_to + 2},
        )
        connection.execute(text("UPDATE audit_events SET actor = 'user:m' WHERE seq = 3"))
    later = trail.verify(system, since_last=True)
    assert not later.intact and later.first is not None
    assert later.first.seq == verified_to + 2
    whole_again = trail.verify(system)
    assert whole_again.first is not None and whole_again.first.seq == 3


def test_incremental_verify_starts_over_when_its_starting_point_was_changed(
    system: System,
) -> None:
    _append(system, 6)
    checkpoint = trail.publish_checkpoint(system)
    assert checkpoint is not None
    assert trail.verify(system, record_as="test").intact
    with system.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_events SET hash = :h WHERE seq = :s"),
            {"h": "ab" * 32, "s": checkpoint.size},
        )
    report = trail.verify(system, since_last=True)
    assert report.skipped == 0  # the recorded hash no longer matches: everything is read
    assert not report.intact and report.first is not None and report.first.seq == 6


# --- migration 0017 ---------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'custody.db'}"
    url: str = request.getfixturevalue("empty_postgres_url")
    return url


def test_migration_0017_keeps_an_existing_chain_and_its_checkpoints(
    tmp_path: Path, empty_database_url: str
) -> None:
    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, "0016")
    # A log written the way 0016 and before wrote it: chained in the writer's transaction.
    prev = GENESIS
    rows = []
    for seq in range(1, 38):
        row = {
            "seq": seq,
            "at": f"2026-01-01T00:00:{seq:02d}Z",
            "tag": "user:recording:view",
            "actor": f"user:officer{seq % 3}",
            "object_type": "recording",
            "object_id": f"rec-{seq}",
            "allowed": True,
            "reason": None,
            "address": None,
            "user_agent": None,
            "details": "{}",
            "prev_hash": prev,
        }
        row["hash"] = prev = event_hash(row)
        rows.append(row)
    with engine.begin() as connection:
        for row in rows:
            connection.execute(
                text(
                    "INSERT INTO audit_events (seq, at, tag, actor, object_type, object_id, "
                    "allowed, reason, address, user_agent, details, prev_hash, hash) VALUES "
                    "(:seq, :at, :tag, :actor, :object_type, :object_id, :allowed, :reason, "
                    ":address, :user_agent, :details, :prev_hash, :hash)"
                ),
                {**row, "at": _stored_time(engine.dialect.name, row["at"])},
            )
        connection.execute(text("UPDATE audit_head SET seq = 37, hash = :h"), {"h": prev})
    engine.dispose()
    settings = Settings(data_dir=tmp_path / "data", database_url=empty_database_url)
    system = build_system(settings, jobs=RecordedJobs(), create=True)  # runs 0017
    try:
        old = trail.publish_checkpoint(system)
        assert old is not None and old.size == 37
        _append(system, 5)
        new = trail.publish_checkpoint(system)
        assert new is not None and new.size == 42
        report = trail.verify(system)
        assert report.intact and report.events == 42, report.faults
        key = system.server_key.public_key()
        for seq in (1, 20, 37, 40):
            assert check_proof(trail.inclusion_proof(system, seq).model_dump(), key).ok
        consistency = trail.consistency_proof(system, old.id, new_id=new.id).model_dump()
        assert check_proof(consistency, key).ok
        with system.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(AuditCheckpoint))
        assert stored == 2
    finally:
        system.engine.dispose()


def _stored_time(dialect: str, when: str) -> str:
    # SQLite keeps naive UTC text (custody.db.types.UTCDateTime); PostgreSQL a timestamptz.
    if dialect == "sqlite":
        return when.replace("T", " ").removesuffix("Z") + ".000000"
    return when
