"""The whole API against its OpenAPI document, with Schemathesis, as three callers.

Every operation under /api/v1 is called with data generated from its own documentation,
on things that exist and on things that do not, as an administrator, as professional
standards (who may act on any footage) and as a dock. An answer fails the run if it is a
5xx, if its status is not documented, or if its content type, headers or body do not
conform to what is documented for that status. A second, static test asks that every
JSON answer the document promises has a schema (a typed answer).

Each (caller, operation) is its own test, so a failure names its operation. The run is
bounded and deterministic: a fixed number of examples per operation, Hypothesis
derandomized, no shrinking, no example database, the app in process through
Schemathesis' ASGI transport (real HTTP messages, no socket), a fresh SQLite force per
caller, built once, and a clock that does not move.

Checks left out, and why: `positive_data_acceptance` (valid data is still refused on
purpose: a case closed already, an id that names nothing, the rules), `negative_data_
rejection` (only positive data is generated here), `ignored_auth` (the route-guard test
probes every route without credentials and with the wrong kind), `use_after_free` and
`ensure_resource_availability` (stateful links, not run), `missing_required_header` and
`unsupported_method` (coverage phase, not run; 405 is tested in test_error_contract.py),
`max_response_time` (timing is no contract on a shared CI machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.openapi.checks import (
    JsonSchemaError,
    UndefinedContentType,
    UndefinedStatusCode,
)
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from custody.domain.access import SYSTEM_RULES, SystemAction
from custody.services.system import System
from custody.web.app import API
from custody.web.guard import ACCESS_KEY, PUBLIC, SYSTEM
from custody.web.guard import DOCK as GUARD_DOCK
from tests.apps import app_for
from tests.contract_force import CALLERS, PARAMETER, ContractWorld, Explicit, build_world, explicit

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Per (caller, operation): enough to reach the documented branches on a real and an
# unknown id, few enough that the three runs take seconds. A caller the route's guard
# turns away before it reads anything (a dock at a person's route, a role a system rule
# refuses) answers the same to every request: one is enough.
EXAMPLES = 6
# One fixed seed, whatever the test's source: the same examples on every run.
SEED = 20261001
SETTINGS = settings(
    max_examples=EXAMPLES,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
# A tus chunk is raw bytes, sent as Schemathesis sends application/octet-stream. (The
# PATCH runs like any operation: on the dock's half-finished upload and on an unknown
# one, with generated offsets, checksums and bytes; its 204, 400, 404, 409, 410 and 460
# answers are all documented. Its streaming is tested in test_tus_protocol.py.)
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


def _document() -> dict[str, Any]:
    # The document does not depend on the system behind the app (the app only keeps it
    # in app.state), so the operations are known when the tests are collected.
    return app_for(cast(System, None)).openapi()


DOCUMENT = _document()
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in DOCUMENT["paths"].items()
    if path.startswith(API + "/")
    for method in item
    if method in ("get", "put", "post", "delete", "patch", "head", "options")
]


# --- what others' work in progress still does against the contract ----------------------
# Each entry is expected to fail, strictly, and only in the way it says: once the work
# lands the test passes, the strict xfail fails, and the entry goes.


@dataclass(frozen=True)
class Awaited:
    """Failures an operation shows until someone else's change lands: which, and to whom."""

    failures: frozenset[str]
    callers: frozenset[str]
    reason: str


def awaited(failures: set[str], callers: set[str], reason: str) -> Awaited:
    return Awaited(frozenset(failures), frozenset(callers), reason)


ADMIN, PS, DOCK = "administrator", "professional_standards", "dock"
# What the run meets today in operations others own. A failure is named by its kind:
# "status 409" (undocumented), "content-type video/mp4" (undocumented), "raises TypeError"
# (the app raised: a 500).
# None today: every operation keeps its contract with every caller.
AWAITED: dict[str, Awaited] = {}


def _signature(failure: Failure) -> str:
    if isinstance(failure, UndefinedStatusCode):
        return f"status {failure.status_code}"
    if isinstance(failure, UndefinedContentType):
        return f"content-type {failure.content_type}"
    return type(failure).__name__


class AwaitedFailure(AssertionError):
    """The run met only failures listed in AWAITED for this operation."""


def _cases() -> Iterator[Any]:
    for caller in CALLERS:
        for operation in OPERATIONS:
            marks = []
            expected = AWAITED.get(operation)
            if expected is not None and caller in expected.callers:
                marks.append(
                    pytest.mark.xfail(strict=True, raises=AwaitedFailure, reason=expected.reason)
                )
            yield pytest.param(caller, operation, id=f"{caller}:{operation}", marks=marks)


# --- the run ----------------------------------------------------------------------------


@dataclass
class Run:
    """One caller's force and the schema Schemathesis generates from."""

    world: ContractWorld
    schema: Any
    # One, empty, per run: examples come from each operation's own schema (no constants
    # mined from the whole document, which would make every strategy scan it again and
    # let other areas' answer schemas change this operation's examples).
    feedback: FeedbackSources


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """A force per caller, built when its first operation runs and kept for the rest."""
    built: dict[str, Run] = {}
    try:
        yield built
    finally:
        for run in built.values():
            run.world.system.engine.dispose()


