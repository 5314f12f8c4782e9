"""Passwords and tokens under attack: parallel guesses, a stolen session guessing the
password, tokens that outlive a password change or a disabling, tokens that live for years."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.db.models import AuditEvent
from custody.db.models.users import SignInThrottle
from custody.domain.errors import NotAuthenticated, TooManySignIns
from custody.domain.principal import Principal
from custody.services.identity import signin, users
from custody.services.system import System
from tests.apps import app_for
from tests.factories import give_password, own_token
from tests.people import Force, make_force

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def force(system: System) -> Force:
    return make_force(system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system)) as test_client:
        yield test_client


def refusals(system: System, tag: str) -> list[AuditEvent]:
    with system.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent).where(AuditEvent.tag == tag, AuditEvent.allowed.is_(False))
            )
        )


def set_password(client: TestClient, force: Force, name: str, password: str) -> None:
    """root issues `name` a one-time reset, and `name` completes it with their password."""
    issued = client.post(f"/api/v1/users/{name}/password-resets", headers=force.auth("root"))
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    answer = client.post("/api/v1/password-resets", json={"code": code, "password": password})
    assert answer.status_code == 204, answer.text


def test_thirty_parallel_guesses_get_five_passwords_checked(
    force: Force, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every guess is held inside the password check until all thirty have been decided, so
    a throttle that counts a guess only after checking it lets all thirty through."""
    system = force.system
    checked: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    everyone_decided = threading.Event()
    real_check = signin.verify_password

    def decided() -> None:
        if len(checked) + len(refused) == 30:
            everyone_decided.set()

    def held_check(system_: System, username: str, password: str) -> Principal:
        with lock:
            checked.append(password)
            decided()
        everyone_decided.wait(timeout=60)
        return real_check(system_, username, password)

    monkeypatch.setattr(signin, "verify_password", held_check)

    def guess(index: int) -> None:
        try:
            signin.sign_in(system, "alice", f"guess number {index}", address="198.51.100.7")
        except TooManySignIns:
            with lock:
                refused.append(str(index))
                decided()
        except NotAuthenticated:
            pass

    threads = [threading.Thread(target=guess, args=(index,)) for index in range(30)]
    for thread in threads:
        thread.start()
    everyone_decided.wait(timeout=60)
    everyone_decided.set()  # whatever happened, let the held ones go
    for thread in threads:
        thread.join(timeout=60)
    assert (len(checked), len(refused)) == (5, 25)
    assert len(refusals(system, "user:session:sign_in")) == 30


def test_a_new_password_ends_every_session_and_token(client: TestClient, force: Force) -> None:
    set_password(client, force, "alice", "the first password")
    # The administrator's reset already revoked alice's tokens; she signs in and makes one.
    assert client.get("/api/v1/me", headers=force.auth("alice")).status_code == 401
    signed = signin.sign_in(force.system, "alice", "the first password")
    client.cookies.set("custody_session", signed.secret)
    csrf = {"X-CSRF-Token": signed.session.csrf_token}
    made = client.post("/api/v1/me/tokens", headers=csrf, json={"name": "laptop", "days": 30})
    assert made.status_code == 201, made.text
    laptop = {"Authorization": f"Bearer {made.json()['token']}"}
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=laptop).status_code == 200

    changed = client.put(
        "/api/v1/me/password",
        headers=laptop,
        json={"password": NEW_PASSWORD, "current_password": "the first password"},
    )
    assert changed.status_code == 204
    # Whoever held the token or the session with the old password is out.
    assert client.get("/api/v1/me", headers=laptop).status_code == 401
    client.cookies.set("custody_session", signed.secret)
    assert client.get("/api/v1/me").status_code == 401
    client.cookies.clear()
    again = signin.sign_in(force.system, "alice", NEW_PASSWORD)
    assert again.session.principal.username == "alice"


def test_tokens_do_not_come_back_when_a_user_is_enabled_again(
    client: TestClient, force: Force
) -> None:
    assert client.get("/api/v1/me", headers=force.auth("dana")).status_code == 200
    for disabled in (True, False):
        answer = client.patch(
            "/api/v1/users/dana", headers=force.auth("root"), json={"disabled": disabled}
        )
        assert answer.status_code == 200
    assert client.get("/api/v1/me", headers=force.auth("dana")).status_code == 401
    listed = client.get("/api/v1/users/dana/tokens", headers=force.auth("root")).json()
    assert [token["active"] for token in listed] == [False]


def test_guessing_the_password_through_a_password_change_is_throttled_and_audited(
    client: TestClient, force: Force
) -> None:
    """A stolen session or token guessing its person's password meets the sign-in throttle."""
    set_password(client, force, "alice", "the real password")
    force.tokens["alice"] = own_token(force.system, "alice")
    statuses = []
    for index in range(6):
        answer = client.put(
            "/api/v1/me/password",
            headers=force.auth("alice"),
            json={"password": NEW_PASSWORD, "current_password": f"guess {index}"},
        )
        statuses.append(answer.status_code)
    assert statuses == [403] * 5 + [429]
    assert int(answer.headers["retry-after"]) == 60
    assert answer.json()["error"]["code"] == "too_many_sign_ins"
    # Even the right password waits its turn, and portal sign-in shares the count.
    right = {"password": NEW_PASSWORD, "current_password": "the real password"}
    assert (
        client.put("/api/v1/me/password", headers=force.auth("alice"), json=right).status_code
        == 429
    )
    with pytest.raises(TooManySignIns):
        signin.sign_in(force.system, "alice", "the real password")
    refused = refusals(force.system, "user:password:change")
    assert len(refused) == 7 and all(event.actor == "user:alice" for event in refused)
    force.system.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    assert (
        client.put("/api/v1/me/password", headers=force.auth("alice"), json=right).status_code
        == 204
    )


def test_a_person_token_lives_ninety_days_at_most_unless_the_force_says(
    client: TestClient, force: Force
) -> None:
    asked = {"name": "for ever", "days": 3650}
    refused = client.post("/api/v1/me/tokens", headers=force.auth("bob"), json=asked)
    assert refused.status_code in (400, 422) and "90 days" in refused.text
    longest = client.post("/api/v1/me/tokens", headers=force.auth("bob"), json={"days": 90})
    assert longest.status_code == 201
    force.system.settings.token_max_days = 365
    year = client.post("/api/v1/me/tokens", headers=force.auth("bob"), json={"days": 365})
    assert year.status_code == 201


def test_the_throttle_forgets_made_up_usernames(force: Force) -> None:
    """A sprayer's made-up usernames leave rows that a later sign-in prunes once forgotten."""
    system = force.system
    set_password_directly(system, "alice", "the real password")
    for index in range(3):
        with pytest.raises(NotAuthenticated):
            signin.sign_in(system, f"made-up-{index}", "Winter2026!", address="198.51.100.9")
    assert len(throttle_keys(system)) == 4  # three accounts and the address
    system.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    signin.sign_in(system, "alice", "the real password", address="192.0.2.1")
    assert throttle_keys(system) == ["account:alice", "address:192.0.2.1"]


def set_password_directly(system: System, name: str, password: str) -> None:
    give_password(system, users.principal_named(system, "root"), name, password)


def throttle_keys(system: System) -> list[str]:
    with system.unit_of_work() as uow:
        return list(uow.session.scalars(select(SignInThrottle.key).order_by(SignInThrottle.key)))


def test_the_api_document_says_a_password_change_can_be_throttled(client: TestClient) -> None:
    answers = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/me/password"]["put"]
    assert {"403", "429"} <= set(answers["responses"])
