"""Issue 11, point 4: an administrator cannot become anyone.

Seen as an attacker would over HTTP: root, the administrator, tries to get something that
acts as erin (professional standards, who sees complaint footage force-wide) and finds no way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.db.models import AuditEvent
from custody.db.models.users import PasswordReset
from custody.domain.access import ROLES, grant_needs_a_second_administrator
from custody.domain.actor import Actor
from custody.domain.errors import Conflict, NotAuthenticated, NotPermitted
from custody.services.identity import resets, roles, setup, signin, users
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import custody
from tests.factories import APPROVER, administrator
from tests.people import Force, make_force, store_recording


@pytest.fixture
def force(system: System) -> Force:
    return make_force(system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system)) as test_client:
        yield test_client


def tags(system: System) -> list[str]:
    with system.unit_of_work() as uow:
        return list(uow.session.scalars(select(AuditEvent.tag).order_by(AuditEvent.seq)))


def test_an_administrator_cannot_mint_a_token_for_someone_else(
    client: TestClient, force: Force
) -> None:
    root = force.auth("root")
    before = client.get("/api/v1/users/erin/tokens", headers=root).json()
    minted = client.post(
        "/api/v1/users/erin/tokens", headers=root, json={"name": "watch", "days": 7}
    )
    assert minted.status_code == 405
    assert "token" not in minted.text
    assert client.get("/api/v1/users/erin/tokens", headers=root).json() == before
    assert "admin:token:issue" not in tags(force.system)
    # What remains is each person's own: erin mints hers, and it is hers alone.
    own = client.post("/api/v1/me/tokens", headers=force.auth("erin"), json={"days": 1})
    assert own.status_code == 201
    mine = {"Authorization": f"Bearer {own.json()['token']}"}
    assert client.get("/api/v1/me", headers=mine).json()["username"] == "erin"


def test_an_administrator_cannot_set_someone_elses_password(
    client: TestClient, force: Force
) -> None:
    root = force.auth("root")
    answer = client.put(
        "/api/v1/users/erin/password", headers=root, json={"password": "root knows this one"}
    )
    assert answer.status_code == 404  # no such operation
    with pytest.raises(NotAuthenticated):
        signin.sign_in(force.system, "erin", "root knows this one")
    assert "admin:user:password" not in tags(force.system)


def reset(client: TestClient, force: Force, name: str) -> str:
    issued = client.post(f"/api/v1/users/{name}/password-resets", headers=force.auth("root"))
    assert issued.status_code == 201, issued.text
    assert issued.json()["username"] == name
    code: str = issued.json()["code"]
    return code


def complete(client: TestClient, code: str, password: str) -> int:
    answer = client.post("/api/v1/password-resets", json={"code": code, "password": password})
    assert "set-cookie" not in answer.headers  # completing a reset signs nobody in
    return answer.status_code


def test_a_reset_is_completed_by_its_person_once_and_only_the_newest(
    client: TestClient, force: Force
) -> None:
    system = force.system
    first = reset(client, force, "erin")
    # Only the code's hash is kept.
    with system.unit_of_work() as uow:
        stored = uow.session.scalars(select(PasswordReset.code_hash)).all()
    assert stored and first not in stored
    second = reset(client, force, "erin")
    assert complete(client, first, "erin's own password") == 401  # the newer one ended it
    assert complete(client, second, "short") == 400  # refused; the code is not spent
    assert client.get("/api/v1/me", headers=force.auth("erin")).status_code == 200
    assert complete(client, second, "erin's own password") == 204
    # Her tokens ended with the old password; she signs in with the one she chose.
    assert client.get("/api/v1/me", headers=force.auth("erin")).status_code == 401
    assert signin.sign_in(system, "erin", "erin's own password").session.principal.username == (
        "erin"
    )
    assert complete(client, second, "another password!") == 401  # once only
    with pytest.raises(NotAuthenticated):
        signin.sign_in(system, "erin", "another password!")
    with system.unit_of_work() as uow:
        events = uow.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tag.in_(["admin:user:password_reset", "user:password:reset"]))
            .order_by(AuditEvent.seq)
        ).all()
    assert [(e.tag, e.actor, e.allowed) for e in events if e.object_id == "erin"] == [
        ("admin:user:password_reset", "user:root", True),  # her first, when root added her
        ("admin:user:password_reset", "user:root", True),
        ("admin:user:password_reset", "user:root", True),
        ("user:password:reset", "anonymous", False),
        ("user:password:reset", "user:erin", True),
        ("user:password:reset", "anonymous", False),
    ]


def test_a_reset_expires_after_a_day(client: TestClient, force: Force) -> None:
    code = reset(client, force, "dana")
    force.system.clock.advance(timedelta(hours=24))  # type: ignore[attr-defined]
    assert complete(client, code, "dana's own password") == 401
    with pytest.raises(NotAuthenticated):
        signin.sign_in(force.system, "dana", "dana's own password")


def test_only_those_who_manage_users_issue_resets(client: TestClient, force: Force) -> None:
    answer = client.post("/api/v1/users/erin/password-resets", headers=force.auth("gus"))
    assert answer.status_code == 403
    assert "code" not in answer.json()


def test_the_command_line_offers_no_way_to_act_as_another(tmp_path: Path) -> None:
    data = tmp_path / "server"
    assert custody(data, "init", stdin="admin password 123\n").returncode == 0
    assert custody(data, "users", "add", "erin", "--role", "officer").returncode == 0
    # No token for someone else, and no password set for them.
    assert custody(data, "users", "token", "erin").returncode != 0
    assert custody(data, "users", "password", "erin", stdin="root knows it!\n").returncode != 0
    code = custody(data, "users", "reset-password", "erin").stdout.strip()
    assert code.startswith("cpr_")
    done = custody(data, "users", "complete-reset", stdin=f"{code}\nerin's own password\n")
    assert done.returncode == 0, done.stderr
    again = custody(data, "users", "complete-reset", stdin=f"{code}\nanother password!\n")
    assert again.returncode == 1
    mine = custody(data, "users", "token", "--as", "erin").stdout.strip()
    assert mine.startswith("cut_")
    assert "erin" in custody(data, "users", "tokens", "erin").stdout


def test_the_roles_that_need_two_administrators_come_from_the_rule_table() -> None:
    wide = {role for role in ROLES if grant_needs_a_second_administrator(role)}
    assert wide == {"professional_standards", "auditor", "administrator"}


def test_an_administrator_alone_cannot_give_a_role_that_sees_footage_force_wide(
    client: TestClient, force: Force
) -> None:
    root = force.auth("root")
    made = client.post(
        "/api/v1/users", headers=root, json={"username": "mole", "role": "professional_standards"}
    )
    assert made.status_code == 403
    assert client.get("/api/v1/users/mole", headers=root).status_code == 404
    for role in ("professional_standards", "auditor", "administrator"):
        changed = client.patch("/api/v1/users/gus", headers=root, json={"role": role})
        assert changed.status_code == 403, role
    assert client.get("/api/v1/users/gus", headers=root).json()["role"] == "fleet_manager"
    # A role that sees no more than before is still the administrator's own to give.
    assert client.patch("/api/v1/users/gus", headers=root, json={"role": "disclosure"}).is_success


def test_a_second_administrator_approves_a_wide_role_and_the_asker_cannot(
    client: TestClient, force: Force
) -> None:
    store_recording(force)
    root, approver = force.auth("root"), force.auth(APPROVER)
    asked = client.post(
        "/api/v1/users/gus/role-requests", headers=root, json={"role": "professional_standards"}
    )
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["outcome"] is None and request["requested_by"] == "root"
    # Pending: gus sees no more than before.
    assert client.get("/api/v1/users/gus", headers=root).json()["role"] == "fleet_manager"
    assert client.get("/api/v1/recordings", headers=force.auth("gus")).json()["total"] == 0
    again = client.post("/api/v1/users/gus/role-requests", headers=root, json={"role": "auditor"})
    assert again.status_code == 409  # one pending request per person
    own = client.post(f"/api/v1/role-requests/{request['id']}/approve", headers=root)
    assert own.status_code == 403
    listed = client.get("/api/v1/role-requests", headers=approver).json()
    assert [r["id"] for r in listed] == [request["id"]]
    approved = client.post(f"/api/v1/role-requests/{request['id']}/approve", headers=approver)
    assert approved.status_code == 200 and approved.json()["outcome"] == "approved"
    assert approved.json()["decided_by"] == APPROVER
    assert client.get("/api/v1/users/gus", headers=root).json()["role"] == (
        "professional_standards"
    )
    assert client.get("/api/v1/recordings", headers=force.auth("gus")).json()["total"] == 1
    twice = client.post(f"/api/v1/role-requests/{request['id']}/refuse", headers=approver)
    assert twice.status_code == 409
    assert client.get("/api/v1/role-requests", headers=root).json() == []
    with force.system.unit_of_work() as uow:
        events = uow.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tag.like("admin:role:%"), AuditEvent.object_id == "gus")
            .order_by(AuditEvent.seq)
        ).all()
    assert [(e.tag, e.actor, e.allowed) for e in events] == [
        ("admin:role:request", "user:root", True),
        ("admin:role:approve", "user:root", False),
        ("admin:role:approve", f"user:{APPROVER}", True),
    ]


def test_a_refused_role_request_changes_nothing(client: TestClient, force: Force) -> None:
    root, approver = force.auth("root"), force.auth(APPROVER)
    asked = client.post(
        "/api/v1/users/dana/role-requests", headers=root, json={"role": "auditor"}
    ).json()
    refused = client.post(f"/api/v1/role-requests/{asked['id']}/refuse", headers=approver)
    assert refused.status_code == 200 and refused.json()["outcome"] == "refused"
    assert client.get("/api/v1/users/dana", headers=root).json()["role"] == "investigator"
    late = client.post(f"/api/v1/role-requests/{asked['id']}/approve", headers=approver)
    assert late.status_code == 409
    assert client.get("/api/v1/users/dana", headers=root).json()["role"] == "investigator"


def test_a_lone_administrator_cannot_make_a_second_who_approves_them(system: System) -> None:
    """The puppet: root, alone, adds deputy, sets deputy's password with the code root was
    shown, and would approve root's own requests as deputy. Two administrators approve each
    other only if neither appointed the other nor held the other's password."""
    root = administrator(system, "root")
    made = users.create_user(system, root, "deputy", "officer")
    asked = roles.request_role(system, root, "deputy", "administrator")
    assert asked.outcome is None  # no longer stands at once: nobody else may approve it
    with pytest.raises(NotPermitted):
        roles.decide_role_request(system, root, asked.id, approve=True)
    assert users.principal_named(system, "deputy").role == "officer"
    # The installation makes the second administrator (`custody init --second-administrator`).
    code = setup.installation_administrator(system, "second").code
    resets.complete_reset(system, code, "second's own password", Actor("anonymous"))
    second = users.principal_named(system, "second")
    assert roles.decide_role_request(system, second, asked.id, approve=True).outcome == ("approved")
    # root sets deputy up themselves with the code root was given for deputy.
    resets.complete_reset(system, made.reset.code, "root knows this", Actor("anonymous"))
    deputy = users.principal_named(system, "deputy")
    users.create_user(system, root, "mole", "officer")
    wanted = roles.request_role(system, root, "mole", "professional_standards")
    with pytest.raises(NotPermitted, match="at root's request"):
        roles.decide_role_request(system, deputy, wanted.id, approve=True)
    # Nor the other way round: root approving what deputy asks.
    users.create_user(system, root, "mole2", "officer")
    other = roles.request_role(system, deputy, "mole2", "auditor")
    with pytest.raises(NotPermitted, match="deputy was made an administrator at your request"):
        roles.decide_role_request(system, root, other.id, approve=True)
    assert users.principal_named(system, "mole").role == "officer"
    assert users.principal_named(system, "mole2").role == "officer"
    # The second, whom neither root nor deputy made, approves; each refusal was audited.
    assert roles.decide_role_request(system, second, wanted.id, approve=True).outcome == (
        "approved"
    )
    refusals = [
        (e.actor, e.reason)
        for e in events(system, "admin:role:approve")
        if not e.allowed and e.object_id in ("mole", "mole2")
    ]
    assert [actor for actor, _ in refusals] == ["user:deputy", "user:root"]
    # With two who may approve each other, the installation adds no more administrators.
    with pytest.raises(Conflict):
        setup.installation_administrator(system, "third")


