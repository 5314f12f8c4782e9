"""Portal sign-in: wrong passwords, throttling, CSRF, expiry, sign-out and the cookie's flags."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from custody.db.models import AuditEvent
from custody.domain.clock import ManualClock
from custody.services.identity import users
from custody.services.system import System
from custody.web.app import create_app
from custody.web.deps import CurrentUser
from tests.apps import app_for
from tests.factories import add_user, administrator
from tests.people import PASSWORD

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(system: System) -> Iterator[TestClient]:
    admin = administrator(system)
    add_user(system, admin, "alice", "officer", PASSWORD, unit="Hackney")
    add_user(system, admin, "bob", "supervisor", PASSWORD, unit="Hackney")
    with TestClient(app_for(system), follow_redirects=False) as test_client:
        yield test_client


def login_form(client: TestClient) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    found = FORM_TOKEN.search(page.text)
    assert found is not None
    return found.group(1)


def sign_in(
    client: TestClient, username: str = "alice", password: str = PASSWORD, next: str = "/recordings"
) -> Response:
    token = login_form(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next},
    )


def events(system: System, tag: str) -> list[AuditEvent]:
    with system.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.seq)
            )
        )


def set_cookie_header(response: Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no {name} cookie set")


def test_the_sign_in_form_is_accessible_and_protected(client: TestClient) -> None:
    page = client.get("/login")
    assert '<label for="username">' in page.text and 'autocomplete="current-password"' in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    cookie = set_cookie_header(page, "custody_login_csrf").lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/login" in cookie


def test_signing_in_sets_a_session_cookie_and_goes_where_asked(
    client: TestClient, system: System
) -> None:
    answer = sign_in(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/recordings"
    cookie = set_cookie_header(answer, "custody_session").lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http here: a Secure cookie would never come back
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["username"] == "alice"
    (signed_in,) = events(system, "user:session:sign_in")
    assert signed_in.allowed and signed_in.actor == "user:alice"


def test_the_cookie_is_secure_over_tls(system: System) -> None:
    add_user(system, administrator(system), "alice", "officer", PASSWORD)
    with TestClient(app_for(system), base_url="https://testserver", follow_redirects=False) as tls:
        answer = sign_in(tls)
        assert "secure" in set_cookie_header(answer, "custody_session").lower()


def test_x_forwarded_proto_counts_only_behind_a_trusted_proxy(system: System) -> None:
    add_user(system, administrator(system), "alice", "officer", PASSWORD)
    app = app_for(system)
    with TestClient(app, follow_redirects=False) as plain:
        plain.headers["x-forwarded-proto"] = "https"
        assert "secure" not in set_cookie_header(sign_in(plain), "custody_session").lower()
    system.settings.trusted_proxy = True
    with TestClient(app, follow_redirects=False) as proxied:
        proxied.headers["x-forwarded-proto"] = "https"
        # The client wrote the first address itself; the proxy appended the one it saw.
        proxied.headers["x-forwarded-for"] = "198.51.100.66, 203.0.113.9"
        token = login_form(proxied)
        # The browser behind the proxy speaks https and sends the Secure form cookie back.
        proxied.cookies.set("custody_login_csrf", token, path="/login")
        answer = proxied.post(
            "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token}
        )
        assert "secure" in set_cookie_header(answer, "custody_session").lower()
    assert events(system, "user:session:sign_in")[-1].address == "203.0.113.9"


def test_an_open_redirect_is_refused(client: TestClient) -> None:
    answer = sign_in(client, next="//evil.example/phish")
    assert answer.headers["location"] == "/"


def test_a_wrong_password_is_refused_and_audited(client: TestClient, system: System) -> None:
    answer = sign_in(client, password="not the password")
    assert answer.status_code == 401
    assert "Wrong username or password" in answer.text
    assert "custody_session" not in answer.headers.get("set-cookie", "")
    assert client.get("/api/v1/me").status_code == 401
    (refused,) = events(system, "user:session:sign_in")
    assert not refused.allowed and refused.reason == "wrong username or password"


def test_an_unknown_user_gets_the_same_answer(client: TestClient) -> None:
    answer = sign_in(client, username="nobody")
    assert answer.status_code == 401 and "Wrong username or password" in answer.text


def test_a_username_or_password_too_long_for_anyone_gets_the_form_again(
    client: TestClient,
) -> None:
    """Issue 12 point 7: the validator's JSON answered a long username instead of the page."""
    for username, password in (("x" * 300, PASSWORD), ("alice", "p" * 5000)):
        answer = sign_in(client, username=username, password=password)
        assert answer.status_code == 401, answer.text[:200]
        assert answer.headers["content-type"].startswith("text/html")
        assert "Wrong username or password." in answer.text
    # What the form gives back is bounded, whatever was typed.
    assert "x" * 201 not in sign_in(client, username="x" * 300).text


