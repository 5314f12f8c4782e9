"""Users and tokens over the API, and `custody users …` on the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.db.models import AuditEvent
from custody.domain.errors import NotAuthenticated, TooManySignIns
from custody.services.fleet import registry
from custody.services.identity import signin
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import custody
from tests.factories import APPROVER, give_password, own_token
from tests.people import Force, make_force


@pytest.fixture
def force(system: System) -> Force:
    return make_force(system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system)) as test_client:
        yield test_client


def last_event(system: System) -> AuditEvent:
    with system.unit_of_work() as uow:
        found = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert found is not None
    return found


def test_an_administrator_adds_a_user_linked_to_an_officer(
    client: TestClient, force: Force
) -> None:
    registry.add_officer(force.system, force.admin, "9999ZZ", name="P. Jones", unit="Camden")
    made = client.post(
        "/api/v1/users",
        headers=force.auth("root"),
        json={"username": "pc.jones", "role": "officer", "officer": "9999ZZ"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["unit"] == "Camden" and made.json()["officer"] == "9999ZZ"
    assert made.json()["has_password"] is False
    with force.system.unit_of_work() as uow:
        created = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.object_id == "pc.jones").order_by(AuditEvent.seq)
        ).all()
    assert [(e.tag, e.actor) for e in created] == [
        ("admin:user:create", "user:root"),
        ("admin:user:password_reset", "user:root"),
    ]
    duplicate = client.post(
        "/api/v1/users",
        headers=force.auth("root"),
        json={"username": "pc.jones", "role": "officer"},
    )
    assert duplicate.status_code == 409


def test_me_answers_a_bearer_token_without_any_session_fields(
    client: TestClient, force: Force
) -> None:
    me = client.get("/api/v1/me", headers=force.auth("alice")).json()
    # The portal's CSRF token and session end come only with the portal's cookie.
    assert set(me) == {
        "username",
        "display_name",
        "role",
        "unit",
        "officer",
        "has_password",
        "single_sign_on",
        "created_at",
        "disabled_at",
    }
    assert (me["username"], me["officer"], me["disabled_at"]) == ("alice", "1234AB", None)


def test_a_new_user_sets_their_own_first_password_with_a_one_time_code(
    client: TestClient, force: Force
) -> None:
    """Nobody chooses another person's password, nor adds an account that cannot sign in."""
    root = force.auth("root")
    chosen = client.post(
        "/api/v1/users",
        headers=root,
        json={"username": "pc.new", "role": "officer", "password": "root chose this one"},
    )
    assert chosen.status_code == 422
    assert client.get("/api/v1/users/pc.new", headers=root).status_code == 404
    made = client.post(
        "/api/v1/users", headers=root, json={"username": "pc.new", "role": "officer"}
    )
    assert made.status_code == 201, made.text
    reset = made.json()["reset"]
    assert reset["code"].startswith("cpr_") and made.json()["reset_until"] == reset["expires_at"]
    assert made.json()["has_password"] is False
    listed = client.get("/api/v1/users/pc.new", headers=root).json()
    assert "reset" not in listed and listed["reset_until"] == reset["expires_at"]
    done = client.post(
        "/api/v1/password-resets", json={"code": reset["code"], "password": "my very own one"}
    )
    assert done.status_code == 204
    after = client.get("/api/v1/users/pc.new", headers=root).json()
    assert after["has_password"] is True and after["reset_until"] is None
    assert signin.sign_in(force.system, "pc.new", "my very own one").session.principal.username == (
        "pc.new"
    )


def test_changing_a_role_and_disabling_are_audited_and_take_effect(
    client: TestClient, force: Force
) -> None:
    changed = client.patch(
        "/api/v1/users/dana",
        headers=force.auth("root"),
        json={"role": "supervisor", "unit": "Hackney"},
    )
    assert changed.status_code == 200 and changed.json()["role"] == "supervisor"
    assert last_event(force.system).tag == "admin:user:update"
    assert client.get("/api/v1/me", headers=force.auth("dana")).json()["role"] == "supervisor"
    disabled = client.patch(
        "/api/v1/users/dana", headers=force.auth("root"), json={"disabled": True}
    )
    assert disabled.json()["disabled_at"] is not None
    assert last_event(force.system).tag == "admin:user:disable"
    assert client.get("/api/v1/me", headers=force.auth("dana")).status_code == 401


def test_the_last_administrator_cannot_be_removed(client: TestClient, force: Force) -> None:
    # The second administrator, who approved the force's wide roles, leaves first.
    gone = client.patch(
        f"/api/v1/users/{APPROVER}", headers=force.auth("root"), json={"disabled": True}
    )
    assert gone.status_code == 200
    answer = client.patch(
        "/api/v1/users/root", headers=force.auth("root"), json={"role": "fleet_manager"}
    )
    assert answer.status_code == 409
    answer = client.patch("/api/v1/users/root", headers=force.auth("root"), json={"disabled": True})
    assert answer.status_code == 409


def test_people_manage_their_own_tokens_and_only_theirs(client: TestClient, force: Force) -> None:
    made = client.post(
        "/api/v1/me/tokens", headers=force.auth("alice"), json={"name": "body-cam app", "days": 7}
    )
    assert made.status_code == 201
    token = made.json()
    assert token["token"].startswith("cut_") and token["active"]
    listed = client.get("/api/v1/me/tokens", headers=force.auth("alice")).json()
    assert {t["name"] for t in listed} == {"", "body-cam app"}
    assert all("token" not in t for t in listed)  # secrets are shown once only
    own = {"Authorization": f"Bearer {token['token']}"}
    assert client.get("/api/v1/me", headers=own).json()["username"] == "alice"
    # bob cannot revoke alice's token, even knowing its id.
    refused = client.delete(f"/api/v1/me/tokens/{token['id']}", headers=force.auth("bob"))
    assert refused.status_code == 404
    revoked = client.delete(f"/api/v1/me/tokens/{token['id']}", headers=force.auth("alice"))
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert client.get("/api/v1/me", headers=own).status_code == 401


