"""The demo force: boroughs, officers, cameras, docks and people with known logins."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from custody.camera.simulator import simulate_camera
from custody.camera.storage import CameraStorage
from custody.services import fleet, users
from custody.services.system import System

BOROUGHS = ("Hackney", "Camden", "Lambeth")
OFFICERS_PER_BOROUGH = 10
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


def seed_force(system: System, cameras_dir: Path, rng: random.Random) -> DemoForce:
    """Officers in each borough, one camera each (personal issue), two docks, and demo users."""
    force = DemoForce()
    names = [f"{first} {last}" for first in FIRST for last in LAST]
    rng.shuffle(names)
    for b, borough in enumerate(BOROUGHS):
        for n in range(OFFICERS_PER_BOROUGH):
            warrant = f"{b + 1}{n + 1:03d}{borough[:2].upper()}"
            fleet.add_officer(
                system, warrant, name=names.pop(), unit=borough, rank="PS" if n == 0 else "PC"
            )
            force.officers.append(warrant)
            serial = f"BWV-{b + 1}{n + 1:03d}"
            camera_dir = cameras_dir / serial
            simulate_camera(
                camera_dir,
                serial=serial,
                officer_id=warrant,
                recordings=0,
                duration=1,
                battery_percent=rng.randint(15, 100),
            )
            device = CameraStorage(camera_dir).device
            fleet.add_camera(
                system,
                serial=serial,
                model=device.model,
                firmware=device.firmware,
                public_key=device.public_key,
                officer=warrant,
            )
            force.cameras[serial] = camera_dir
    for dock in ("Hackney-1", "Camden-1"):
        force.docks[dock] = fleet.add_dock(system, dock, bays=8)
    people = [
        ("officer", "officer", force.officers[1], "Hackney", "PC's own footage"),
        ("supervisor", "supervisor", force.officers[0], "Hackney", "Hackney team's footage"),
        ("investigator", "investigator", None, "CID", "cases and evidence"),
        ("standards", "professional_standards", None, "DPS", "complaints: any footage"),
        ("fleet", "fleet_manager", None, "Fleet", "cameras and docks"),
        ("auditor", "auditor", None, "Audit", "the audit trail"),
    ]
    for username, role, officer, unit, what in people:
        users.create_user(
            system, username, role, password=DEMO_PASSWORD, officer=officer, unit=unit
        )
        force.logins.append(Login(username, role, what))
    force.logins.insert(0, Login("admin", "administrator", "users, categories, docks"))
    return force