def test_the_lockout_says_it_once_with_what_to_do(client: TestClient) -> None:
    for _ in range(5):
        sign_in(client, password="wrong password!")
    text = sign_in(client).text
    assert text.count("Too many failed sign-ins") == 1
    assert "try again in 60 seconds, or ask an administrator to unlock your account." in text


def test_sign_in_without_the_form_token_is_refused(client: TestClient, system: System) -> None:
    client.get("/login")
    answer = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert answer.status_code == 403
    assert "custody_session" not in answer.headers.get("set-cookie", "")
    assert events(system, "user:request:csrf")[-1].allowed is False
    forged = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "guessed"}
    )
    assert forged.status_code == 403


def test_failed_sign_ins_are_throttled(
    client: TestClient, system: System, clock: ManualClock
) -> None:
    for _ in range(5):
        assert sign_in(client, password="wrong password!").status_code == 401
    throttled = sign_in(client)  # even the right password is not tried now
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) == 60
    assert "Too many failed sign-ins" in throttled.text
    assert events(system, "user:session:sign_in")[-1].reason.startswith("too many failed")
    # Bob's account is not locked by alice's attacker...
    assert sign_in(client, username="bob").status_code == 303
    client.cookies.clear()
    # ...and alice is kept waiting a minute, not a quarter of an hour: the right password
    # gets in as soon as the short wait is over.
    clock.advance(timedelta(minutes=1))
    assert sign_in(client).status_code == 303


def test_each_failure_past_the_free_ones_doubles_the_wait_up_to_a_quarter_hour(
    client: TestClient, clock: ManualClock
) -> None:
    for _ in range(5):
        assert sign_in(client, password="wrong password!").status_code == 401
    waits = []
    for _ in range(6):
        refused = sign_in(client, password="wrong password!")
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        waits.append(wait)
        clock.advance(timedelta(seconds=wait))
        assert sign_in(client, password="wrong password!").status_code == 401
    assert waits == [60, 120, 240, 480, 900, 900]
    clock.advance(timedelta(minutes=15))
    assert sign_in(client).status_code == 303  # the right password resets the count
    client.cookies.clear()
    assert sign_in(client, password="wrong password!").status_code == 401


def test_an_attacker_hammering_an_account_cannot_lock_out_its_owner_s_own_browser(
    system: System, clock: ManualClock
) -> None:
    """OWASP's device cookies: the browser alice signed in from before is throttled on its
    own, so an attacker who keeps the account's waits at their longest holds up only
    browsers that never signed in as alice."""
    add_user(system, administrator(system), "alice", "officer", PASSWORD)
    app = app_for(system)
    with (
        TestClient(app, follow_redirects=False) as own,
        TestClient(app, follow_redirects=False) as attacker,
    ):
        first = sign_in(own)
        assert first.status_code == 303
        device = set_cookie_header(first, "custody_device").lower()
        assert "httponly" in device and "path=/login" in device
        own.cookies.delete("custody_session")
        failures = 0
        while failures < 12:  # the attacker tries whenever the wait allows, for hours
            answer = sign_in(attacker, password="Winter2026!")
            if answer.status_code == 429:
                clock.advance(timedelta(seconds=int(answer.headers["retry-after"])))
            else:
                assert answer.status_code == 401
                failures += 1
        assert sign_in(attacker, password="Winter2026!").status_code == 429
        assert sign_in(attacker).status_code == 429  # the right password, another browser
        assert sign_in(own).status_code == 303  # alice's own browser: straight in
        own.cookies.delete("custody_session")
        # A device cookie proves only who signed in from it: it does not open bob's door,
        # and a forged one counts for nothing.
        add_user(system, administrator(system, "root2"), "bob", "officer", PASSWORD)
        for _ in range(5):
            assert sign_in(own, username="bob", password="Winter2026!").status_code == 401
        assert sign_in(own, username="bob").status_code == 429
        attacker.cookies.set("custody_device", "cdv_made.up", path="/login")
        assert sign_in(attacker).status_code == 429


