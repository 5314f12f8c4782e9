"""The roll-out on a seeded force of 32 boroughs: phases, per-borough figures, lateness,
the API and the portal page, and a fixed number of queries however big the force."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text

from custody.config import Settings
from custody.db.models import Camera, Officer, Recording
from custody.demo.force import LONDON_BOROUGHS
from custody.domain.clock import ManualClock
from custody.domain.errors import InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.services.fleet import assignments, importing, registry, rollout
from custody.services.identity import users
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import (
    START,
    Installer,
    PostgresAdmin,
    RecordedJobs,
    fold_wal,
    postgres_database_url,
)
from tests.factories import administrator, own_token
from tests.integration.fleet_world import public_key

DAY = timedelta(days=1)
COMPLETE = range(0, 8)  # phases 1 and 2: every officer has a personal camera
ISSUING = range(8, 12)  # phase 3: half personal issue, plus a pool of two
KEY = public_key()


def officers_in(index: int) -> int:
    return 5 + index % 4


def warrant(index: int, n: int) -> str:
    return f"{index:02d}{n:03d}LB"


def target(phase: int) -> date:
    return START.date() + timedelta(days=30 * (phase - 2))


def _record(system: System, serial: str, officer: str, started_at: datetime) -> None:
    """A stored recording row (the ingest path is beside the point here)."""
    with system.unit_of_work() as uow:
        camera_id = uow.session.scalar(select(Camera.id).where(Camera.serial == serial))
        officer_id = uow.session.scalar(select(Officer.id).where(Officer.warrant_number == officer))
        assert camera_id is not None and officer_id is not None
        rid = str(uuid.uuid4())
        uow.session.add(
            Recording(
                id=rid,
                camera_id=camera_id,
                officer_id=officer_id,
                started_at=started_at,
                ended_at=started_at + timedelta(minutes=5),
                pre_event_seconds=30,
                sha256=os.urandom(32).hex(),
                size=1000,
                stored_at=started_at + DAY,
                manifest_document=json.dumps({"recording_id": rid}),
                receipt_document="{}",
                gps_track="[]",
                state="playable",
            )
        )
        uow.commit()


def seed(system: System, clock: ManualClock, admin: Principal) -> None:
    """32 boroughs mid roll-out, built through the fleet's own services."""
    rows = ["warrant_number,name,rank,unit,card_id"]
    for i, borough in enumerate(LONDON_BOROUGHS):
        for n in range(officers_in(i)):
            rows.append(f"{warrant(i, n)},Officer {i}-{n},PC,{borough},C{i:02d}{n:03d}")
    assert importing.import_csv(system, admin, "\n".join(rows) + "\n").created == sum(
        officers_in(i) for i in range(32)
    )
    cameras = ["serial,model,firmware,public_key,status,officer,pool,borough"]
    for i, borough in enumerate(LONDON_BOROUGHS):
        personal = officers_in(i) if i in COMPLETE else officers_in(i) // 2 if i in ISSUING else 0
        for n in range(personal):
            cameras.append(f"P{i:02d}{n:03d},SimCam,1.4.2,{KEY},,{warrant(i, n)},no,")
        if i in ISSUING:
            cameras += [f"Q{i:02d}{n},SimCam,1.4.2,{KEY},,,yes,{borough}" for n in range(2)]
    cameras += [f"S{n:03d},SimCam,1.4.2,{KEY},in_stock,,," for n in range(10)]
    importing.import_csv(system, admin, "\n".join(cameras) + "\n")

    for i, borough in enumerate(LONDON_BOROUGHS):
        phase = i // 4 + 1
        status = "complete" if phase <= 2 else "issuing" if phase == 3 else "planned"
        rollout.set_phase(
            system, admin, borough, phase=phase, target_date=target(phase), status=status
        )

    clock.advance(10 * DAY)
    for i in COMPLETE:
        for n in range(0, officers_in(i), 2):  # every other officer has uploaded, recently
            _record(system, f"P{i:02d}{n:03d}", warrant(i, n), clock.now() - DAY)
    for i in ISSUING:
        # The first officer uploaded long ago; the last one (no personal camera) used the pool.
        _record(system, f"P{i:02d}000", warrant(i, 0), clock.now() - 9 * DAY)
        pool, card = f"Q{i:02d}0", f"C{i:02d}{officers_in(i) - 1:03d}"
        # A pool camera is taken at a dock of its own borough's station.
        dock = registry.authenticate_dock(
            system,
            registry.add_dock(system, admin, f"Station-{i:02d}", station=LONDON_BOROUGHS[i]).token,
        )
        registry.report_camera(
            system,
            dock,
            serial=pool,
            bay="bay-1",
            battery_percent=90,
            free_bytes=None,
            firmware=None,
            recordings_waiting=0,
        )
        assignments.checkout(system, dock, card_id=card, serial=pool)
        clock.advance(timedelta(hours=1))
        registry.report_camera(
            system,
            dock,
            serial=pool,
            bay="bay-1",
            battery_percent=50,
            free_bytes=None,
            firmware=None,
            recordings_waiting=0,
        )


