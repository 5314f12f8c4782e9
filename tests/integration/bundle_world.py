"""A case ready for a court bundle: real footage, a schedule, a clip, a deleted recording.

The schedule and the clip are written as rows here (the disclosure area's own use cases
for marking and cutting are built elsewhere); everything else goes through the services.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from custody.camera.footage import write_footage
from custody.db.models.disclosure import Clip
from custody.domain.actor import Actor
from custody.domain.clock import ManualClock
from custody.domain.disclosure import Use
from custody.domain.principal import Principal
from custody.services.disclosure import bundles, schedule
from custody.services.disclosure.bag_targets import BagTarget, FolderTarget, ZipTarget
from custody.services.disclosure.bundle_answers import BundleMade
from custody.services.evidence import cases
from custody.services.identity.users import principal_named
from custody.services.retention import sweep
from custody.services.system import System
from tests.conftest import START
from tests.people import Force, make_force, store_recording
from tests.snapshots import world_of


@dataclass
class World:
    force: Force
    clock: ManualClock
    case_id: int = 0
    deleted_case_id: int = 0
    exhibit: str = ""  # LJ/1: real footage
    unused: str = ""  # unused, not sensitive
    sensitive: str = ""  # unused, sensitive: never leaves
    deleted: str = ""  # deleted under retention, in the closed case
    clip_id: str = ""
    footage: dict[str, bytes] = field(default_factory=dict)

    @property
    def system(self) -> System:
        return self.force.system

    def principal(self, name: str) -> Principal:
        return principal_named(self.system, name)

    def export(
        self,
        out: Path,
        *,
        as_zip: bool = False,
        case_id: int | None = None,
        who: str = "fran",
        progress: bundles.Progress | None = None,
    ) -> BundleMade:
        principal = self.principal(who)

        def target(made_at: datetime) -> BagTarget:
            return ZipTarget(out, made_at) if as_zip else FolderTarget(out)

        return bundles.export_bundle(
            self.system,
            principal,
            case_id or self.case_id,
            principal.actor("192.0.2.7", "pytest"),
            target,
            progress,
        )


def mark(
    system: System,
    case_id: int,
    recording_id: str,
    use: Use,
    reference: str | None = None,
    *,
    clip_id: str | None = None,
    description: str = "",
) -> None:
    """One line of the case's disclosure schedule, marked through the schedule's use case by
    erin (professional standards keep the schedules of the cases they see)."""
    erin = principal_named(system, "erin")
    schedule.mark(
        system,
        erin,
        case_id,
        Actor("user:erin"),
        use=use.value,
        recording_id=None if clip_id else recording_id,
        clip_id=clip_id,
        reference=reference,
        description=description,
    )


def cut(system: System, recording_id: str, original: bytes, data: bytes) -> str:
    """A clip object in the store and its row, as the clip use case would leave them."""
    stored = system.store.put_stream([data])
    clip_id = str(uuid.uuid4())
    with system.unit_of_work() as uow:
        uow.session.add(
            Clip(
                id=clip_id,
                recording_id=recording_id,
                original_sha256=hashlib.sha256(original).hexdigest(),
                in_seconds=1.0,
                out_seconds=2.0,
                cut_start_seconds=0.0,
                method="stream-copy",
                sha256=stored.sha256,
                size=stored.size,
                duration_seconds=2.0,
                title="the arrest",
                made_by="user:dana",
                made_at=uow.now(),
            )
        )
        uow.commit()
    return clip_id


def build_world(system: System) -> World:
    """The case, built once per test process and copied into each new installation after
    (tests/snapshots.py); the system's clock ends 60 days on."""
    return world_of(_build_world, system)


def _build_world(system: System) -> World:
    clock = system.clock
    assert isinstance(clock, ManualClock)
    force = make_force(system)
    world = World(force, clock)
    with tempfile.TemporaryDirectory() as scratch:
        footage = Path(scratch) / "footage.mp4"
        write_footage(footage, started_at=START, duration=2.0, serial=force.camera.serial)
        real = footage.read_bytes()
        write_footage(footage, started_at=START, duration=1.0, serial=force.camera.serial)
        clip_bytes = footage.read_bytes()
    dana = world.principal("dana")
    actor = dana.actor(None, "pytest")
    world.exhibit = store_recording(force, real)
    world.unused = store_recording(force)
    world.sensitive = store_recording(force)
    world.deleted = store_recording(force)
    for rid in (world.exhibit, world.unused, world.sensitive, world.deleted):
        world.footage[rid] = b""
    world.footage[world.exhibit] = real
    case = cases.create_case(
        system,
        dana,
        reference="01/123456/26",
        title="Robbery, Mare Street",
        actor=actor,
        members=["fran"],
    )
    world.case_id = case.id
    for rid in (world.exhibit, world.unused, world.sensitive):
        cases.add_to_case(system, dana, case.id, rid, "seen at the scene", actor)
    world.clip_id = cut(system, world.exhibit, real, clip_bytes)
    mark(system, case.id, world.exhibit, Use.EXHIBIT, "LJ/1", description="Arrest of suspect")
    mark(system, case.id, world.exhibit, Use.EXHIBIT, "LJ/2", clip_id=world.clip_id)
    mark(system, case.id, world.unused, Use.UNUSED_NOT_SENSITIVE, description="Cordon")
    mark(system, case.id, world.sensitive, Use.UNUSED_SENSITIVE, description="Informant")
    # A second case, closed with the shortest disposal, whose footage the sweep deletes.
    closed = cases.create_case(
        system,
        dana,
        reference="01/999999/26",
        title="Theft, Narrow Way",
        actor=actor,
        members=["fran"],
        disposal_days=7,
    )
    world.deleted_case_id = closed.id
    cases.add_to_case(system, dana, closed.id, world.deleted, "seen", actor)
    mark(system, closed.id, world.deleted, Use.EXHIBIT, "LJ/3")
    cases.close_case(system, dana, closed.id, "no further action", actor)
    clock.advance(timedelta(days=60))
    sweep.sweep(system)
    return world
