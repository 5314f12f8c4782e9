"""A small fleet for fleet tests: named people, officers with cards, cameras and a dock.

gus manages the fleet; sam supervises Hackney; alice is a Hackney officer; root
administers. Officers 1001HK (Amira Khan) and 1002HK (Ben Okafor) serve in Hackney,
each with a warrant card; PC 2001CM serves in Camden.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from custody.domain import signing
from custody.domain.principal import Principal
from custody.services.fleet import registry
from custody.services.fleet.registry import DockIdentity
from custody.services.identity import users
from custody.services.ingest import chunks, manifests, uploads
from custody.services.system import System
from tests.factories import FakeCamera, administrator, own_token

PEOPLE = {
    "gus": ("fleet_manager", None, "Fleet"),
    "sam": ("supervisor", None, "Hackney"),
    "alice": ("officer", "1001HK", None),
    "root": ("administrator", None, None),
}
OFFICERS = {
    "1001HK": ("Amira Khan", "Hackney", "04A1B2C3"),
    "1002HK": ("Ben Okafor", "Hackney", "04D4E5F6"),
    "2001CM": ("Chloe Smith", "Camden", None),
}


def public_key() -> str:
    return signing.public_key_text(Ed25519PrivateKey.generate().public_key())


@dataclass
class FleetWorld:
    system: System
    dock: DockIdentity
    dock_token: str
    cameras: dict[str, FakeCamera] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    principals: dict[str, Principal] = field(default_factory=dict)

    @property
    def admin(self) -> Principal:
        """root, the installation's first administrator: who builds the world."""
        return self.principals["root"]

    def camera(
        self,
        serial: str,
        *,
        officer: str | None = None,
        pool: bool = False,
        borough: str | None = None,
        firmware: str = "1.4.2",
    ) -> FakeCamera:
        """Register a camera with a key the test can sign with."""
        camera = FakeCamera(serial, Ed25519PrivateKey.generate())
        registry.add_camera(
            self.system,
            self.admin,
            serial=serial,
            model="SimCam",
            firmware=firmware,
            public_key=camera.public_key,
            officer=officer,
            pool=pool,
            borough=borough,
        )
        self.cameras[serial] = camera
        return camera

    def dock_report(self, serial: str, dock: DockIdentity | None = None) -> None:
        registry.report_camera(
            self.system,
            dock or self.dock,
            serial=serial,
            bay="bay-1",
            battery_percent=90,
            free_bytes=10**9,
            firmware=None,
            recordings_waiting=0,
        )

    def upload(
        self,
        serial: str,
        *,
        officer: str | None,
        started_at: datetime,
        dock: DockIdentity | None = None,
    ) -> str:
        """Upload a recording through the ingest services, as a dock would."""
        data = os.urandom(3000)
        document = self.cameras[serial].manifest(data, officer=officer, started_at=started_at)
        dock = dock or self.dock
        manifests.declare_manifest(self.system, dock, document)
        status = uploads.create_upload(
            self.system, dock, len(data), {"recording_id": document["recording_id"]}
        )
        writer = chunks.begin_chunk(self.system, dock, status.upload_id, 0, len(data), None)
        try:
            writer.write(data)
            writer.finish(True)
        finally:
            writer.close()
        recording_id: str = document["recording_id"]
        return recording_id

    def client(self, app: Any) -> TestClient:
        return TestClient(app)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def build(system: System) -> FleetWorld:
    root = administrator(system, "root")
    for warrant, (name, unit, card) in OFFICERS.items():
        registry.add_officer(system, root, warrant, name=name, unit=unit, card_id=card)
    token = registry.add_dock(system, root, "Hackney-1", bays=8).token
    world = FleetWorld(system, registry.authenticate_dock(system, token), token)
    world.principals["root"] = root
    # These worlds travel years in time: a force may let tokens live that long.
    system.settings.token_max_days = 3650
    for username, (role, linked, team) in PEOPLE.items():
        if username != root.username:
            users.create_user(system, root, username, role, officer=linked, unit=team)
            world.principals[username] = users.principal_named(system, username)
        world.tokens[username] = own_token(system, username, days=3650)
    return world
