"""A person the rules do not let change the fleet or manage users is refused by the one door
(`custody.services.access`), audited, and changes nothing: whether they call the use case
in process, or run `custody fleet … --as` them; and the first administrator is the only
user nobody adds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from custody.cli import app as cli
from custody.db.models import AuditEvent, Dock, User
from custody.domain.errors import Conflict, NotPermitted
from custody.services import access
from custody.services.fleet import importing, registry, rollout, views
from custody.services.identity import setup, tokens, users
from custody.services.system import System
from tests.integration.fleet_world import FleetWorld, build
from tests.snapshots import world_of


@pytest.fixture
def world(system: System) -> FleetWorld:
    return world_of(build, system)


@pytest.fixture
def refusals(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reasons of the refusals the door writes: proof that it, and nothing else, refused."""
    seen: list[str] = []
    door = access.refuse

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(str(args[3]))
        return door(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(access, "refuse", spy)
    return seen


def refused_events(system: System) -> list[AuditEvent]:
    with system.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent).where(AuditEvent.allowed.is_(False)).order_by(AuditEvent.seq)
            )
        )


def count(system: System, model: type[Dock] | type[User]) -> int:
    with system.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def test_an_officers_fleet_changes_and_reads_are_refused_audited_and_change_nothing(
    world: FleetWorld, refusals: list[str]
) -> None:
    system, alice = world.system, world.principals["alice"]
    docks = count(system, Dock)
    attempts: list[tuple[str, Callable[[], object]]] = [
        ("manage_fleet", lambda: registry.add_dock(system, alice, "Hackney-9")),
        ("manage_fleet", lambda: registry.update_officer(system, alice, "1001HK", rank="PS")),
        (
            "manage_fleet",
            lambda: rollout.set_phase(
                system, alice, "Hackney", phase=1, target_date=date(2026, 12, 1)
            ),
        ),
        (
            "manage_fleet",
            lambda: importing.import_csv(
                system, alice, "warrant_number,name,rank,unit\n3001HK,A B,PC,Hackney\n"
            ),
        ),
        ("view_fleet", lambda: views.list_cameras(system, alice)),
        ("view_fleet", lambda: rollout.rollout(system, alice)),
    ]
    for _, attempt in attempts:
        with pytest.raises(NotPermitted, match="an officer may not"):
            attempt()
    events = refused_events(system)
    assert [(e.tag, e.actor, e.object_type) for e in events] == [
        (f"user:system:{action}", "user:alice", "system") for action, _ in attempts
    ]
    assert refusals == [e.reason for e in events]
    assert count(system, Dock) == docks


def test_a_fleet_manager_may_not_manage_users(world: FleetWorld, refusals: list[str]) -> None:
    system, gus = world.system, world.principals["gus"]
    people = count(system, User)
    with pytest.raises(NotPermitted, match="a fleet manager may not manage users"):
        users.create_user(system, gus, "newbie", "administrator")
    with pytest.raises(NotPermitted):
        tokens.list_tokens(system, gus, "alice")
    with pytest.raises(NotPermitted):
        users.update_user(system, gus, "gus", role="administrator")
    events = refused_events(system)
    assert [(e.tag, e.actor) for e in events] == [("user:system:manage_users", "user:gus")] * 3
    assert len(refusals) == 3
    assert count(system, User) == people
    assert users.get_user(system, world.admin, "gus").role == "fleet_manager"


def test_the_command_line_acts_as_the_user_it_names(
    world: FleetWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = world.system
    monkeypatch.setenv("CUSTODY_DATA_DIR", str(system.settings.data_dir))
    monkeypatch.setenv("CUSTODY_DATABASE_URL", system.settings.resolved_database_url)
    runner = CliRunner()
    refused = runner.invoke(cli, ["fleet", "add-dock", "Hackney-9", "--as", "alice"])
    assert refused.exit_code == 1 and "may not manage fleet" in refused.output
    [event] = refused_events(system)
    assert (event.tag, event.actor, event.user_agent) == (
        "user:system:manage_fleet",
        "user:alice",
        "custody-cli",
    )
    made = runner.invoke(cli, ["fleet", "add-dock", "Hackney-9"], env={"CUSTODY_USER": "gus"})
    assert made.exit_code == 0, made.output
    with system.unit_of_work() as uow:
        registered = uow.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.tag == "fleet:dock:register")
            .order_by(AuditEvent.seq.desc())
        )
    assert registered is not None and registered.actor == "user:gus"
    nobody = runner.invoke(cli, ["fleet", "docks", "--as", "nobody"])
    assert nobody.exit_code == 1 and "no user 'nobody'" in nobody.output


def test_the_first_administrator_is_the_only_user_nobody_adds(system: System) -> None:
    first = setup.first_administrator(system, "root")
    assert first.role == "administrator"
    with pytest.raises(Conflict, match="has users already"):
        setup.first_administrator(system, "another")
    # custody init again: the installation has users, so nobody is added.
    assert setup.ensure_admin(system) == setup.InitResult(False, None)
    assert count(system, User) == 1
