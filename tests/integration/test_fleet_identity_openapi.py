"""The OpenAPI document describes every answer of the fleet and identity APIs: each JSON
answer has a schema with its fields (not the empty `{}`, or the bare object, FastAPI writes
for a route that returns an untyped dict), and an answer without a body says so."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from custody.services.system import System
from tests.apps import app_for

AREA = tuple(
    f"/api/v1/{part}"
    for part in (
        "officers",
        "cameras",
        "docks",
        "fleet",
        "me",
        "users",
        "password-resets",
        "role-requests",
    )
)
# Every operation of the area that answers JSON, and those that answer 204 with no body.
JSON_ANSWERS = 31
EMPTY_ANSWERS = 10


def described(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether a schema names its fields: through a $ref, properties, or items or variants
    that do."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return described(components[name], components)
    if "anyOf" in schema or "oneOf" in schema:
        variants = schema.get("anyOf", schema.get("oneOf", []))
        return bool(variants) and all(described(v, components) for v in variants)
    if schema.get("type") == "array":
        return described(schema.get("items", {}), components)
    return bool(schema.get("properties"))


def test_every_answer_of_the_area_is_described(sqlite_system: System) -> None:
    document = TestClient(app_for(sqlite_system)).get("/api/v1/openapi.json").json()
    components = document["components"]["schemas"]
    described_answers, empty_answers, undescribed = [], [], []
    for path, operations in document["paths"].items():
        if not path.startswith(AREA):
            continue
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
            assert len(successes) == 1, name
            [(status, response)] = successes.items()
            content = response.get("content", {})
            if status == "204":
                assert content == {}, name
                empty_answers.append(name)
                continue
            schema = content.get("application/json", {}).get("schema")
            if schema is None or not described(schema, components):
                undescribed.append(name)
            else:
                described_answers.append(name)
    assert undescribed == []
    # Not vacuous: every route of the area was looked at.
    assert (len(described_answers), len(empty_answers)) == (JSON_ANSWERS, EMPTY_ANSWERS)


def test_the_check_refuses_an_untyped_answer() -> None:
    # The check above refuses what FastAPI writes for an untyped dict.
    untyped = {"type": "object", "additionalProperties": True, "title": "Response"}
    assert not described(untyped, {}) and not described({}, {})
    assert described({"$ref": "#/components/schemas/X"}, {"X": {"properties": {"a": {}}}})
