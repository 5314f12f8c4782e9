"""The OpenAPI document's error answers: derived from each operation's rule and input, in our
one shape, with the tus endpoint's headers and statuses; and the answers that no operation
documents (405, an unknown path, a 500) in the same shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from custody.domain.access import Action
from custody.domain.errors import Conflict, NotFound
from custody.services.system import System
from custody.web.app import API, create_app
from custody.web.errors import errors_for
from custody.web.guard import access
from custody.web.openapi import derived_errors, refused_openly
from tests.apps import app_for
from tests.people import make_force

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    # The document does not depend on the system (it only sits in app.state).
    return app_for(cast(System, None)).openapi()


def statuses(document: dict[str, Any], operation: str) -> set[int]:
    method, path = operation.split(" ", 1)
    return {int(s) for s in document["paths"][API + path][method.lower()]["responses"]}


def test_the_errors_follow_from_the_rule_and_the_input(document: dict[str, Any]) -> None:
    # Public, no input: nothing can go wrong but a method or a path (not operations).
    assert statuses(document, "GET /health") == {200}
    assert statuses(document, "GET /server-key") == {200}
    # A person, no input: 401, and 400 for a Custody-Reason header over its bound.
    assert statuses(document, "GET /me") == {200, 400, 401}
    # A recording named in the path: concealed (404) or refused openly (403).
    assert statuses(document, "GET /recordings/{recording_id}") == {200, 400, 401, 403, 404, 422}
    # A list names no recording: filtered, never refused.
    assert statuses(document, "GET /recordings") == {200, 400, 401, 422}
    # Only someone who may not list a recording is refused LIST: always concealed.
    assert 403 not in statuses(document, "GET /recordings/{recording_id}/deletion-certificate")
    # A change to a recording may meet it deleted (409); its body is bounded (413).
    assert statuses(document, "POST /recordings/{recording_id}/notes") == {
        201,
        400,
        401,
        403,
        404,
        409,
        413,
        422,
    }
    # A system rule refuses roles; a person's change may lack the CSRF token.
    assert {401, 403} <= statuses(document, "GET /users")
    assert 403 in statuses(document, "PUT /me/password")
    # A recording named by the body of a change (a hold) is concealed too.
    assert {403, 404, 409} <= statuses(document, "POST /holds")
    # Docks: no roles, no CSRF; a declared manifest meets a stored recording (409).
    assert statuses(document, "PUT /manifests/{recording_id}") == {
        200,
        400,
        401,
        404,
        409,
        413,
        422,
    }


def test_every_error_answer_has_our_shape(document: dict[str, Any]) -> None:
    shared = document["components"]["responses"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if int(status) < 400 or method == "head":
                    continue
                answer = shared[answer["$ref"].rsplit("/", 1)[1]] if "$ref" in answer else answer
                assert answer["content"] == {"application/json": {"schema": ERROR_BODY}}, (
                    method,
                    path,
                    status,
                )
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert set(schemas["ErrorDetail"]["properties"]) == {"code", "message"}
    assert shared["NotAuthenticated"]["headers"]["WWW-Authenticate"]["required"] is True
    assert shared["MethodNotAllowed"]["headers"]["Allow"]["required"] is True
    assert "## Errors" in document["info"]["description"]


def test_only_actions_some_lister_may_not_do_are_refused_openly() -> None:
    assert not refused_openly(Action.LIST)
    assert refused_openly(Action.STREAM)
    assert refused_openly(Action.PLACE_HOLD)


def test_a_route_adds_what_its_use_case_refuses_besides(sqlite_system: System) -> None:
    app = create_app(sqlite_system)

    @app.post(
        f"{API}/things",
        responses=errors_for(Conflict, NotFound, 416),
        openapi_extra=access("self"),
    )
    def things() -> None:
        return None

    answers = app.openapi()["paths"][f"{API}/things"]["post"]["responses"]
    assert answers["409"]["description"] == "Conflict (conflict)"
    assert answers["409"]["content"]["application/json"]["schema"] == ERROR_BODY
    assert answers["404"]["description"] == "Not Found (not_found)"
    assert answers["416"]["content"]["application/json"]["schema"] == ERROR_BODY
    assert {"400", "401", "403"} <= set(answers)
    # Built once, then kept.
    assert app.openapi() is app.openapi()


def test_derivation_reads_only_what_an_operation_declares() -> None:
    listing = {"x-custody-access": "recording:list", "parameters": [{"in": "query"}]}
    assert derived_errors("get", listing) == {400, 401, 422}
    change: dict[str, Any] = {"x-custody-access": "recording:annotate", "requestBody": {}}
    assert derived_errors("post", change) == {400, 401, 403, 404, 409, 413, 422}


# --- tus -------------------------------------------------------------------------------


def test_tus_requests_and_answers_are_documented(document: dict[str, Any]) -> None:
    uploads = document["paths"][f"{API}/uploads"]
    upload = document["paths"][f"{API}/uploads/{{upload_id}}"]
    headers = {
        method: {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        for method, operation in [*uploads.items(), *upload.items()]
    }
    assert headers["post"].keys() == {"Tus-Resumable", "Upload-Length", "Upload-Metadata"}
    assert headers["patch"].keys() == {
        "Tus-Resumable",
        "Upload-Offset",
        "Upload-Checksum",
        "X-HTTP-Method-Override",
    }
    assert headers["delete"].keys() == {"Tus-Resumable", "X-HTTP-Method-Override"}
    assert headers["head"].keys() == {"Tus-Resumable"}
    assert headers["options"] == {}
    assert headers["patch"]["Tus-Resumable"]["schema"] == {"type": "string", "enum": ["1.0.0"]}
    assert list(upload["patch"]["requestBody"]["content"]) == ["application/offset+octet-stream"]

    def answers(operation: dict[str, Any]) -> dict[int, set[str]]:
        return {
            int(status): set(answer.get("headers", {}))
            for status, answer in operation["responses"].items()
        }

    assert answers(uploads["options"]) == {
        204: {
            "Tus-Resumable",
            "Tus-Version",
            "Tus-Extension",
            "Tus-Max-Size",
            "Tus-Checksum-Algorithm",
        }
    }
    created = answers(uploads["post"])
    assert created[201] == {"Tus-Resumable", "Location", "Upload-Expires"}
    assert set(created) == {201, 400, 401, 412, 413, 422}
    assert created[412] == {"Tus-Resumable", "Tus-Version"}
    head = answers(upload["head"])
    assert head[200] == {
        "Tus-Resumable",
        "Upload-Offset",
        "Upload-Length",
        "Upload-Expires",
        "Upload-Metadata",
        "Cache-Control",
    }
    assert set(head) == {200, 401, 404, 410, 412}
    # A HEAD answer has no body: none is documented.
    assert all("content" not in a for a in upload["head"]["responses"].values())
    patch = answers(upload["patch"])
    assert patch[204] == {"Tus-Resumable", "Upload-Offset", "Upload-Expires", "Custody-Recording"}
    assert set(patch) == {204, 400, 401, 404, 408, 409, 410, 412, 415, 422, 423, 460}
    # A completed upload is terminated too (its recording untouched): no 400.
    assert set(answers(upload["delete"])) == {204, 401, 404, 410, 412}


# --- what no operation documents, but every path keeps ---------------------------------


@pytest.fixture
def client(sqlite_system: System) -> Iterator[TestClient]:
    with TestClient(app_for(sqlite_system)) as test_client:
        yield test_client


def test_a_wrong_method_is_405_in_our_shape_with_allow(client: TestClient) -> None:
    answer = client.put(f"{API}/health")
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert answer.headers["Allow"] == "GET"


def test_an_unknown_path_is_404_in_our_shape(client: TestClient) -> None:
    answer = client.get(f"{API}/no-such-thing")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_a_validation_error_is_422_in_our_shape(sqlite_system: System) -> None:
    force = make_force(sqlite_system)
    with TestClient(app_for(sqlite_system)) as test_client:
        answer = test_client.get(f"{API}/recordings?limit=0", headers=force.auth("erin"))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"
    assert answer.json()["error"]["message"].startswith("query.limit: ")


def test_a_server_error_answers_in_our_shape(sqlite_system: System) -> None:
    app: FastAPI = create_app(sqlite_system)

    @app.get(f"{API}/broken", include_in_schema=False)
    def broken() -> None:
        raise RuntimeError("a secret detail")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        answer = test_client.get(f"{API}/broken")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert "secret" not in answer.text
