"""A small force for identity and audit tests: named people in every role, and real footage.

alice is an officer whose camera recorded the footage; bob supervises her team
(Hackney); charlie is an officer on another team (Camden); dana investigates;
erin is in professional standards; fran discloses to prosecutors; gus manages the
fleet; root administers; audrey audits.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from custody.domain.principal import Principal
from custody.services.fleet import registry
from custody.services.fleet.registry import DockIdentity
from custody.services.ingest import chunks, manifests, uploads
from custody.services.system import System
from tests.factories import APPROVER, FakeCamera, administrator, appoint, own_token, register
from tests.snapshots import keep_database, replace_database, snapshot_key

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
    key = snapshot_key(system)
    if key is None:
        return _build_force(system)
    found = _SNAPSHOTS.get(key)
    if found is None:
        force = _build_force(system)
        if not any(vars(system.jobs).values()):
            kept = _SNAPSHOT_DIR / f"force-{len(_SNAPSHOTS)}.db"
            _SNAPSHOTS[key] = (keep_database(system, kept), force)
        return force
    kept, built = found
    replace_database(system, kept)
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
atexit.register(shutil.rmtree, _SNAPSHOT_DIR, ignore_errors=True)


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