@dataclass(frozen=True)
class SeededForce:
    """The force seeded once per module and database: each test gets a copy."""

    database: str  # "sqlite" or "postgres"
    template: str  # the SQLite file, or the PostgreSQL database, to copy
    now: datetime  # the clock where the seeding left it


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded_force(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, install: Installer
) -> Iterator[SeededForce]:
    root = tmp_path_factory.mktemp("seeded")
    clock = ManualClock(START)
    with ExitStack() as stack:
        if request.param == "sqlite":
            template = str(root / "custody.db")
            url = f"sqlite:///{template}"
        else:
            admin: PostgresAdmin = request.getfixturevalue("postgres_admin")
            template = stack.enter_context(
                admin.copy_of(request.getfixturevalue("postgres_template"))
            )
            url = postgres_database_url(template)
        system = install(
            Settings(data_dir=root / "data", database_url=url), clock=clock, jobs=RecordedJobs()
        )
        try:
            seed(system, clock, administrator(system))
            # The database is the whole of the seeded force: no object to copy beside it.
            assert list(system.store.iter_objects()) == []
        finally:
            system.engine.dispose()
        if request.param == "sqlite":
            fold_wal(Path(template))
        else:
            with admin.engine.connect() as connection:
                # Nothing may hold a connection to a database being copied.
                connection.execute(text(f'ALTER DATABASE "{template}" ALLOW_CONNECTIONS false'))
        yield SeededForce(request.param, template, clock.now())


@pytest.fixture
def seeded(
    request: pytest.FixtureRequest,
    seeded_force: SeededForce,
    tmp_path: Path,
    clock: ManualClock,
    install: Installer,
) -> Iterator[System]:
    """A copy of the seeded force, on the test's clock set where the seeding left it."""
    clock.set(seeded_force.now)
    with ExitStack() as stack:
        data_dir = tmp_path / "data"
        if seeded_force.database == "sqlite":
            settings = Settings(
                data_dir=data_dir, database_url=f"sqlite:///{tmp_path / 'custody.db'}"
            )
            system = install(
                settings, clock=clock, jobs=RecordedJobs(), template=Path(seeded_force.template)
            )
        else:
            admin: PostgresAdmin = request.getfixturevalue("postgres_admin")
            name = stack.enter_context(admin.copy_of(seeded_force.template))
            settings = Settings(data_dir=data_dir, database_url=postgres_database_url(name))
            system = install(settings, clock=clock, jobs=RecordedJobs())
        try:
            yield system
        finally:
            system.engine.dispose()


@pytest.fixture
def admin(seeded: System) -> Principal:
    return administrator(seeded)


def expected(i: int) -> dict[str, int]:
    n = officers_in(i)
    if i in COMPLETE:
        uploaded = (n + 1) // 2
        return {
            "officers": n,
            "cameras_issued": n,
            "officers_with_camera": n,
            "officers_uploaded": uploaded,
            "cameras_idle": n - uploaded,
        }
    if i in ISSUING:
        issued = n // 2 + 2
        return {
            "officers": n,
            "cameras_issued": issued,
            "officers_with_camera": n // 2 + 1,
            "officers_uploaded": 1,
            "cameras_idle": issued,
        }
    return {
        "officers": n,
        "cameras_issued": 0,
        "officers_with_camera": 0,
        "officers_uploaded": 0,
        "cameras_idle": 0,
    }