def test_a_station_behind_one_address_is_not_locked_out_by_its_typists(
    client: TestClient, clock: ManualClock
) -> None:
    # Twenty officers mistyping from the station's one address: nobody is held up.
    for index in range(20):
        assert (
            sign_in(client, username=f"officer{index}", password="Winter2026!").status_code == 401
        )
    assert sign_in(client, username="bob").status_code == 303
    client.cookies.clear()
    # A spray of a hundred is slowed down, for a short while only.
    for index in range(20, 100):
        assert (
            sign_in(client, username=f"officer{index}", password="Winter2026!").status_code == 401
        )
    sprayed = sign_in(client, username="officer100", password="Winter2026!")
    assert sprayed.status_code == 429 and int(sprayed.headers["retry-after"]) <= 60
    clock.advance(timedelta(minutes=1))
    assert sign_in(client).status_code == 303


def test_a_session_expires_when_idle(client: TestClient, clock: ManualClock) -> None:
    sign_in(client)
    clock.advance(timedelta(minutes=29))
    assert client.get("/api/v1/me").status_code == 200  # use keeps it alive
    clock.advance(timedelta(minutes=29))
    assert client.get("/api/v1/me").status_code == 200
    clock.advance(timedelta(minutes=31))
    expired = client.get("/api/v1/me")
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]


def test_a_session_in_use_ends_after_twelve_hours(client: TestClient, clock: ManualClock) -> None:
    sign_in(client)
    for _ in range(12 * 3 - 1):
        clock.advance(timedelta(minutes=20))
        assert client.get("/api/v1/me").status_code == 200
    clock.advance(timedelta(minutes=20))
    assert client.get("/api/v1/me").status_code == 401


def test_unsafe_requests_with_the_cookie_need_the_csrf_token(
    client: TestClient, system: System
) -> None:
    sign_in(client)
    me = client.get("/api/v1/me").json()
    refused = client.post("/api/v1/me/tokens", json={"name": "script"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_refused"
    assert events(system, "user:request:csrf")[-1].actor == "user:alice"
    made = client.post(
        "/api/v1/me/tokens", json={"name": "script"}, headers={"X-CSRF-Token": me["csrf_token"]}
    )
    assert made.status_code == 201 and made.json()["token"].startswith("cut_")


def test_signing_out_needs_the_form_token_and_ends_the_session(
    client: TestClient, system: System
) -> None:
    sign_in(client)
    old_cookie = client.cookies["custody_session"]
    token = client.get("/api/v1/me").json()["csrf_token"]
    assert client.post("/logout").status_code == 403  # a cross-site form cannot sign you out
    answer = client.post("/logout", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/login?signed_out=1"
    assert 'custody_session=""' in answer.headers["set-cookie"]
    assert "You have signed out" in client.get("/login?signed_out=1").text
    client.cookies.set("custody_session", old_cookie)
    assert client.get("/api/v1/me").status_code == 401  # the old cookie is dead everywhere
    assert events(system, "user:session:sign_out")[-1].actor == "user:alice"


def test_disabling_a_user_ends_their_session(client: TestClient, system: System) -> None:
    sign_in(client)
    users.update_user(system, users.principal_named(system, "admin"), "alice", disabled=True)
    assert client.get("/api/v1/me").status_code == 401
    assert sign_in(client).status_code == 401


def test_pages_send_people_who_are_not_signed_in_to_the_form(system: System) -> None:
    app = create_app(system)

    @app.get("/portal-page", openapi_extra={"x-custody-access": "self"})
    def page(user: CurrentUser) -> dict[str, str]:
        return {"hello": user.username}

    with TestClient(app, follow_redirects=False) as browser:
        answer = browser.get("/portal-page?x=1", headers={"Accept": "text/html"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/portal-page%3Fx%3D1"
        assert browser.get("/portal-page").status_code == 401  # a script gets JSON


def test_a_signed_in_person_visiting_the_form_goes_on(client: TestClient) -> None:
    sign_in(client)
    answer = client.get("/login?next=/recordings")
    assert answer.status_code == 303 and answer.headers["location"] == "/recordings"
