"""Issue 11 point 4 and issue 12 point 6 in the portal: a new user's first password, a
password reset, setting your own password with a code, unlocking, and role requests that a
second administrator approves; each through the door, audited, and refused alike to those
who may not."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.db.models import AuditEvent
from custody.domain.errors import NotAuthenticated, TooManySignIns
from custody.services.identity import roles, signin, users
from custody.services.system import System
from custody.web.deps import SESSION_COOKIE
from tests.apps import app_for
from tests.factories import APPROVER, give_password
from tests.people import PASSWORD, Force, make_force

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE = re.compile(r'id="issued-code" class="token-value" readonly value="(cpr_[^"]+)"')


@pytest.fixture
def force(system: System) -> Force:
    found = make_force(system)
    # Each administrator issues their own code (one who issued another's could have set their
    # password, and would not count as a second person when approving: docs/access.md).
    for issuer, name in (("root", "root"), ("root", "gus"), (APPROVER, APPROVER)):
        give_password(system, users.principal_named(system, issuer), name, PASSWORD)
    return found


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system), follow_redirects=False) as test_client:
        yield test_client


def as_(client: TestClient, force: Force, username: str) -> str:
    signed = signin.sign_in(force.system, username, PASSWORD)
    client.cookies.set(SESSION_COOKIE, signed.secret)
    return signed.session.csrf_token


def events(system: System, tag: str, about: str) -> list[tuple[str, bool]]:
    with system.unit_of_work() as uow:
        found = uow.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tag == tag, AuditEvent.object_id == about)
            .order_by(AuditEvent.seq)
        ).all()
    return [(event.actor, event.allowed) for event in found]


def complete(client: TestClient, code: str, password: str, again: str | None = None) -> str:
    """Fill in the public set-your-password page as the person would; its answer's text."""
    client.cookies.delete(SESSION_COOKIE)
    form = client.get("/password-reset")
    assert form.status_code == 200
    token = FORM_TOKEN.search(form.text)
    assert token is not None
    answer = client.post(
        "/password-reset",
        data={
            "csrf_token": token.group(1),
            "code": code,
            "password": password,
            "again": password if again is None else again,
        },
    )
    return f"{answer.status_code} {answer.headers.get('location', '')} {answer.text}"


def test_a_new_user_gets_a_one_time_code_and_sets_their_own_password(
    client: TestClient, force: Force
) -> None:
    csrf = as_(client, force, "root")
    page = client.get("/admin/users")
    assert 'type="password"' not in page.text  # nobody types another person's password
    made = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "username": "pc.new",
            "role": "officer",
            "password": "root chose this one",
        },
    )
    assert made.status_code == 200
    found = CODE.search(made.text)
    assert found is not None and "shown only now" in made.text
    code = found.group(1)
    user = users.get_user(force.system, force.admin, "pc.new")
    assert not user.has_password and user.reset_until is not None
    with pytest.raises(NotAuthenticated):
        signin.sign_in(force.system, "pc.new", "root chose this one")
    # The code is never shown again.
    assert code not in client.get("/admin/users").text
    assert "Waiting for them to set a password" in client.get("/admin/users").text
    assert complete(client, code, "my very own password").startswith("303 /login?password_set=1")
    assert "Your password is set" in client.get("/login?password_set=1").text
    signed = signin.sign_in(force.system, "pc.new", "my very own password")
    assert signed.session.principal.username == "pc.new"
    assert events(force.system, "admin:user:create", "pc.new") == [("user:root", True)]
    assert events(force.system, "admin:user:password_reset", "pc.new") == [("user:root", True)]
    assert events(force.system, "user:password:reset", "pc.new") == [("user:pc.new", True)]