def test_the_figures_of_every_borough(seeded: System, admin: Principal) -> None:
    plan = rollout.rollout(seeded, admin)
    boroughs = [b.model_dump() for b in plan.boroughs]
    assert len(boroughs) == 32
    assert [b["phase"] for b in boroughs] == sorted(b["phase"] for b in boroughs)
    by_name = {b["borough"]: b for b in boroughs}
    for i, name in enumerate(LONDON_BOROUGHS):
        got = by_name[name]
        assert {key: got[key] for key in expected(i)} == expected(i), name
        assert got["phase"] == i // 4 + 1
        assert got["target_date"] == target(i // 4 + 1).isoformat()
    hackney = by_name["Hackney"]  # index 10: issuing, 7 officers
    assert (hackney["equipped_percent"], hackney["status"]) == (57, "issuing")
    totals = plan.totals
    assert totals.officers == sum(officers_in(i) for i in range(32))
    assert totals.cameras_issued == sum(expected(i)["cameras_issued"] for i in range(32))
    assert totals.cameras_by_status["in_stock"] == 10
    assert (totals.boroughs_planned, totals.boroughs_complete) == (32, 8)


def test_idle_means_no_footage_for_the_chosen_days(seeded: System, admin: Principal) -> None:
    hackney_like = {b.borough: b for b in rollout.rollout(seeded, admin, idle_days=10).boroughs}
    # Within ten days the issuing boroughs' one old recording counts as use.
    i = 8
    assert hackney_like[LONDON_BOROUGHS[i]].cameras_idle == expected(i)["cameras_idle"] - 1
    with pytest.raises(InvalidInput):
        rollout.rollout(seeded, admin, idle_days=0)


def test_a_phase_past_its_target_date_is_overdue(
    seeded: System, admin: Principal, clock: ManualClock
) -> None:
    assert rollout.rollout(seeded, admin).totals.boroughs_overdue == 0
    clock.set(datetime.combine(target(3) + DAY, START.timetz()))
    plan = rollout.rollout(seeded, admin)
    overdue = [b.borough for b in plan.boroughs if b.overdue]
    assert overdue == list(LONDON_BOROUGHS[8:12])
    rollout.set_phase(seeded, admin, "Hackney", phase=3, target_date=target(3), status="complete")
    assert rollout.rollout(seeded, admin).totals.boroughs_overdue == 3


@contextmanager
def counting(system: System) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(system.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(system.engine, "before_cursor_execute", count)


def test_the_figures_take_the_same_few_queries_however_big_the_force(
    system: System, clock: ManualClock
) -> None:
    admin = administrator(system)
    with counting(system) as empty:
        rollout.rollout(system, admin)
    seed(system, clock, admin)
    with counting(system) as full:
        rollout.rollout(system, admin)
    assert len(full) == len(empty) <= 12


def test_phases_refuse_bad_input_and_can_be_removed(seeded: System, admin: Principal) -> None:
    with pytest.raises(InvalidInput):
        rollout.set_phase(seeded, admin, "Hackney", phase=0, target_date=target(1))
    with pytest.raises(InvalidInput):
        rollout.set_phase(seeded, admin, "Hackney", phase=1, target_date=target(1), status="done")
    with pytest.raises(InvalidInput):
        rollout.set_phase(seeded, admin, "  ", phase=1, target_date=target(1))
    rollout.remove_phase(seeded, admin, "Westminster")
    with pytest.raises(NotFound):
        rollout.remove_phase(seeded, admin, "Westminster")
    westminster = next(
        b for b in rollout.rollout(seeded, admin).boroughs if b.borough == "Westminster"
    )
    assert (westminster.phase, westminster.status) == (None, "unplanned")
    assert rollout.rollout(seeded, admin).boroughs[-1].borough == "Westminster"


def test_the_api_and_the_portal_page(seeded: System, admin: Principal) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(app_for(seeded))
    tokens = {}
    for name, role, unit in (
        ("gus", "fleet_manager", None),
        ("sam", "supervisor", "Hackney"),
        ("ivy", "investigator", "CID"),
    ):
        users.create_user(seeded, admin, name, role, unit=unit)
        tokens[name] = {"Authorization": f"Bearer {own_token(seeded, name)}"}
    answer = client.get("/api/v1/fleet/rollout", headers=tokens["sam"])
    assert answer.status_code == 200
    assert len(answer.json()["boroughs"]) == 32
    assert client.get("/api/v1/fleet/rollout", headers=tokens["ivy"]).status_code == 403
    assert client.get("/api/v1/fleet/rollout").status_code == 401
    assert (
        client.get(
            "/api/v1/fleet/rollout", params={"idle_days": 0}, headers=tokens["sam"]
        ).status_code
        == 422
    )
    change = client.put(
        "/api/v1/fleet/rollout/Hackney",
        json={"phase": 2, "target_date": "2026-11-15", "status": "issuing"},
        headers=tokens["gus"],
    )
    assert change.status_code == 204
    assert (
        client.put(
            "/api/v1/fleet/rollout/Hackney",
            json={"phase": 2, "target_date": "2026-11-15"},
            headers=tokens["sam"],
        ).status_code
        == 403
    )
    assert (
        client.put(
            "/api/v1/fleet/rollout/Hackney",
            json={"phase": 2, "target_date": "someday"},
            headers=tokens["gus"],
        ).status_code
        == 422
    )
    hackney = next(
        b
        for b in client.get("/api/v1/fleet/rollout", headers=tokens["sam"]).json()["boroughs"]
        if b["borough"] == "Hackney"
    )
    assert (hackney["phase"], hackney["target_date"]) == (2, "2026-11-15")

    page = client.get("/fleet/rollout", headers={**tokens["gus"], "Accept": "text/html"})
    assert page.status_code == 200, page.text
    assert "Roll-out" in page.text and "Barking and Dagenham" in page.text
    assert "Westminster" in page.text
    refused = client.get("/fleet/rollout", headers={**tokens["ivy"], "Accept": "text/html"})
    assert refused.status_code == 403
