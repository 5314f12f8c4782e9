"""What was made from a recording goes with it under the retention rules.

alice's recording is in dana's robbery case; erin has a redacted copy rendered, fran
approves it, it goes on the schedule as LJ/2 and is shared with Priya Shah of the CPS for a
year. A face scan's thumbnail is stored too. dana closes the case with a week's disposal:
the footage is due 31 days after it was recorded, and the sweep takes the original and
everything derived from it: the copy, both of its records and the thumbnail leave the
store, their data keys are destroyed, the certificate names the copy, the API answers 410,
Priya's link no longer serves it and `custody store verify` finds nothing amiss. The same
footage under a hold keeps its copy, which still plays.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.camera.footage import write_footage
from custody.db.models import AuditEvent, Recording
from custody.db.models.redaction import FaceScan, Redaction
from custody.db.models.storage import ObjectKey
from custody.domain import signing
from custody.domain.actor import Actor
from custody.domain.clock import ManualClock
from custody.services.evidence import cases, holds
from custody.services.identity.users import principal_named
from custody.services.objects import fixity, listing
from custody.services.objects.verification import verify_store
from custody.services.redaction import redactions
from custody.services.retention import sweep
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import START
from tests.integration.test_redacted_disclosure import (
    API,
    PAGE,
    PRIYA,
    World,
    _approve,
    _mark,
    _received,
    _world,
)
from tests.mailbox import smtp_server

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path: Path = tmp_path_factory.mktemp("derived") / "street.mp4"
    write_footage(path, started_at=START, duration=1.0, serial="BWV-0001")
    return path.read_bytes()


THUMBNAIL = b"\xff\xd8\xff\xe0 a face cut from the footage \xff\xd9"


def _scanned(world: World) -> str:
    """A finished face scan of the recording with one track and its thumbnail, as the job
    leaves it (the detector itself is tested in test_redaction)."""
    system = world.system
    thumb = system.store.put_stream([THUMBNAIL]).sha256
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, world.recording)
        assert recording is not None
        uow.session.add(
            FaceScan(
                id=str(uuid.uuid4()), recording_id=recording.id,
                original_sha256=recording.sha256, state="complete", settings="{}",
                model_name="centerface", model_sha256="0" * 64, requested_by="user:erin",
                requested_at=uow.now(), finished_at=uow.now(),
                tracks=json.dumps([{"id": 1, "thumbnail": thumb, "d": [[0, 1, 2, 30, 40, 0.9]]}]),
            )
        )  # fmt: skip
        uow.commit()
    return thumb


def _copy_objects(world: World) -> tuple[str, str]:
    with world.system.unit_of_work() as uow:
        row = uow.session.get(Redaction, world.copy)
        assert row is not None and row.sha256 and row.record_sha256
        return row.sha256, row.record_sha256


def _keyed(world: World, shas: set[str]) -> set[str]:
    with world.system.unit_of_work() as uow:
        return set(uow.session.scalars(select(ObjectKey.sha256).where(ObjectKey.sha256.in_(shas))))


def _close_case(world: World) -> None:
    dana = principal_named(world.system, "dana")
    cases.close_case(world.system, dana, world.case_id, "charged; trial over", Actor("user:dana"),
                     disposal_days=7)  # fmt: skip


def test_a_copy_goes_with_its_original_and_its_share_stops_serving_it(
    system: System, footage: bytes, clock: ManualClock
) -> None:
    world = _world(system, footage)
    rendered = set(_copy_objects(world))  # the copy and the record its render wrote
    _approve(world, world.copy)
    copy, record = _copy_objects(world)  # the record now carries the approval as well
    objects = rendered | {copy, record}
    assert len(objects) == 3
    thumb = _scanned(world)
    objects.add(thumb)
    stored = set(system.store.iter_objects())
    assert objects <= stored
    encrypted = _keyed(world, objects)

    with (
        smtp_server() as mailbox,
        TestClient(app_for(system), follow_redirects=False) as client,
    ):
        system.settings.smtp_host, system.settings.smtp_port = "127.0.0.1", mailbox.port
        system.settings.smtp_tls = "none"
        line = _mark(client, world, "erin", world.copy).json()
        made = client.post(
            f"{API}/cases/{world.case_id}/shares", headers=world.force.auth("fran"),
            json={"recipient": PRIYA, "items": [line["item_id"]], "downloads_allowed": True,
                  "days": 365},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        path = "/" + _received(mailbox).split("/", 3)[3]

        def prove(code_number: int) -> int:
            assert client.post(f"{path}/code", headers=PAGE).status_code == 200
            mailbox.wait_for(code_number + 1)
            proved = client.post(f"{path}/verify", data={"code": mailbox.code(code_number)},
                                 headers=PAGE)  # fmt: skip
            assert proved.status_code == 303, proved.text
            items = client.get(path, headers=PAGE)
            (item_id,) = {int(n) for n in re.findall(r"/items/(\d+)/download", items.text)}
            return item_id

        item_id = prove(1)
        served = client.get(f"{path}/items/{item_id}/download")
        assert hashlib.sha256(served.content).hexdigest() == copy

        # The case closes; the footage is uncategorised: due 31 days after it was recorded.
        _close_case(world)
        clock.set(START + 31 * DAY)
        report = sweep.sweep(system)
        assert report.deleted == [world.recording] and not report.failures

        # The store no longer holds any of it, and no key could read a backup of it.
        assert not objects & set(system.store.iter_objects())
        assert not _keyed(world, objects)
        with system.unit_of_work() as uow:
            tombstone = uow.session.get(Recording, world.recording)
            assert tombstone is not None and tombstone.deletion_certificate
            certificate = json.loads(tombstone.deletion_certificate)
            scan = uow.session.scalar(
                select(FaceScan).where(FaceScan.recording_id == world.recording)
            )
            assert scan is not None and scan.tracks is None  # where the faces were: gone too
        signing.verify(certificate, system.server_key.public_key())
        assert certificate["redactions"] == [world.copy]
        assert objects <= set(certificate["objects"])
        assert encrypted <= set(certificate["data_keys_destroyed"])

        # The API says the copy is gone, to those who may know of it.
        for route in ("", "/record", "/media"):
            answer = client.get(f"{API}/redactions/{world.copy}{route}",
                                headers=world.force.auth("erin"))  # fmt: skip
            assert answer.status_code == 410, (route, answer.text)
            assert answer.json()["error"]["code"] == "gone"
        # Priya's link, still within its year, serves it no more: ended, as an expired link.
        item_id = prove(2)
        ended = client.get(f"{path}/items/{item_id}/download")
        assert ended.status_code == 404 and ended.json()["error"]["code"] == "share_ended"

    verified = verify_store(system, system.store, "live")
    assert verified.matches, verified.differences
    assert verified.deleted_checked >= len(objects)
    # A second sweep finds nothing left to do.
    again = sweep.sweep(system)
    assert (again.deleted, again.finished, again.failures) == ([], 0, [])


def test_a_held_recording_keeps_its_copy(
    system: System, footage: bytes, clock: ManualClock
) -> None:
    world = _world(system, footage)
    _approve(world, world.copy)
    copy, record = _copy_objects(world)
    erin = principal_named(system, "erin")
    holds.place_hold(system, erin, kind="legal", reason="civil claim expected",
                     actor=Actor("user:erin"), recording_ids=[world.recording])  # fmt: skip
    _close_case(world)
    clock.set(START + 400 * DAY)
    assert sweep.sweep(system).deleted == []
    assert {copy, record} <= set(system.store.iter_objects())
    view = redactions.get_redaction(system, erin, world.copy, Actor("user:erin"))
    assert view.released and view.sha256 == copy
    played = redactions.open_copy_media(system, erin, world.copy, Actor("user:erin"), None)
    assert b"".join(played.chunks) == b"".join(system.store.read(copy, 0, played.end))
    assert verify_store(system, system.store, "live").matches


def test_copies_left_by_a_deletion_from_before_go_at_the_next_sweep(
    system: System, footage: bytes
) -> None:
    """A tombstone from before copies went with their original (written here as the old
    sweep left it): the next sweep removes the copy and the thumbnail, and says so."""
    world = _world(system, footage)
    rendered = set(_copy_objects(world))
    _approve(world, world.copy)
    objects = rendered | set(_copy_objects(world)) | {_scanned(world)}
    assert len(objects) == 4  # the copy, both records, the thumbnail
    with system.unit_of_work() as uow:
        recording = uow.session.get(Recording, world.recording)
        assert recording is not None
        recording.state, recording.deleted_at, recording.purged_at = "deleted", uow.now(), uow.now()
        uow.commit()
    assert objects <= set(system.store.iter_objects())

    report = sweep.sweep(system)
    assert report.objects_deleted == len(objects) and not report.failures
    assert not objects & set(system.store.iter_objects())
    assert not _keyed(world, objects)
    with system.unit_of_work() as uow:
        events = list(
            uow.session.scalars(
                select(AuditEvent.details).where(
                    AuditEvent.tag == "system:recording:purge",
                    AuditEvent.object_id == world.recording,
                )
            )
        )
    assert [json.loads(d or "{}")["redactions"] for d in events] == [[world.copy]]
    assert sweep.sweep(system).objects_deleted == 0


def test_fixity_and_store_verify_read_every_object_made_from_a_recording(
    system: System, footage: bytes
) -> None:
    """A copy, both of its records and a face thumbnail are objects the force must keep as
    long as their original: the periodic fixity check reads each, and a missing one is a
    difference `custody store verify` names."""
    world = _world(system, footage)
    rendered = set(_copy_objects(world))
    _approve(world, world.copy)
    made = rendered | set(_copy_objects(world)) | {_scanned(world)}
    assert len(made) == 4

    checked: list[str] = []
    report = fixity.run_fixity(system, progress=lambda sha, _n: checked.append(sha))
    assert report.all_intact, report.problems
    assert made <= set(checked)
    assert listing.count_live(system) == len(set(listing.live_names_in_order(system, page=2)))
    assert made <= set(listing.live_names_in_order(system, page=2))

    copy, _record = _copy_objects(world)
    thumbnail = next(iter(made - rendered - {copy, _record}))
    assert system.store.delete(thumbnail)
    again = fixity.run_fixity(system)
    assert [(p.sha256, p.outcome) for p in again.problems] == [(thumbnail, "missing")]
    verified = verify_store(system, system.store, "live", page=2)
    assert [(d.sha256, d.outcome) for d in verified.differences] == [(thumbnail, "missing")]