def test_whoever_issued_the_code_of_an_administrators_password_cannot_approve_them(
    system: System,
) -> None:
    root = administrator(system, "root")
    code = setup.installation_administrator(system, "second").code
    resets.complete_reset(system, code, "second's own password", Actor("anonymous"))
    second = users.principal_named(system, "second")
    users.create_user(system, root, "mole", "officer")
    # root forgot their password; second issues the reset (and saw its code).
    issued = resets.issue_reset(system, second, "root")
    resets.complete_reset(system, issued.code, "root's new password", Actor("anonymous"))
    wanted = roles.request_role(system, root, "mole", "auditor")
    with pytest.raises(NotPermitted, match="reset code you issued"):
        roles.decide_role_request(system, second, wanted.id, approve=True)
    # Changing it, knowing it, does not undo that whoever saw the code could have set it.
    users.change_my_password(system, root, "root's new password", "root's newer password")
    with pytest.raises(NotPermitted, match="reset code you issued"):
        roles.decide_role_request(system, second, wanted.id, approve=True)
    # Refusing needs no independence: it gives nothing.
    assert roles.decide_role_request(system, second, wanted.id, approve=False).outcome == (
        "refused"
    )
    # Now nobody may approve anyone here: the installation may make another administrator.
    setup.installation_administrator(system, "third")


def events(system: System, tag: str) -> list[AuditEvent]:
    with system.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.seq)
            )
        )


def test_made_up_reset_codes_are_refused_and_leave_no_trace(
    client: TestClient, force: Force
) -> None:
    before = tags(force.system)
    for guess in range(3):
        assert complete(client, f"cpr_made-up-{guess}", "a long password") == 401
    assert tags(force.system) == before
