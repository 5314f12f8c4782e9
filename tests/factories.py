"""Small builders for tests: cameras with keys, signed manifests, docks."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import av
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.camera.simulator import pre_event_for
from custody.domain import signing
from custody.domain.access import grant_needs_a_second_administrator
from custody.domain.actor import Actor
from custody.domain.errors import Conflict, NotFound
from custody.domain.manifest import GpsPoint, Manifest
from custody.domain.principal import Principal
from custody.services.fleet import registry
from custody.services.fleet.registry import DockIdentity
from custody.services.identity import resets, roles, setup, tokens, users
from custody.services.system import System
from tests.conftest import START

# How long a manifest says bytes that are not footage (a test's random bytes) last.
NOT_FOOTAGE_SECONDS = 30.0


def footage_seconds(data: bytes) -> float | None:
    """How long the footage in these bytes lasts, read from the MP4; None if it is none."""
    if data[4:8] != b"ftyp":
        return None
    try:
        with av.open(io.BytesIO(data)) as container:
            if container.duration is None:
                return None
            return max(0.001, container.duration / av.time_base)
    except (av.FFmpegError, ValueError):
        return None


@dataclass
class FakeCamera:
    serial: str
    key: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        return signing.public_key_text(self.key.public_key())

    def manifest(
        self,
        data: bytes,
        *,
        officer: str | None = "1234AB",
        started_at: datetime = START,
        recording_id: str | None = None,
        **changes: Any,
    ) -> dict[str, Any]:
        """A signed manifest for these bytes: its end and pre-event buffer follow the footage
        when the bytes are an MP4 (bytes that are not say 30 s, as the simulator would)."""
        rid = recording_id or str(uuid.uuid4())
        seconds = footage_seconds(data) or NOT_FOOTAGE_SECONDS
        document = Manifest(
            recording_id=rid,
            device_serial=self.serial,
            officer_id=officer,
            started_at=started_at,
            ended_at=started_at + timedelta(seconds=seconds),
            pre_event_seconds=pre_event_for(seconds),
            file=f"{rid}.mp4",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            gps=(GpsPoint(started_at, 51.545, -0.055),),
        ).to_json()
        document.update(changes)
        return signing.sign(document, self.key)


def administrator(system: System, username: str = "admin") -> Principal:
    """An administrator to build a test's world as (everything in it is done by someone, as
    them): the installation's first user, made the one way a first user is made; or, on an
    installation `custody init` made, added by its `admin`."""
    try:
        return setup.first_administrator(system, username)
    except Conflict:
        first = users.principal_named(system, setup.ADMIN)
        if username != first.username:
            appoint(system, first, username, "administrator")
        return users.principal_named(system, username)


# The second administrator a world's grants of wide roles need (see `appoint`).
APPROVER = "approver"


def appoint(system: System, admin: Principal, username: str, role: str, **details: Any) -> None:
    """Add `username` with `role` the way a force must: a role that sees footage force-wide
    (or manages users) is not given by one administrator. The user is added with the least
    of roles, `admin` requests `role`, and a second administrator (`APPROVER`) approves."""
    if not grant_needs_a_second_administrator(role):
        users.create_user(system, admin, username, role, **details)
        return
    users.create_user(system, admin, username, "officer", **details)
    asked = roles.request_role(system, admin, username, role)
    approver = second_administrator(system, admin)
    roles.decide_role_request(system, approver, asked.id, approve=True)


def second_administrator(system: System, admin: Principal) -> Principal:
    """`APPROVER`, the administrator the installation made besides the first (`custody init
    --second-administrator`): one administrator cannot make the second who approves them."""
    try:
        return users.principal_named(system, APPROVER)
    except NotFound:
        code = setup.installation_administrator(system, APPROVER).code
        resets.complete_reset(system, code, "the approver's own password", Actor("anonymous"))
        return users.principal_named(system, APPROVER)


def add_user(
    system: System, admin: Principal, username: str, role: str, password: str, **details: Any
) -> Principal:
    """`admin` adds `username`, who sets `password` with the one-time code they were given
    (in a test, the code passes from hand to hand at once)."""
    made = users.create_user(system, admin, username, role, **details)
    resets.complete_reset(system, made.reset.code, password, Actor("anonymous"))
    return users.principal_named(system, username)


def own_token(system: System, username: str, *, days: int = 90) -> str:
    """An API token that `username` issues for themselves, as anyone does (`POST /me/tokens`):
    nobody, administrators included, may mint a token that acts as someone else."""
    person = users.principal_named(system, username)
    return tokens.create_my_token(system, person, lifetime=timedelta(days=days)).token


def give_password(system: System, admin: Principal, username: str, password: str) -> None:
    """`username` sets their own password, the one way anyone but the first administrator
    does: `admin` issues them a one-time reset and they complete it."""
    issued = resets.issue_reset(system, admin, username)
    resets.complete_reset(system, issued.code, password, Actor("anonymous"))


def register(
    system: System, admin: Principal, serial: str = "BWV-0001"
) -> tuple[FakeCamera, DockIdentity, str]:
    """An officer, a registered camera and a dock, registered by `admin`; returns the camera,
    dock and dock token."""
    registry.add_officer(system, admin, "1234AB", name="A. Officer", unit="Hackney")
    camera = FakeCamera(serial, Ed25519PrivateKey.generate())
    registry.add_camera(
        system,
        admin,
        serial=serial,
        model="SimCam",
        firmware="1.0",
        public_key=camera.public_key,
        officer="1234AB",
    )
    token = registry.add_dock(system, admin, "Hackney-1").token
    return camera, registry.authenticate_dock(system, token), token
