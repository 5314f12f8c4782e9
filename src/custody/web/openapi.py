"""The OpenAPI document's error answers, derived once from what each operation declares.

Every operation under the API documents the errors it can answer, each with our one
shape (`ErrorBody`: `{"error": {"code", "message"}}`), never FastAPI's own validation
schema. What an operation can answer follows from what it declares:

- its access rule (`x-custody-access`, `custody.web.guard`): anyone but the public may
  be unauthenticated (401); a system rule refuses roles (403); a recording rule conceals
  a recording the person may not know of (404) and refuses openly (403) an action that
  some people who may list a recording may not do to it (the rule table says which);
  a person's change may lack its session's CSRF token (403);
- its input: parameters or a body may be refused by the use case (400) or fail to
  validate (422); a body may pass the server's bound (413, `custody.web.limits`); a
  path parameter names something that may not exist (404); a change to a named
  recording meets its state (409: deleted under the retention rules, stored already);
- what the route adds itself with `responses=errors_for(...)` (`custody.web.errors`),
  for refusals of its use case that none of the above tells.

The tus endpoint's headers and statuses are written by `custody.web.tus.document`.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI

from custody.domain.access import RULES, Action
from custody.web import tus
from custody.web.errors import ErrorBody, phrase_of
from custody.web.guard import ACCESS_KEY, DOCK, PUBLIC, RECORDING, SYSTEM
from custody.web.limits import MAX_BODY_BYTES

SCHEMAS = "#/components/schemas/"
RESPONSES = "#/components/responses/"
ERROR_BODY = SCHEMAS + "ErrorBody"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SAFE = frozenset({"get", "head", "options"})
# FastAPI's own 422 schema: never answered (our handler answers ErrorBody).
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

# Shared answers, one per status: (name in components.responses, why it happens).
ANSWERS: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "The use case refuses the input: a parameter, header or body it cannot take "
        "(invalid_input and its kinds, e.g. a Custody-Reason over 500 characters)",
    ),
    401: (
        "NotAuthenticated",
        "No credentials, or an unknown, revoked or expired token or session, or a token "
        "of the wrong kind (a person's for a dock route, a dock's for a person's)",
    ),
    403: (
        "Forbidden",
        "The rules refuse this person (not_permitted; the refusal is audited), or a "
        "change that rides on the portal's cookie lacks its CSRF token (csrf_refused)",
    ),
    404: (
        "NotFound",
        "No such thing, or one this person may not know of (the same answer, audited)",
    ),
    405: ("MethodNotAllowed", "The path exists, but not with this method (see Allow)"),
    409: (
        "Conflict",
        "The change meets the state of what it changes: e.g. a recording deleted under "
        "the retention rules, a name taken, a case closed already",
    ),
    413: (
        "TooLarge",
        f"The request body is larger than the server takes ({MAX_BODY_BYTES} bytes for "
        "JSON and forms; the tus PATCH is bounded by its Upload-Length instead)",
    ),
    422: (
        "Invalid",
        "The request does not validate (invalid_request: the message names the field; an "
        "integer past 64 bits or text with a NUL character never does), or a dock's "
        "manifest, signature or file does not check out",
    ),
    500: ("ServerError", "A bug: the server logged it (internal_error)"),
}

ERROR_GUIDE = """
## Errors

