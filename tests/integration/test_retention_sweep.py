"""The sweep, checked in the store itself: deletion is real, certificates verify, shared
objects go with the last recording, a crash at any step is finished by the next sweep,
and sixty simulated days of a force's footage end exactly as the rules say."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from custody.db.models import AuditEvent, Recording
from custody.db.models.lifecycle import Annotation
from custody.domain import signing
from custody.domain.clock import ManualClock, parse_time
from custody.domain.errors import Conflict, NotFound, NotPermitted
from custody.domain.retention import STATUTORY_LIMIT
from custody.services.evidence import annotations, cases, categories, flags
from custody.services.evidence import holds as hold_service
from custody.services.retention import review, sweep
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import START
from tests.integration.lifecycle_world import Clients, World, build_world
from tests.snapshots import world_of

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def world(system: System) -> World:
    return world_of(build_world, system)


@pytest.fixture
def api(world: World) -> Iterator[Clients]:
    clients = world.client(app_for(world.system))
    with clients.client:
        yield clients


def _objects(system: System) -> set[str]:
    return set(system.store.iter_objects())


def _tags(system: System, recording_id: str) -> list[str]:
    with system.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent.tag)
                .where(AuditEvent.object_id == recording_id)
                .order_by(AuditEvent.seq)
            )
        )


def test_deletion_removes_the_footage_and_its_derivatives_and_leaves_a_signed_tombstone(
    world: World, api: Clients, clock: ManualClock
) -> None:
    system = world.system
    data, thumb = os.urandom(5000), b"\xff\xd8 a thumbnail \xff\xd9"
    rid = world.record(data=data, thumbnail=thumb)
    row = world.row(rid)
    annotations.add_note(
        system, world.people["alice"], rid, "a note", world.people["alice"].actor()
    )
    assert {row.sha256, row.thumbnail_sha256} <= _objects(system)

    clock.set(START + 30 * DAY - HOUR)
    assert sweep.sweep(system).deleted == []
    clock.set(START + 30 * DAY)
    report = sweep.sweep(system)
    assert report.deleted == [rid]
    assert report.objects_deleted == 2
    assert not {row.sha256, row.thumbnail_sha256} & _objects(system)

    tombstone = world.row(rid)
    assert tombstone.state == "deleted"
    assert tombstone.purged_at is not None
    assert json.loads(tombstone.gps_track) == []
    assert json.loads(tombstone.manifest_document)["gps"] == []
    with system.unit_of_work() as uow:
        assert not uow.session.scalars(
            select(Annotation).where(Annotation.recording_id == rid)
        ).all()

    answer = api.as_("pat").get(f"/api/v1/recordings/{rid}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["state"] == "deleted"
    certificate = body["deletion_certificate"]
    signing.verify(certificate, system.server_key.public_key())
    assert certificate["recording_id"] == rid
    assert certificate["sha256"] == row.sha256
    assert parse_time(certificate["recorded_at"]) == START
    assert parse_time(certificate["deleted_at"]) == START + 30 * DAY
    assert certificate["rule"] == "uncategorised"
    assert sorted(certificate["objects"]) == sorted([row.sha256, row.thumbnail_sha256])
    assert "gps_track" not in body and "manifest" not in body
    assert api.as_("pat").get(f"/api/v1/recordings/{rid}/deletion-certificate").json() == (
        certificate
    )
    assert api.as_("alice").get(f"/api/v1/recordings/{rid}").json()["state"] == "deleted"
    assert api.as_("alice").get(f"/api/v1/recordings/{rid}/media").status_code == 404
    tags = _tags(system, rid)
    assert tags.index("system:recording:delete") + 1 == tags.index("system:recording:purge")
    # Nothing more to do: a second sweep deletes nothing and changes nothing.
    again = sweep.sweep(system)
    assert (again.deleted, again.finished, again.objects_deleted) == ([], 0, 0)


def test_only_those_whose_role_may_run_the_sweep_run_it_and_a_refusal_is_audited(
    world: World, clock: ManualClock
) -> None:
    rid = world.record()
    clock.set(START + 31 * DAY)
    alice, admin = world.people["alice"], world.people["admin2"]
    with pytest.raises(NotPermitted):
        sweep.run_sweep(world.system, alice, alice.actor())
    assert world.row(rid).state != "deleted"
    with world.system.unit_of_work() as uow:
        refused = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.tag == "user:retention:run")
        ).one()
    assert (refused.allowed, refused.actor) == (False, "user:alice")
    result = sweep.run_sweep(world.system, admin, admin.actor())
    assert result.deleted == [rid]
    assert world.row(rid).state == "deleted"


def test_changes_to_a_deleted_recording_are_refused(world: World, clock: ManualClock) -> None:
    rid = world.record()
    clock.set(START + 31 * DAY)
    sweep.sweep(world.system)
    pat = world.people["pat"]
    with pytest.raises(Conflict):
        hold_service.place_hold(
            world.system, pat, kind="legal", reason="late", actor=pat.actor(), recording_ids=[rid]
        )
    with pytest.raises(Conflict):
        categories.set_categories(world.system, pat, rid, ["Arrest"], None, pat.actor())


def test_an_object_shared_by_two_recordings_goes_only_with_the_last(
    world: World, clock: ManualClock
) -> None:
    system = world.system
    data, thumb = os.urandom(3000), b"same still"
    first = world.record(data=data, thumbnail=thumb)
    second = world.record("5678CD", data=data, thumbnail=thumb)
    sam = world.people["sam"]
    categories.set_categories(system, sam, second, ["Stop and search"], None, sam.actor())
    clock.set(START + 30 * DAY)
    report = sweep.sweep(system)
    assert report.deleted == [first]
    assert report.objects_deleted == 0
    row = world.row(second)
    assert {row.sha256, row.thumbnail_sha256} <= _objects(system)
    clock.set(START + 365 * DAY)
    assert sweep.sweep(system).deleted == [second]
    assert not {row.sha256, row.thumbnail_sha256} & _objects(system)


def test_a_crash_after_the_tombstone_is_finished_by_the_next_sweep(
    world: World, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = world.system
    rid = world.record(thumbnail=b"still")
    row = world.row(rid)
    clock.set(START + 30 * DAY)
    real_delete = system.store.delete

    def store_down(sha256: str) -> bool:
        raise OSError("the object store is unreachable")

    monkeypatch.setattr(system.store, "delete", store_down)
    report = sweep.sweep(system)
    assert report.deleted == [rid]
    assert [r for r, _ in report.failures] == [rid]
    # The record says deleted (it is, as far as anyone may see), and the bytes are still there.
    half = world.row(rid)
    assert half.state == "deleted" and half.purged_at is None
    assert {row.sha256, row.thumbnail_sha256} <= _objects(system)
    assert review.stale_count(system) == 0

    monkeypatch.setattr(system.store, "delete", real_delete)
    finished = sweep.sweep(system)
    assert finished.finished == 1
    assert finished.objects_deleted == 2
    assert world.row(rid).purged_at is not None
    assert not {row.sha256, row.thumbnail_sha256} & _objects(system)


def test_a_crash_before_the_tombstone_commits_changes_nothing(
    world: World, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = world.system
    rid = world.record()
    row = world.row(rid)
    clock.set(START + 30 * DAY)

    def signer_down(document: dict[str, Any], key: Any) -> dict[str, Any]:
        raise RuntimeError("the signing key is unavailable")

    monkeypatch.setattr(sweep.signing, "sign", signer_down)
    report = sweep.sweep(system)
    assert [r for r, _ in report.failures] == [rid]
    still = world.row(rid)
    assert still.state == "playable" and still.deleted_at is None
    assert row.sha256 in _objects(system)
    assert "system:recording:delete" not in _tags(system, rid)
    monkeypatch.undo()
    assert sweep.sweep(system).deleted == [rid]
    assert row.sha256 not in _objects(system)


def test_a_stale_deletion_date_is_corrected_never_obeyed(world: World, clock: ManualClock) -> None:
    """Defence in depth: the sweep decides again on fresh facts before it deletes."""
    system = world.system
    rid = world.record()
    pat = world.people["pat"]
    hold_service.place_hold(
        system, pat, kind="legal", reason="civil claim", actor=pat.actor(), recording_ids=[rid]
    )
    with system.unit_of_work() as uow:
        uow.session.execute(
            update(Recording).where(Recording.id == rid).values(delete_due_at=START)
        )
        uow.commit()
    clock.set(START + 40 * DAY)
    report = sweep.sweep(system)
    assert report.deleted == [] and report.corrected == [rid]
    assert world.row(rid).delete_due_at is None
    assert world.row(rid).sha256 in _objects(system)
    assert "system:recording:retention_corrected" in _tags(system, rid)


def test_recordings_nobody_has_decided_are_decided_before_the_selection(
    world: World, clock: ManualClock
) -> None:
    """Rows written by any path that skipped the decision have none: the sweep makes it."""
    system = world.system
    old, young = world.record(), world.record(started_at=START + 20 * DAY)
    with system.unit_of_work() as uow:
        uow.session.execute(update(Recording).values(retention_rule=None, delete_due_at=None))
        uow.commit()
    clock.set(START + 35 * DAY)
    report = sweep.sweep(system)
    assert report.decided == 2
    assert report.deleted == [old]
    assert world.row(young).delete_due_at == START + 50 * DAY


def test_concurrent_holds_and_sweeps_never_delete_held_footage(
    world: World, clock: ManualClock
) -> None:
    """A hold placed while the sweep runs either wins (kept) or finds it already deleted."""
    import threading

    system = world.system
    ids = [world.record() for _ in range(12)]
    clock.set(START + 30 * DAY)
    pat = world.people["pat"]
    outcomes: dict[str, str] = {}

    def hold_all() -> None:
        for rid in reversed(ids):
            try:
                hold_service.place_hold(
                    system, pat, kind="legal", reason="race", actor=pat.actor(), recording_ids=[rid]
                )
                outcomes[rid] = "held"
            except (Conflict, NotFound):
                outcomes[rid] = "too late"

    holder = threading.Thread(target=hold_all)
    holder.start()
    sweep.sweep(system)
    holder.join()
    sweep.sweep(system)
    for rid in ids:
        row = world.row(rid)
        if outcomes[rid] == "held":
            assert row.state != "deleted", rid
            assert row.sha256 in _objects(system)
        else:
            assert row.state == "deleted", rid


def test_sixty_days_of_a_force_end_as_the_rules_say(world: World, clock: ManualClock) -> None:
    """Time travel: recordings every few hours for 60 days, people categorising, flagging,
    opening cases and placing holds at random; after every sweep (twice a day, as a worker
    that is often late would) the store itself must hold exactly what the rules keep."""
    system = world.system
    rnd = random.Random(20261001)
    alice, sam, ivan, pat = (world.people[n] for n in ("alice", "sam", "ivan", "pat"))
    case = cases.create_case(
        system,
        ivan,
        reference="CRIS 1/26",
        title="Burglary series",
        actor=ivan.actor(),
        disposal_days=7,
    )
    ever_evidence: set[str] = set()  # once categorised as evidence, flagged, held or in a case
    protected: set[str] = set()  # flagged, held or in the (open) case: never to be deleted
    recordings: list[str] = []
    late_window = (START + 40 * DAY, START + 40 * DAY + 20 * HOUR)  # a sweep outage
    checked = Checked()

    now = START
    while now < START + 60 * DAY:
        now += 12 * HOUR
        clock.set(now)
        for _ in range(rnd.randint(0, 6)):
            officer = rnd.choice(["1234AB", "5678CD", "9999EF"])
            recordings.append(
                world.record(
                    officer, started_at=now - rnd.randint(0, 11) * HOUR, thumbnail=os.urandom(64)
                )
            )
        with system.unit_of_work() as uow:
            # In the order they were made (their ids are random): the same seed, the same run.
            made = {rid: n for n, rid in enumerate(recordings)}
            live = sorted(
                uow.session.scalars(select(Recording.id).where(Recording.state != "deleted")),
                key=made.__getitem__,
            )
        for rid in rnd.sample(live, min(len(live), 2)):
            action = rnd.random()
            try:
                if action < 0.35:
                    categories.set_categories(
                        system, pat, rid, ["Non-evidential"], "routine", pat.actor()
                    )
                elif action < 0.5:
                    categories.set_categories(
                        system, pat, rid, ["Stop and search"], "stop", pat.actor()
                    )
                    ever_evidence.add(rid)
                elif action < 0.6:
                    flags.flag_evidence(system, sam, rid, "assault", sam.actor())
                    protected.add(rid)
                elif action < 0.7:
                    cases.add_to_case(system, ivan, case.id, rid, "series", ivan.actor())
                    protected.add(rid)
                elif action < 0.8:
                    hold_service.place_hold(
                        system,
                        pat,
                        kind=rnd.choice(["legal", "complaint"]),
                        reason="claim",
                        actor=pat.actor(),
                        recording_ids=[rid],
                    )
                    protected.add(rid)
            except (Conflict, NotFound):
                pass  # not this person's to change, or in the case already
            ever_evidence |= protected
        if late_window[0] <= now < late_window[1]:
            continue  # the worker is down: no sweep for 20 hours
        assert sweep.sweep(system).failures == []
        # The whole store once a simulated day (listing it is the costly part).
        whole_store = now.hour == START.hour
        _check_store(world, recordings, protected, ever_evidence, now, checked, whole_store)
    assert checked.whole_stores >= 55
    assert any(world.row(r).state == "deleted" for r in recordings)
    assert any(world.row(r).state != "deleted" for r in recordings)
    assert alice  # (alice only records)


@dataclass
class Checked:
    """What earlier checks proved for good: a deletion is not undone."""

    deleted: set[str] = field(default_factory=set)
    whole_stores: int = 0


def _check_store(
    world: World,
    recordings: list[str],
    protected: set[str],
    ever_evidence: set[str],
    now: Any,
    checked: Checked,
    whole_store: bool,
) -> None:
    system = world.system
    store = system.store
    with system.unit_of_work() as uow:
        rows = uow.session.execute(
            select(
                Recording.id,
                Recording.state,
                Recording.sha256,
                Recording.thumbnail_sha256,
                Recording.started_at,
                Recording.purged_at,
                Recording.deletion_certificate,
            )
        ).all()
    wanted = set()
    for rid, state, sha, thumb, started_at, purged_at, certificate in rows:
        if state == "deleted":
            # Deletion is real: the bytes are gone, and it was not evidence.
            assert rid not in protected, rid
            assert purged_at is not None
            if rid not in checked.deleted:
                for gone in json.loads(certificate)["objects"]:
                    assert not store.exists(gone), rid
                checked.deleted.add(rid)
        else:
            wanted |= {sha, thumb}
            # Never evidence and older than 31 days: the promise is broken.
            if rid not in ever_evidence:
                assert now - started_at < STATUTORY_LIMIT, rid
    assert len(rows) == len(recordings)
    if whole_store:
        # Every live recording's bytes are there, and nothing that no live recording explains.
        assert _objects(system) == wanted
        checked.whole_stores += 1