def test_the_set_your_password_page_keeps_the_apis_rules(client: TestClient, force: Force) -> None:
    csrf = as_(client, force, "root")
    issued = client.post("/admin/users/gus/password-reset", data={"csrf_token": csrf})
    assert issued.status_code == 200
    found = CODE.search(issued.text)
    assert found is not None
    code = found.group(1)
    assert events(force.system, "admin:user:password_reset", "gus")[-1] == ("user:root", True)
    short = complete(client, code, "short")
    assert short.startswith("400") and "at least 10 characters" in short
    mismatch = complete(client, code, "a long new password", "another long one")
    assert mismatch.startswith("400") and "not the same" in mismatch
    made_up = complete(client, "cpr_made-up", "a long new password")
    assert made_up.startswith("401") and "unknown, used or expired" in made_up
    assert code not in short + mismatch + made_up  # a secret is never typed back into a page
    # None of those spent the code, nor changed gus's password.
    signin.sign_in(force.system, "gus", PASSWORD)
    assert complete(client, code, "gus's own new one").startswith("303")
    again = complete(client, code, "and once more!")
    assert again.startswith("401")  # once only
    with pytest.raises(NotAuthenticated):
        signin.sign_in(force.system, "gus", PASSWORD)
    # A form without its own CSRF token changes nothing and is audited.
    forged = client.post(
        "/password-reset",
        data={"csrf_token": "x", "code": code, "password": "x" * 12, "again": "x" * 12},
    )
    assert forged.status_code == 403
    assert events(force.system, "user:request:csrf", "/password-reset") == [("anonymous", False)]


def test_an_administrator_unlocks_an_account_held_back_after_failed_sign_ins(
    client: TestClient, force: Force
) -> None:
    for _ in range(5):
        with pytest.raises(NotAuthenticated):
            signin.sign_in(force.system, "gus", "a wrong guess", address="10.9.9.9")
    with pytest.raises(TooManySignIns):
        signin.sign_in(force.system, "gus", PASSWORD, address="10.1.1.1")
    assert users.get_user(force.system, force.admin, "gus").locked_until is not None
    csrf = as_(client, force, "root")
    page = client.get("/admin/users").text
    assert "Held back after failed sign-ins" in page and 'action="/admin/users/gus/unlock"' in page
    done = client.post("/admin/users/gus/unlock", data={"csrf_token": csrf})
    assert done.status_code == 303
    assert "gus may sign in again now." in client.get("/admin/users").text
    assert users.get_user(force.system, force.admin, "gus").locked_until is None
    signin.sign_in(force.system, "gus", PASSWORD, address="10.1.1.1")
    assert events(force.system, "admin:user:unlock", "gus") == [("user:root", True)]


def test_a_wide_role_is_asked_for_and_another_administrator_approves_it(
    client: TestClient, force: Force
) -> None:
    csrf = as_(client, force, "root")
    asked = client.post("/admin/users/gus", data={"csrf_token": csrf, "role": "auditor"})
    assert asked.status_code == 303
    assert "another administrator must approve it" in client.get("/admin/users").text
    assert users.get_user(force.system, force.admin, "gus").role == "fleet_manager"
    (pending,) = roles.list_role_requests(force.system, force.admin)
    own = client.post(
        f"/admin/role-requests/{pending.id}", data={"csrf_token": csrf, "decision": "approve"}
    )
    assert own.status_code == 303
    assert "cannot approve it" in client.get("/admin/users").text
    assert users.get_user(force.system, force.admin, "gus").role == "fleet_manager"
    csrf = as_(client, force, APPROVER)
    page = client.get("/admin/users").text
    assert "Roles waiting for approval" in page and f"/admin/role-requests/{pending.id}" in page
    done = client.post(
        f"/admin/role-requests/{pending.id}", data={"csrf_token": csrf, "decision": "approve"}
    )
    assert done.status_code == 303
    assert "gus is now auditor." in client.get("/admin/users").text
    assert users.get_user(force.system, force.admin, "gus").role == "auditor"
    assert events(force.system, "admin:role:approve", "gus") == [
        ("user:root", False),
        (f"user:{APPROVER}", True),
    ]
    # A request that was never made, or is decided, says so; nothing changes.
    missing = client.post(
        "/admin/role-requests/9999", data={"csrf_token": csrf, "decision": "refuse"}
    )
    assert missing.status_code == 404
    twice = client.post(
        f"/admin/role-requests/{pending.id}", data={"csrf_token": csrf, "decision": "refuse"}
    )
    assert twice.status_code == 303
    assert users.get_user(force.system, force.admin, "gus").role == "auditor"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/alice/password-reset",
        "/admin/users/alice/unlock",
        "/admin/role-requests/1",
    ],
)
def test_those_who_do_not_manage_users_are_refused_and_audited(
    client: TestClient, force: Force, path: str
) -> None:
    csrf = as_(client, force, "gus")
    refused = client.post(path, data={"csrf_token": csrf, "decision": "approve"})
    assert refused.status_code == 403
    assert "cpr_" not in refused.text
    assert events(force.system, "admin:user:password_reset", "alice")[1:] == []
    with force.system.unit_of_work() as uow:
        last = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert last is not None and last.actor == "user:gus" and not last.allowed