Every error is JSON `{"error": {"code": "...", "message": "..."}}` (`ErrorBody`) with
its 4xx status; `code` is stable, `message` is for people. Each operation lists the
statuses it can answer. Besides them, any request may be answered 405 (a method the
path does not have, with `Allow`), 413 (a body over the server's bound) and, for a
path that is no operation, 404. A 500 is a bug.
"""


def refused_openly(action: Action) -> bool:
    """Whether someone who may list a recording may still not do `action` to it: then the
    refusal is a 403; otherwise every refusal conceals the recording as a 404."""
    return any(
        Action.LIST in rule.actions and action not in rule.actions
        for rules in RULES.values()
        for rule in rules
    )


def derived_errors(method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from its rule, method and input."""
    rule = str(operation.get(ACCESS_KEY, PUBLIC))
    parameters = operation.get("parameters", [])
    in_path = [p for p in parameters if p.get("in") == "path"]
    body = "requestBody" in operation
    change = method not in SAFE
    statuses: set[int] = set()
    if parameters or body:
        statuses |= {400, 422}
    if body:
        statuses.add(413)
    if in_path:
        statuses.add(404)
    if rule == PUBLIC:
        return statuses
    statuses |= {400, 401}
    if rule != DOCK and change:
        statuses.add(403)  # the portal's cookie without the CSRF token
    if rule.startswith(SYSTEM):
        statuses.add(403)
    # A recording is named by the path, or by the body of a change (a list names none).
    on_recording = rule.startswith(RECORDING) and bool(in_path or change)
    if on_recording:
        statuses.add(404)
        if refused_openly(Action(rule.removeprefix(RECORDING))):
            statuses.add(403)
    if change and (on_recording or any(p.get("name") == "recording_id" for p in in_path)):
        statuses.add(409)
    return statuses


def _error_schemas() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template=SCHEMAS + "{model}")
    found: dict[str, Any] = schema.pop("$defs", {})
    found["ErrorBody"] = schema
    return found


def _components() -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status, (name, why) in ANSWERS.items():
        answer: dict[str, Any] = {
            "description": f"{phrase_of(status)}: {why}",
            "content": {"application/json": {"schema": {"$ref": ERROR_BODY}}},
        }
        if status == 401:
            answer["headers"] = {
                "WWW-Authenticate": {
                    "description": "How to authenticate: Bearer",
                    "required": True,
                    "schema": {"type": "string"},
                }
            }
        if status == 405:
            answer["headers"] = {
                "Allow": {
                    "description": "The methods the path has",
                    "required": True,
                    "schema": {"type": "string"},
                }
            }
        answers[name] = answer
    return answers


def _is_error(status: str) -> bool:
    return status.isdigit() and int(status) >= 400


def _our_shape(response: dict[str, Any]) -> None:
    """An error answer documented by FastAPI or a route: our shape, whatever it said."""
    if "$ref" in response:
        return
    response["content"] = {"application/json": {"schema": {"$ref": ERROR_BODY}}}


def document_errors(document: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The OpenAPI document with every operation's error answers in our shape (in place)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_VALIDATION:
        schemas.pop(name, None)
    schemas.update(_error_schemas())
    components["responses"] = {**components.get("responses", {}), **_components()}
    info = document.setdefault("info", {})
    if ERROR_GUIDE.strip() not in info.get("description", ""):
        info["description"] = (info.get("description", "") + "\n" + ERROR_GUIDE).strip()
    paths: dict[str, Any] = document.get("paths", {})
    for path, item in paths.items():
        if not path.startswith(prefix + "/"):
            continue
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, response in responses.items():
                if _is_error(status):
                    _our_shape(response)
            for status_code in derived_errors(method, operation):
                name = ANSWERS[status_code][0]
                responses.setdefault(str(status_code), {"$ref": RESPONSES + name})
            # FastAPI's default 422 ("Validation Error") gives way to ours.
            if responses.get("422", {}).get("description") == "Validation Error":
                responses["422"] = {"$ref": RESPONSES + ANSWERS[422][0]}
            operation["responses"] = dict(sorted(responses.items()))
    tus.document(paths, prefix, ERROR_BODY)
    return document


def install(app: FastAPI, prefix: str) -> None:
    """Serve the document with its error answers: built on the first request, then kept."""
    build = app.openapi  # FastAPI's own, which keeps what it built in app.openapi_schema
    lock = threading.Lock()
    finished: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        with lock:
            if not finished:
                finished.append(document_errors(build(), prefix))
            return finished[0]

    app.openapi = openapi  # type: ignore[method-assign]
