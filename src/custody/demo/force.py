"""The demo force, mid roll-out: boroughs, officers, cameras, docks, a pool, the plan, and
people with known logins.

Hackney has finished its phase: every officer has a personal camera. Camden is issuing,
and late. Lambeth's officers share a pool of cameras they take by card at the dock. The
other 29 boroughs are planned. A few things need the fleet manager: cameras in stock,
a Hackney camera not docked for five days, a Camden camera on old firmware, and a
Camden dock that stopped reporting two days ago.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from custody.domain import signing
from custody.domain.access import grant_needs_a_second_administrator
from custody.domain.actor import Actor
from custody.domain.clock import SystemClock, parse_time
from custody.domain.principal import Principal
from custody.services.fleet import assignments, registry, rollout
from custody.services.identity import resets, roles, setup, users
from custody.services.system import System

BOROUGHS = ("Hackney", "Camden", "Lambeth")
# The Metropolitan Police's 32 London boroughs: the roll-out went borough by borough.
LONDON_BOROUGHS = (
    "Barking and Dagenham",
    "Barnet",
    "Bexley",
    "Brent",
    "Bromley",
    "Camden",
    "Croydon",
    "Ealing",
    "Enfield",
    "Greenwich",
    "Hackney",
    "Hammersmith and Fulham",
    "Haringey",
    "Harrow",
    "Havering",
    "Hillingdon",
    "Hounslow",
    "Islington",
    "Kensington and Chelsea",
    "Kingston upon Thames",
    "Lambeth",
    "Lewisham",
    "Merton",
    "Newham",
    "Redbridge",
    "Richmond upon Thames",
    "Southwark",
    "Sutton",
    "Tower Hamlets",
    "Waltham Forest",
    "Wandsworth",
    "Westminster",
)
OFFICERS_PER_BOROUGH = 10
POOL_BOROUGH = "Lambeth"
POOL_CAMERAS = 4
STOCK_CAMERAS = 6
OLD_FIRMWARE = ("BWV-2009", "1.3.9")
# Not docked since five days ago: its footage is at risk.
UNDOCKED = ("BWV-1010", timedelta(days=5))
# Registered ten days ago, silent for the last two.
STALE_DOCK = ("Camden-2", timedelta(days=10), timedelta(days=2))
# Lambeth's officers took their pool cameras when their shift began.
SHIFT_START = timedelta(hours=8, minutes=30)
DEMO_PASSWORD = "custody-demo-2026"
FIRST = (
    "Amira",
    "Ben",
    "Chloe",
    "Dev",
    "Ellie",
    "Femi",
    "Grace",
    "Harry",
    "Isla",
    "Jamal",
    "Kate",
    "Liam",
    "Maya",
    "Noah",
    "Olu",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tom",
)
LAST = ("Khan", "Okafor", "Smith", "Patel", "Jones", "Murphy", "Nowak", "Williams", "Ali", "Brown")


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    what: str


@dataclass
class DemoForce:
    officers: list[str] = field(default_factory=list)
    cameras: dict[str, Path] = field(default_factory=dict)  # serial -> camera dir (off dock)
    docks: dict[str, str] = field(default_factory=dict)  # dock name -> token
    logins: list[Login] = field(default_factory=list)
    # Lambeth's pool cameras (serial -> dir: a bay of Lambeth-1 once docked) and the cards
    # of the officers who take them (warrant number -> card id).
    pool: dict[str, Path] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)


def _earlier(system: System, by: timedelta) -> System:
    """The same system with its clock set back: for history the demo pretends happened."""
    return dataclasses.replace(system, clock=SystemClock(system.settings.clock_offset - by))


def _new_camera(
    system: System,
    admin: Principal,
    camera_dir: Path,
    serial: str,
    rng: random.Random,
    *,
    firmware: str = "1.4.2",
    officer: str | None = None,
    pool: bool = False,
) -> None:
    """A simulated camera with no footage yet, registered and issued (personal or pool)."""
    simulate_camera(
        camera_dir,
        serial=serial,
        officer_id=officer,
        recordings=0,
        duration=1,
        battery_percent=rng.randint(15, 100),
        firmware=firmware,
    )
    device = CameraStorage(camera_dir).device
    registry.add_camera(
        system,
        admin,
        serial=serial,
        model=device.model,
        firmware=device.firmware,
        public_key=device.public_key,
        officer=officer,
        pool=pool,
        borough=POOL_BOROUGH if pool else None,
    )


def seed_force(
    system: System, admin: Principal, cameras_dir: Path, rng: random.Random
) -> DemoForce:
    """Officers in each borough, their cameras, Lambeth's pool, docks, the plan, demo users:
    all registered by `admin`, the installation's administrator, as a force's would be."""
    force = DemoForce()
    names = [f"{first} {last}" for first in FIRST for last in LAST]
    rng.shuffle(names)
    for b, borough in enumerate(BOROUGHS):
        for n in range(OFFICERS_PER_BOROUGH):
            warrant = f"{b + 1}{n + 1:03d}{borough[:2].upper()}"
            card = f"04{b + 1:02X}{n + 1:02X}{rng.randrange(16**4):04X}"
            pooled = borough == POOL_BOROUGH
            registry.add_officer(
                system,
                admin,
                warrant,
                name=names.pop(),
                unit=borough,
                rank="PS" if n == 0 else "PC",
                card_id=card if pooled else None,
            )
            force.officers.append(warrant)
            if pooled:
                force.cards[warrant] = card
                continue
            serial = f"BWV-{b + 1}{n + 1:03d}"
            firmware = OLD_FIRMWARE[1] if serial == OLD_FIRMWARE[0] else "1.4.2"
            _new_camera(
                system,
                admin,
                cameras_dir / serial,
                serial,
                rng,
                firmware=firmware,
                officer=warrant,
            )
            force.cameras[serial] = cameras_dir / serial
    for n in range(POOL_CAMERAS):
        serial = f"POOL-3{n + 1:03d}"
        _new_camera(system, admin, cameras_dir / serial, serial, rng, pool=True)
        force.pool[serial] = cameras_dir / serial
    for n in range(STOCK_CAMERAS):
        key = Ed25519PrivateKey.generate().public_key()
        registry.add_camera(
            system,
            admin,
            serial=f"STK-{n + 1:03d}",
            model="Custody SimCam 1",
            firmware="1.4.2",
            public_key=signing.public_key_text(key),
        )
    for dock in ("Hackney-1", "Camden-1", "Lambeth-1"):
        force.docks[dock] = registry.add_dock(system, admin, dock, bays=8).token
    _history(system, admin, force)
    _plan(system, admin)
    people = [
        ("officer", "officer", force.officers[1], "Hackney", "PC's own footage"),
        ("supervisor", "supervisor", force.officers[0], "Hackney", "Hackney team's footage"),
        ("investigator", "investigator", None, "CID", "cases and evidence"),
        ("standards", "professional_standards", None, "DPS", "complaints: any footage"),
        ("disclosure", "disclosure", None, "CPS liaison", "schedules, shares, court bundles"),
        ("fleet", "fleet_manager", None, "Fleet", "cameras, docks, the roll-out"),
        ("auditor", "auditor", None, "Audit", "the audit trail"),
    ]
    # No administrator alone gives a role that sees footage force-wide: the installation
    # makes a second administrator (`custody init --second-administrator`), then `admin`
    # asks for each such role and the second approves, as a force would.
    resets.complete_reset(
        system,
        setup.installation_administrator(system, "deputy").code,
        DEMO_PASSWORD,
        Actor("anonymous"),
    )
    deputy = users.principal_named(system, "deputy")
    for username, role, officer, unit, what in people:
        _appoint(system, admin, deputy, username, role, officer, unit)
        force.logins.append(Login(username, role, what))
    force.logins.insert(0, Login(deputy.username, deputy.role, "approves wide roles"))
    force.logins.insert(0, Login(admin.username, admin.role, "users, categories, docks"))
    return force


def _appoint(
    system: System,
    admin: Principal,
    approver: Principal,
    username: str,
    role: str,
    officer: str | None,
    unit: str | None,
) -> Principal:
    """Add a demo user, who sets the demo's password with the one-time code `admin` was
    given for them (a demo's people are all one person); a role that needs a second
    administrator is asked for by `admin` and approved by `approver`."""
    wide = grant_needs_a_second_administrator(role)
    made = users.create_user(
        system,
        admin,
        username,
        "officer" if wide else role,
        officer=officer,
        unit=unit,
    )
    resets.complete_reset(system, made.reset.code, DEMO_PASSWORD, Actor("anonymous"))
    if wide:
        asked = roles.request_role(system, admin, username, role)
        roles.decide_role_request(system, approver, asked.id, approve=True)
    return users.principal_named(system, username)


def _history(system: System, admin: Principal, force: DemoForce) -> None:
    """What the fleet manager should notice: an undocked camera and a silent dock."""
    serial, ago = UNDOCKED
    hackney = registry.authenticate_dock(system, force.docks["Hackney-1"])
    registry.report_camera(
        _earlier(system, ago),
        hackney,
        serial=serial,
        bay="bay-3",
        battery_percent=64,
        free_bytes=51 * 10**9,
        firmware=None,
        recordings_waiting=0,
    )
    name, registered, silent = STALE_DOCK
    token = registry.add_dock(_earlier(system, registered), admin, name, bays=4).token
    registry.heartbeat(_earlier(system, silent), registry.authenticate_dock(system, token), [])


def _plan(system: System, admin: Principal) -> None:
    """Hackney done, Camden issuing and late, Lambeth issuing, the rest in later phases."""
    today = system.clock.now().date()
    rollout.set_phase(
        system, admin, "Hackney", phase=1, target_date=today - timedelta(days=45), status="complete"
    )
    rollout.set_phase(
        system, admin, "Camden", phase=1, target_date=today - timedelta(days=5), status="issuing"
    )
    rollout.set_phase(
        system, admin, "Lambeth", phase=2, target_date=today + timedelta(days=20), status="issuing"
    )
    later = [b for b in LONDON_BOROUGHS if b not in BOROUGHS]
    for n, borough in enumerate(later):
        phase = 3 + n // 4
        rollout.set_phase(
            system,
            admin,
            borough,
            phase=phase,
            target_date=today + timedelta(days=30 * (phase - 1)),
        )


def take_pool_cameras(
    system: System,
    admin: Principal,
    force: DemoForce,
    dock_token: str,
    rng: random.Random,
    count: int = 2,
) -> list[tuple[str, str, datetime]]:
    """Lambeth officers took pool cameras by card when their shift began (8.5 hours ago).

    The dock reported each camera in its bay, the server assigned it, and the dock
    programmed the camera with the officer: what `DockAgent.checkout` does over HTTP,
    done here with the clock set back, since the demo's shift has already happened.
    Returns (serial, warrant number, when taken); none if a shift is still under way.
    """
    then = _earlier(system, SHIFT_START)
    dock = registry.authenticate_dock(system, dock_token)
    cutoff = then.clock.now()
    taken = []
    officers = list(force.cards.items())
    rng.shuffle(officers)
    for (serial, camera_dir), (warrant, card) in zip(
        list(force.pool.items())[:count], officers, strict=False
    ):
        last = assignments.history(system, admin, camera=serial, limit=1)
        if last and (last[0].ended_at is None or parse_time(last[0].ended_at) > cutoff):
            continue  # the demo ran less than a shift ago: this camera is still out
        storage = CameraStorage(camera_dir)
        device = storage.device
        registry.report_camera(
            then,
            dock,
            serial=serial,
            bay=camera_dir.name,
            battery_percent=device.battery_percent,
            free_bytes=storage.free_bytes(),
            firmware=device.firmware,
            recordings_waiting=0,
        )
        answer = assignments.checkout(then, dock, card_id=card, serial=serial)
        started_at = parse_time(answer.started_at)
        storage.assign(answer.officer, started_at)
        taken.append((serial, warrant, started_at))
    return taken
