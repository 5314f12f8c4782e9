"""A small force for lifecycle tests: named people, their cameras, and recordings with real
bytes in the store (inserted directly where the ingest path is beside the point).

alice and bob are Hackney officers; sam supervises Hackney, carol supervises Camden
(where dave serves); ivan investigates; pat is professional standards; admin
administers; audrey audits.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.db.models import Camera, Officer, Recording
from custody.domain import signing
from custody.domain.principal import Principal
from custody.services.fleet import registry
from custody.services.identity import users
from custody.services.system import System
from tests.factories import administrator, appoint, own_token

OFFICERS = {"1234AB": "Hackney", "5678CD": "Hackney", "9999EF": "Camden"}
PEOPLE: dict[str, tuple[str, str | None, str | None]] = {
    # username: (role, warrant, unit)
    "alice": ("officer", "1234AB", None),
    "bob": ("officer", "5678CD", None),
    "dave": ("officer", "9999EF", None),
    "sam": ("supervisor", None, "Hackney"),
    "carol": ("supervisor", None, "Camden"),
    "ivan": ("investigator", None, "CID"),
    "pat": ("professional_standards", None, "PSD"),
    "admin2": ("administrator", None, None),
    "audrey": ("auditor", None, None),
}


@dataclass
class World:
    system: System
    people: dict[str, Principal] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    cameras: dict[str, int] = field(default_factory=dict)  # warrant -> camera id
    officer_ids: dict[str, int] = field(default_factory=dict)

    def record(
        self,
        officer: str = "1234AB",
        started_at: datetime | None = None,
        *,
        data: bytes | None = None,
        thumbnail: bytes | None = None,
        seconds: int = 60,
    ) -> str:
        """A recording with real bytes in the store, as if it had just been ingested."""
        system = self.system
        data = data if data is not None else os.urandom(2048)
        stored = system.store.put_stream([data])
        thumb = system.store.put_stream([thumbnail]).sha256 if thumbnail is not None else None
        started_at = started_at or system.clock.now()
        rid = str(uuid.uuid4())
        with system.unit_of_work() as uow:
            uow.session.add(
                Recording(
                    id=rid,
                    camera_id=self.cameras[officer],
                    officer_id=self.officer_ids[officer],
                    started_at=started_at,
                    ended_at=started_at + timedelta(seconds=seconds),
                    pre_event_seconds=30,
                    sha256=stored.sha256,
                    size=stored.size,
                    stored_at=system.clock.now(),
                    manifest_document=json.dumps(
                        {"recording_id": rid, "gps": [{"lat": 51.5, "lon": -0.05}]}
                    ),
                    receipt_document="{}",
                    gps_track=json.dumps([{"lat": 51.5, "lon": -0.05}]),
                    state="playable",
                    duration_seconds=float(seconds),
                    thumbnail_sha256=thumb,
                )
            )
            uow.commit()
        return rid

    def row(self, recording_id: str) -> Recording:
        with self.system.unit_of_work() as uow:
            found = uow.session.get(Recording, recording_id)
            assert found is not None
            return found

    def client(self, app: Any) -> Clients:
        return Clients(TestClient(app), self.tokens)


class Clients:
    """Requests as a named person: `clients.as_("alice").get(...)`."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def as_(self, username: str) -> _As:
        return _As(self.client, self.tokens[username])


class _As:
    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, headers=self.headers, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.client.post(url, headers=self.headers, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.client.put(url, headers=self.headers, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self.client.patch(url, headers=self.headers, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.client.delete(url, headers=self.headers, **kwargs)


def build_world(system: System) -> World:
    world = World(system)
    admin = administrator(system, "admin2")
    for warrant, unit in OFFICERS.items():
        registry.add_officer(system, admin, warrant, name=f"PC {warrant}", unit=unit)
        key = Ed25519PrivateKey.generate()
        registry.add_camera(
            system,
            admin,
            serial=f"BWV-{warrant}",
            model="SimCam",
            firmware="1.0",
            public_key=signing.public_key_text(key.public_key()),
            officer=warrant,
        )
    with system.unit_of_work() as uow:
        world.officer_ids = dict(
            uow.session.execute(select(Officer.warrant_number, Officer.id)).all()
        )
        world.cameras = dict(
            uow.session.execute(
                select(Officer.warrant_number, Camera.id).join(
                    Camera, Camera.officer_id == Officer.id
                )
            ).all()
        )
    world.people[admin.username] = admin
    # These worlds travel years in time: a force may let tokens live that long.
    system.settings.token_max_days = 3650
    for username, (role, warrant, unit) in PEOPLE.items():
        if username != admin.username:
            appoint(system, admin, username, role, officer=warrant, unit=unit)
            world.people[username] = users.principal_named(system, username)
        world.tokens[username] = own_token(system, username, days=3650)
    return world


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