def test_an_administrator_revokes_someone_elses_token(client: TestClient, force: Force) -> None:
    tokens = client.get("/api/v1/users/gus/tokens", headers=force.auth("root")).json()
    assert len(tokens) == 1
    revoked = client.delete(
        f"/api/v1/users/gus/tokens/{tokens[0]['id']}", headers=force.auth("root")
    )
    assert revoked.status_code == 200
    assert client.get("/api/v1/me", headers=force.auth("gus")).status_code == 401
    assert last_event(force.system).tag == "admin:token:revoke"


def test_a_token_expires(client: TestClient, force: Force) -> None:
    from datetime import timedelta

    clock = force.system.clock
    made = client.post("/api/v1/me/tokens", headers=force.auth("alice"), json={"days": 1})
    secret = {"Authorization": f"Bearer {made.json()['token']}"}
    clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    assert client.get("/api/v1/me", headers=secret).status_code == 401


def test_changing_your_own_password_needs_the_current_one(client: TestClient, force: Force) -> None:
    give_password(force.system, force.admin, "alice", "first password here")
    # A new password revokes every token of alice's: she needs a new one.
    assert client.get("/api/v1/me", headers=force.auth("alice")).status_code == 401
    force.tokens["alice"] = own_token(force.system, "alice")
    wrong = client.put(
        "/api/v1/me/password",
        headers=force.auth("alice"),
        json={"password": "second password!", "current_password": "guess"},
    )
    assert wrong.status_code == 403
    short = client.put(
        "/api/v1/me/password",
        headers=force.auth("alice"),
        json={"password": "short", "current_password": "first password here"},
    )
    assert short.status_code == 400
    right = client.put(
        "/api/v1/me/password",
        headers=force.auth("alice"),
        json={"password": "second password!", "current_password": "first password here"},
    )
    assert right.status_code == 204


def test_the_users_commands(tmp_path: Path) -> None:
    data = tmp_path / "server"
    assert custody(data, "init", stdin="admin password 123\n").returncode == 0
    assert (
        custody(
            data, "fleet", "add-officer", "1234AB", "--name", "A. Officer", "--unit", "Hackney"
        ).returncode
        == 0
    )
    added = custody(
        data,
        "users",
        "add",
        "alice",
        "--role",
        "officer",
        "--officer",
        "1234AB",
        "--unit",
        "Hackney",
    )
    assert added.returncode == 0, added.stderr
    # What it prints is the one-time code alice sets her own password with, not a password.
    code = added.stdout.strip()
    assert code.startswith("cpr_")
    done = custody(data, "users", "complete-reset", stdin=f"{code}\nalices password!\n")
    assert done.returncode == 0, done.stderr
    assert "alice" in custody(data, "users", "list").stdout
    assert custody(data, "users", "add", "y", "--role", "officer", "--password-stdin").returncode
    bad_role = custody(data, "users", "add", "x", "--role", "chief")
    assert bad_role.returncode == 1 and "role must be one of" in bad_role.stderr
    listed = custody(data, "users", "list")
    assert "alice" in listed.stdout and "1234AB" in listed.stdout
    secret = custody(data, "users", "token", "--as", "alice", "--name", "script").stdout.strip()
    assert secret.startswith("cut_")
    tokens = custody(data, "users", "tokens", "alice")
    assert "script" in tokens.stdout and "active" in tokens.stdout
    token_id = next(line.split()[1] for line in tokens.stdout.splitlines() if "script" in line)
    assert custody(data, "users", "revoke-token", token_id).returncode == 0
    assert "revoked" in custody(data, "users", "tokens", "alice").stdout
    assert custody(data, "users", "disable", "alice").returncode == 0
    assert "alice" in custody(data, "users", "list").stdout
    assert custody(data, "users", "disable", "admin").returncode == 1  # the last administrator


def test_an_administrator_unlocks_an_account_held_back_by_failed_sign_ins(
    client: TestClient, force: Force
) -> None:
    give_password(force.system, force.admin, "gus", "gus's own password")
    for _ in range(5):
        with pytest.raises(NotAuthenticated):
            signin.sign_in(force.system, "gus", "a wrong guess")
    with pytest.raises(TooManySignIns):
        signin.sign_in(force.system, "gus", "gus's own password")
    root = force.auth("root")
    held = client.get("/api/v1/users/gus", headers=root).json()["locked_until"]
    assert held is not None
    # Only those who manage users may.
    assert client.post("/api/v1/users/gus/unlock", headers=force.auth("dana")).status_code == 403
    done = client.post("/api/v1/users/gus/unlock", headers=root)
    assert done.status_code == 200 and done.json()["locked_until"] is None
    assert client.post("/api/v1/users/nobody/unlock", headers=root).status_code == 404
    signin.sign_in(force.system, "gus", "gus's own password")
    event = last_event(force.system)
    assert event.tag == "user:session:sign_in" and event.allowed
    with force.system.unit_of_work() as uow:
        unlocks = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.tag == "admin:user:unlock")
        ).all()
    assert [(e.actor, e.object_id, json.loads(e.details)) for e in unlocks] == [
        ("user:root", "gus", {"was_locked": True})
    ]