def run_for(runs: dict[str, Run], caller: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    if caller not in runs:
        world = build_world(tmp_path_factory.mktemp(caller) / "data", caller)
        schema = schemathesis.openapi.from_asgi(
            f"{API}/openapi.json", world.app, config=schemathesis.Config()
        )
        runs[caller] = Run(world, schema, FeedbackSources())
    return runs[caller]


def _explicit_case(api_operation: Any, world: ContractWorld, path: str, request: Explicit) -> Any:
    values = world.real(path) if request.real else world.unknown(path)
    if request.body is None:
        return api_operation.Case(path_parameters=values, headers=request.headers)
    kind = "application/json"
    if isinstance(request.body, bytes):
        kind = "application/offset+octet-stream"
    return api_operation.Case(
        path_parameters=values, headers=request.headers, body=request.body, media_type=kind
    )


def turned_away(caller: str, rule: str) -> bool:
    """Whether the route's guard refuses this caller whatever the request says."""
    if rule == PUBLIC:
        return False
    if (caller == DOCK) != (rule == GUARD_DOCK):
        return True
    if rule.startswith(SYSTEM):
        return caller not in SYSTEM_RULES[SystemAction(rule.removeprefix(SYSTEM))]
    return False


@pytest.mark.parametrize(("caller", "operation"), list(_cases()))
def test_every_answer_keeps_the_documented_contract(
    runs: dict[str, Run], tmp_path_factory: pytest.TempPathFactory, caller: str, operation: str
) -> None:
    run = run_for(runs, caller, tmp_path_factory)
    world = run.world
    method, path = operation.split(" ", 1)
    api_operation = run.schema[path][method]
    strategy = api_operation.as_strategy(feedback=run.feedback)
    if PARAMETER.search(path):
        strategy = st.one_of(
            api_operation.as_strategy(path_parameters=world.real(path), feedback=run.feedback),
            api_operation.as_strategy(path_parameters=world.unknown(path), feedback=run.feedback),
        )
    expected = AWAITED.get(operation)
    met: set[str] = set()
    rule = DOCUMENT["paths"][path][method.lower()].get(ACCESS_KEY, PUBLIC)
    examples = 1 if turned_away(caller, rule) else EXAMPLES

    answered: set[int] = set()

    def answers_as_documented(case: Any) -> None:
        try:
            answered.add(case.call_and_validate(headers=world.auth, checks=CHECKS).status_code)
        except FailureGroup as group:
            found = {_signature(failure) for failure in group.exceptions}
            if expected is None or not found <= expected.failures:
                raise
            met.update(found)
        except Exception as exc:  # the app raised: in production, a 500
            if expected is None or f"raises {type(exc).__name__}" not in expected.failures:
                raise
            met.add(f"raises {type(exc).__name__}")

    test = given(case=strategy)(answers_as_documented)
    # Hypothesis runs explicit examples top to bottom: the last one applied runs first.
    for request in reversed(explicit(world).get(operation, [])):
        test = example(case=_explicit_case(api_operation, world, path, request))(test)
    seed(SEED)(settings(SETTINGS, max_examples=examples)(test))()
    if rule != PUBLIC and not turned_away(caller, rule):
        # Not a vacuous pass: the caller's credentials opened the route at least once.
        assert answered - {401}, f"{caller} was never let in to {operation}: {answered}"
    if met:
        raise AwaitedFailure(f"{operation} still meets {sorted(met)}: {expected}")


# --- the document -----------------------------------------------------------------------


def typed(schema: Any) -> bool:
    """Whether a documented JSON answer says what it holds: a model, named fields, or a list
    or choice of those (FastAPI documents an untyped `dict[str, Any]` as a bare object)."""
    if not isinstance(schema, dict):
        return False
    if "$ref" in schema or "properties" in schema:
        return True
    if schema.get("type") == "array":
        return typed(schema.get("items"))
    return any(typed(s) for key in ("anyOf", "oneOf", "allOf") for s in schema.get(key, []))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_json_answer_has_a_schema(operation: str) -> None:
    method, path = operation.split(" ", 1)
    responses = DOCUMENT["paths"][path][method.lower()]["responses"]
    untyped = [
        status
        for status, answer in responses.items()
        if status.startswith("2")
        and "application/json" in answer.get("content", {})
        and not typed(answer["content"]["application/json"].get("schema"))
    ]
    assert not untyped, f"{operation} answers JSON with no schema for {untyped}"


def test_the_run_covers_every_operation_of_the_api() -> None:
    # A new route is in the run as soon as it is in the document.
    assert len(OPERATIONS) == len(set(OPERATIONS)) >= 80
    assert {"PATCH /api/v1/uploads/{upload_id}", "OPTIONS /api/v1/uploads"} <= set(OPERATIONS)
    assert set(AWAITED) <= set(OPERATIONS)


def test_the_run_fails_on_answers_the_document_does_not_promise() -> None:
    """The checks are not vacuous: an undocumented status and a body that breaks its
    schema both fail, whatever the rest of the contract says."""
    app = FastAPI()

    class Thing(BaseModel):
        name: str

    @app.get("/status", response_model=Thing)
    def wrong_status() -> JSONResponse:
        return JSONResponse({"name": "x"}, 418)

    @app.get("/body", response_model=Thing)
    def wrong_body() -> JSONResponse:
        return JSONResponse({"label": "x"}, 200)

    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config())
    for path, failure in (("/status", UndefinedStatusCode), ("/body", JsonSchemaError)):
        with pytest.raises(FailureGroup) as caught:
            schema[path]["GET"].Case().call_and_validate(checks=CHECKS)
        assert [type(f) for f in caught.value.exceptions] == [failure]
