"""Every route of the API and the portal declares the rule that guards it, and is guarded by it.

The check reads the declarations (`custody.web.guard.check_routes`); the probes then
call every guarded route with no credentials, with the wrong kind of token and as
a person whose role or relationship the rules refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from sqlalchemy import select

from custody.db.models import AuditEvent
from custody.domain.access import SYSTEM_RULES, Action, SystemAction
from custody.domain.principal import Principal
from custody.services.system import System
from custody.web.app import create_app
from custody.web.deps import CurrentUser, Permit
from custody.web.guard import (
    DOCK,
    PUBLIC,
    RECORDING,
    SYSTEM,
    _routes,
    access,
    check_routes,
    declared_rule,
    mark,
)
from tests.apps import app_for
from tests.people import Force, make_force, store_recording

PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


@pytest.fixture
def force(sqlite_system: System) -> Force:
    return make_force(sqlite_system)


@pytest.fixture
def recording(force: Force) -> str:
    return store_recording(force)


@pytest.fixture
def app(force: Force) -> FastAPI:
    return app_for(force.system)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def guarded_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path, rule) for every API route whose rule is not public."""
    found = []
    for path, route in _routes(list(app.routes)):
        rule = declared_rule(route)
        if not isinstance(route, APIRoute) or rule in (None, PUBLIC):
            continue
        for method in sorted(route.methods):
            found.append((method, path, str(rule)))
    return found


