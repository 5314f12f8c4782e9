"""Fleet health alerts over a real database, with the clock moved forward."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from custody.cli import app as cli
from custody.db.models import AuditEvent, IngestFlag
from custody.domain.clock import ManualClock
from custody.services.fleet import assignments, health, registry
from custody.services.system import System
from tests.apps import app_for
from tests.integration.fleet_world import FleetWorld, build
from tests.snapshots import world_of

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def world(system: System) -> FleetWorld:
    return world_of(build, system)


def kinds(
    world: FleetWorld, *, cameras_only: bool = False, **options: int
) -> list[tuple[str, str]]:
    found = health.alerts(world.system, world.admin, **options)  # type: ignore[arg-type]
    return [(a.kind, a.name) for a in found.alerts if not cameras_only or a.subject == "camera"]


def test_a_camera_out_of_its_dock_too_long(world: FleetWorld, clock: ManualClock) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    world.camera("BWV-2", officer="1002HK")
    world.dock_report("BWV-1")
    world.dock_report("BWV-2")
    assert kinds(world) == []
    clock.advance(2 * DAY)
    world.dock_report("BWV-2")
    clock.advance(DAY + HOUR)  # BWV-1: 3 days and an hour; BWV-2: a day and an hour
    assert kinds(world, cameras_only=True) == [("camera_not_docked", "BWV-1")]
    [alert] = health.alerts(system, world.admin, kind="camera_not_docked").alerts
    assert alert.severity == "warning" and "31 days are running" in alert.message
    # The threshold is configurable, per request as well as in the settings.
    assert kinds(world, cameras_only=True, camera_idle_days=4) == []
    clock.advance(4 * DAY)
    first, second = health.alerts(system, world.admin, kind="camera_not_docked").alerts
    assert (first.name, first.severity) == ("BWV-1", "critical")
    assert (second.name, second.severity) == ("BWV-2", "warning")
    world.dock_report("BWV-1")
    assert ("camera_not_docked", "BWV-1") not in kinds(world)


def test_a_camera_in_stock_or_never_issued_is_not_expected(
    world: FleetWorld, clock: ManualClock
) -> None:
    world.camera("STOCK-1")
    world.camera("NEW-1", officer="1001HK")
    clock.advance(2 * DAY)
    assert kinds(world, cameras_only=True) == []
    clock.advance(2 * DAY)  # issued four days ago and never docked
    assert kinds(world, cameras_only=True) == [("camera_not_docked", "NEW-1")]


def test_a_dock_that_stops_reporting(world: FleetWorld, clock: ManualClock) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    world.dock_report("BWV-1")
    clock.advance(23 * HOUR)
    registry.heartbeat(system, world.dock, ["BWV-1"])
    clock.advance(23 * HOUR)
    assert kinds(world) == []
    clock.advance(2 * HOUR)
    assert kinds(world) == [("dock_silent", "Hackney-1")]
    assert kinds(world, dock_silent_hours=48) == []
    registry.heartbeat(system, world.dock, [])
    assert kinds(world) == []


def test_firmware_behind_the_newest_seen_for_the_model(world: FleetWorld) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK", firmware="1.9.0")
    world.camera("BWV-2", officer="1002HK", firmware="1.9.0")
    assert kinds(world) == []
    # One camera is updated; the docks report what it now runs.
    registry.report_camera(
        system,
        world.dock,
        serial="BWV-2",
        bay="bay-2",
        battery_percent=80,
        free_bytes=None,
        firmware="1.10.0",
        recordings_waiting=0,
    )
    assert kinds(world) == [("firmware_behind", "BWV-1")]
    found = health.alerts(system, world.admin, kind="firmware_behind")
    assert found.counts["firmware_behind"] == 1 and "1.10.0" in found.alerts[0].message


def test_a_lost_camera_that_docks_again_is_flagged(world: FleetWorld, clock: ManualClock) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    world.dock_report("BWV-1")
    clock.advance(DAY)
    assignments.report_lost(system, world.admin, "BWV-1", reason="dropped during a chase")
    clock.advance(10 * DAY)
    assert kinds(world) == [("dock_silent", "Hackney-1")]
    world.dock_report("BWV-1")
    assert kinds(world) == [("reported_while_lost", "BWV-1")]
    with system.unit_of_work() as uow:
        [flag] = uow.session.scalars(select(IngestFlag)).all()
        event = uow.session.scalar(
            select(AuditEvent).where(AuditEvent.tag == "dock:camera:camera_lost")
        )
    assert flag.kind == "camera_lost" and "Hackney-1" in flag.detail
    assert event is not None and event.object_id == "BWV-1"
    # Found and back in stock: no longer an alert.
    assignments.return_to_stock(
        system, world.admin, "BWV-1", reason="handed in at the front counter"
    )
    assert kinds(world) == []


def test_the_first_alerts_are_counted_and_ordered_in_full_and_rows_flagged_alone(
    world: FleetWorld, clock: ManualClock
) -> None:
    """A page asks for its first few alerts and still counts every kind; the rows it shows
    are flagged by the same rules, whether or not their alert is among the first few."""
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    world.camera("BWV-2", officer="1002HK")
    world.camera("STOCK-1")
    world.dock_report("BWV-1")
    clock.advance(3 * DAY)
    world.dock_report("BWV-2")
    clock.advance(DAY)
    registry.heartbeat(system, world.dock, [])
    clock.advance(3 * DAY)  # BWV-1 out 7 days (critical), BWV-2 4 days; the dock silent 3
    everything = health.alerts(system, world.admin)
    first = health.alerts(system, world.admin, limit=2)
    assert [a.name for a in everything.alerts] == ["BWV-1", "BWV-2", "Hackney-1"]
    assert [a.name for a in first.alerts] == ["BWV-1", "BWV-2"]
    assert first.counts == everything.counts and first.total == everything.total == 3
    shown = health.flagged(system, world.admin, cameras=["BWV-2", "STOCK-1"], docks=["Hackney-1"])
    assert shown == {("camera", "BWV-2"), ("dock", "Hackney-1")}
    assert health.flagged(system, world.admin, cameras=[], docks=[]) == set()


def test_the_api_and_the_command(
    world: FleetWorld, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = world.system
    world.camera("BWV-1", officer="1001HK")
    clock.advance(5 * DAY)
    client = TestClient(app_for(system))
    answer = client.get("/api/v1/fleet/alerts", headers=world.auth("sam"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["counts"]["camera_not_docked"] == 1 and body["counts"]["dock_silent"] == 1
    assert body["policy"] == {"camera_idle_days": 3, "dock_silent_hours": 24}
    assert client.get("/api/v1/fleet/alerts", headers=world.auth("alice")).status_code == 403
    assert (
        client.get(
            "/api/v1/fleet/alerts", params={"kind": "nonsense"}, headers=world.auth("sam")
        ).status_code
        == 400
    )
    assert (
        client.get(
            "/api/v1/fleet/alerts", params={"camera_idle_days": 0}, headers=world.auth("sam")
        ).status_code
        == 422
    )
    only = client.get(
        "/api/v1/fleet/alerts", params={"kind": "dock_silent"}, headers=world.auth("gus")
    ).json()
    assert [a["name"] for a in only["alerts"]] == ["Hackney-1"]

    # The command reads the real clock: it sees the same alerts, for it is later still.
    monkeypatch.setenv("CUSTODY_DATA_DIR", str(system.settings.data_dir))
    monkeypatch.setenv("CUSTODY_DATABASE_URL", system.settings.resolved_database_url)
    result = CliRunner().invoke(cli, ["fleet", "health", "--as", "root"])
    assert result.exit_code == 0, result.output
    assert "BWV-1" in result.output and "Hackney-1" in result.output
