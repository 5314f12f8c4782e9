"""A small force for identity and audit tests: named people in every role, and real footage.

alice is an officer whose camera recorded the footage; bob supervises her team
(Hackney); charlie is an officer on another team (Camden); dana investigates;
erin is in professional standards; fran discloses to prosecutors; gus manages the
fleet; root administers; audrey audits.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from custody.db.models import User
from custody.domain.clock import ManualClock
from custody.domain.principal import Principal
from custody.services.fleet import registry
from custody.services.fleet.registry import DockIdentity
from custody.services.ingest import chunks, manifests, uploads
from custody.services.system import System
from tests.conftest import POSTGRES_ADMINS, PostgresAdmin, RecordedJobs
from tests.factories import APPROVER, FakeCamera, administrator, appoint, own_token, register

PEOPLE = {
    "alice": ("officer", "1234AB", None),
    "bob": ("supervisor", None, "Hackney"),
    "charlie": ("officer", "5678CD", None),
    "dana": ("investigator", None, "CID"),
    "erin": ("professional_standards", None, "DPS"),
    "fran": ("disclosure", None, "CPS liaison"),
    "gus": ("fleet_manager", None, None),
    "root": ("administrator", None, None),
    "audrey": ("auditor", None, None),
}
PASSWORD = "correct horse battery staple"


@dataclass
class Force:
    system: System
    camera: FakeCamera
    dock: DockIdentity
    dock_token: str
    # root, the installation's first administrator: who registers and adds everyone else.
    admin: Principal
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def make_force(system: System) -> Force:
    """Officers, a camera and a dock, and a user with a token per person.

    Built once per test process and database settings, then copied: a new installation
    gets the built force's database (a copy of its SQLite file, or of its PostgreSQL
    database kept as a template), its own server key and clock kept. Where the installation
    is not new, or its clock or jobs are not the tests' own, it is built in place.
    """
    key = _snapshot_key(system)
    if key is None:
        return _build_force(system)
    found = _SNAPSHOTS.get(key)
    if found is None:
        force = _build_force(system)
        if not any(vars(system.jobs).values()):
            _SNAPSHOTS[key] = (_keep_database(system), force)
        return force
    kept, built = found
    system.engine.dispose()
    target = _sqlite_path(system)
    if target is None:
        _postgres().replace(_database_name(system), kept)
    else:
        for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(kept, target)
    return replace(built, system=system, tokens=dict(built.tokens))


def _build_force(system: System) -> Force:
    root = administrator(system, "root")
    camera, dock, dock_token = register(system, root)
    registry.add_officer(system, root, "5678CD", name="C. Harlie", unit="Camden")
    force = Force(system, camera, dock, dock_token, root)
    for name, (role, officer, unit) in PEOPLE.items():
        if name != root.username:
            appoint(system, root, name, role, officer=officer, unit=unit)
        force.tokens[name] = own_token(system, name)
    # The second administrator who approved erin's and audrey's roles.
    force.tokens[APPROVER] = own_token(system, APPROVER)
    return force


# (settings, clock's time) -> the built force's database (a file, or a template's name)
# and the force itself.
_SNAPSHOTS: dict[str, tuple[Any, Force]] = {}
_SNAPSHOT_DIR = Path(tempfile.mkdtemp(prefix="custody-forces-"))
# Where an installation lives: not what makes two forces differ.
_PLACES = {"data_dir", "database_url", "storage_url", "queue_url", "kek_file"}


def _sqlite_path(system: System) -> Path | None:
    url = make_url(system.settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database)


def _database_name(system: System) -> str:
    name = make_url(system.settings.resolved_database_url).database
    assert name
    return name


def _postgres() -> PostgresAdmin:
    assert POSTGRES_ADMINS, "a PostgreSQL installation without the tests' PostgresAdmin"
    return POSTGRES_ADMINS[-1]


def _snapshot_key(system: System) -> str | None:
    """What a kept force must match, or None where none may be used: recorded jobs the
    copy would not replay, a clock that moves by itself, or an installation not new."""
    backend = make_url(system.settings.resolved_database_url).get_backend_name()
    if backend == "sqlite" and _sqlite_path(system) is None:
        return None
    if backend == "postgresql" and not POSTGRES_ADMINS:
        return None
    if not isinstance(system.clock, ManualClock):
        return None
    if not isinstance(system.jobs, RecordedJobs) or any(vars(system.jobs).values()):
        return None
    with system.sessions() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return None
    settings = system.settings.model_dump(exclude=_PLACES)
    return repr((backend, sorted(settings.items()), system.clock.now()))


def _keep_database(system: System) -> Any:
    system.engine.dispose()
    source = _sqlite_path(system)
    if source is None:
        return _postgres().keep(_database_name(system))
    # Fold the write-ahead log into the file, so that the file alone is the database.
    with closing(sqlite3.connect(source)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    kept = _SNAPSHOT_DIR / f"force-{len(_SNAPSHOTS)}.db"
    shutil.copyfile(source, kept)
    return kept


def store_recording(force: Force, data: bytes | None = None, **manifest: Any) -> str:
    """Upload footage through the ingest services, as a dock would; returns its recording id.
    `manifest` changes the camera's manifest (its officer, its pre-event buffer…)."""
    system, dock = force.system, force.dock
    data = data if data is not None else os.urandom(5_000)
    document = force.camera.manifest(data, **manifest)
    manifests.declare_manifest(system, dock, document)
    status = uploads.create_upload(
        system, dock, len(data), {"recording_id": document["recording_id"]}
    )
    writer = chunks.begin_chunk(system, dock, status.upload_id, 0, len(data), None)
    try:
        writer.write(data)
        writer.finish(True)
    finally:
        writer.close()
    recording_id: str = document["recording_id"]
    return recording_id