def url(path: str, recording_id: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "recording_id":
            return recording_id
        if name == "username":
            return "alice"
        if name == "upload_id":
            return "0" * 32
        return "1"

    return PARAM.sub(value, path)


def test_every_route_declares_a_rule_that_it_enforces(app: FastAPI) -> None:
    assert check_routes(app) == []


def test_the_rule_is_published_in_the_openapi_document(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/recordings/{recording_id}/audit"]["get"]
    assert operation["x-custody-access"] == "recording:view_audit"


def test_an_unguarded_route_fails_the_check(force: Force) -> None:
    app = create_app(force.system)

    @app.get("/api/v1/naked")
    def naked() -> dict[str, str]:
        return {}

    @app.get("/portal/page", include_in_schema=False)
    def portal_page(user: CurrentUser) -> dict[str, str]:
        return {}

    problems = check_routes(app)
    assert any("/api/v1/naked: no access rule declared" in p for p in problems)
    assert any("/portal/page: no access rule declared" in p for p in problems)


def test_a_declared_rule_must_be_backed_by_authentication(force: Force) -> None:
    app = create_app(force.system)

    @app.get("/api/v1/pretend", openapi_extra=access(Action.STREAM))
    def pretend() -> dict[str, str]:
        return {}

    @app.get("/api/v1/dockish", openapi_extra=access(DOCK))
    def dockish(user: CurrentUser) -> dict[str, str]:
        return {}

    @app.get("/api/v1/mismatch", openapi_extra=access(SystemAction.MANAGE_USERS))
    def mismatch(
        user: Annotated[Principal, Depends(Permit(SystemAction.VIEW_FLEET))],
    ) -> dict[str, str]:
        return {}

    @app.get("/api/v1/typo", openapi_extra={"x-custody-access": "recording:watch"})
    def typo(user: CurrentUser) -> dict[str, str]:
        return {}

    problems = "\n".join(check_routes(app))
    assert "/api/v1/pretend: declared 'recording:stream' but authenticates nobody" in problems
    assert "/api/v1/dockish: declared 'dock' but does not ask for a dock token" in problems
    assert "/api/v1/mismatch: declared 'system:manage_users' but its Permit asks about" in problems
    assert "/api/v1/typo: 'recording:watch' is not an access rule" in problems


def test_unknown_rules_cannot_even_be_declared() -> None:
    with pytest.raises(ValueError):
        access("recording:watch")
    with pytest.raises(ValueError):
        access("everyone")


def test_mounted_files_must_be_marked_public(force: Force, tmp_path: Any) -> None:
    app = create_app(force.system)
    app.mount("/static", StaticFiles(directory=tmp_path), name="static")
    assert any("/static" in p for p in check_routes(app))
    mark(app.routes[-1], PUBLIC)
    assert check_routes(app) == []
    with pytest.raises(ValueError):
        mark(app.routes[-1], Action.VIEW)


def test_every_guarded_route_refuses_a_caller_without_credentials(
    app: FastAPI, client: TestClient, recording: str
) -> None:
    wrong = []
    for method, path, _ in guarded_routes(app):
        answer = client.request(method, url(path, recording))
        if answer.status_code != 401:
            wrong.append(f"{method} {path}: {answer.status_code}")
    assert not wrong, wrong


def test_dock_tokens_open_dock_routes_only_and_user_tokens_never_dock_routes(
    app: FastAPI, client: TestClient, force: Force, recording: str
) -> None:
    wrong = []
    for method, path, rule in guarded_routes(app):
        token = force.tokens["erin"] if rule == DOCK else force.dock_token
        answer = client.request(
            method, url(path, recording), headers={"Authorization": f"Bearer {token}"}
        )
        if answer.status_code != 401:
            wrong.append(f"{method} {path} ({rule}): {answer.status_code}")
    assert not wrong, wrong


def refusals(force: Force) -> int:
    with force.system.unit_of_work() as uow:
        return len(
            uow.session.scalars(select(AuditEvent.seq).where(AuditEvent.allowed.is_(False))).all()
        )


def test_every_system_route_refuses_a_role_the_rules_refuse_and_audits_it(
    app: FastAPI, client: TestClient, force: Force, recording: str
) -> None:
    roles = {
        "officer": "alice",
        "fleet_manager": "gus",
        "auditor": "audrey",
        "administrator": "root",
        "investigator": "dana",
    }
    wrong = []
    for method, path, rule in guarded_routes(app):
        if not rule.startswith(SYSTEM):
            continue
        action = SystemAction(rule.removeprefix(SYSTEM))
        role = next(r for r in roles if r not in SYSTEM_RULES[action])
        before = refusals(force)
        answer = client.request(
            method, url(path, recording), json={}, headers=force.auth(roles[role])
        )
        if answer.status_code != 403 or refusals(force) != before + 1:
            wrong.append(f"{method} {path} as {role}: {answer.status_code}")
    assert not wrong, wrong


def test_recording_routes_do_not_tell_a_stranger_the_footage_exists(
    app: FastAPI, client: TestClient, force: Force, recording: str
) -> None:
    # charlie is an officer on another team: every recording route answers as if the
    # footage did not exist, and the attempt is audited against the recording.
    wrong = []
    reads = [
        (m, p, r)
        for m, p, r in guarded_routes(app)
        if r.startswith(RECORDING) and "{recording_id}" in p and m == "GET"
    ]
    assert len(reads) >= 6
    for method, path, rule in reads:
        before = refusals(force)
        answer = client.request(method, url(path, recording), headers=force.auth("charlie"))
        if answer.status_code != 404 or refusals(force) != before + 1:
            wrong.append(f"{method} {path} ({rule}): {answer.status_code}")
    assert not wrong, wrong


def test_a_stated_reason_reaches_the_rules_and_the_audit_trail(
    client: TestClient, force: Force, recording: str
) -> None:
    without = client.get(f"/api/v1/recordings/{recording}", headers=force.auth("dana"))
    assert without.status_code == 404
    reason = "Op KESTREL: suspect seen on Mare Street"
    stated = client.get(
        f"/api/v1/recordings/{recording}", headers={**force.auth("dana"), "Custody-Reason": reason}
    )
    assert stated.status_code == 200
    with force.system.unit_of_work() as uow:
        last = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert last is not None and last.actor == "user:dana" and last.reason == reason


def test_the_tus_endpoint_is_for_docks(app: FastAPI) -> None:
    # Only capability discovery (OPTIONS) is public; every other tus request needs a dock.
    for method, path, rule in guarded_routes(app):
        if path.startswith("/api/v1/uploads"):
            assert rule == DOCK, (method, path)
