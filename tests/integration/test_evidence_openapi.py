"""The OpenAPI document describes every answer of the evidence and retention APIs: each
operation's success answer has a schema with its fields, not the empty object FastAPI
writes for a route that returns an untyped dict."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from custody.services.system import System
from tests.apps import app_for

AREAS = {"evidence", "retention"}
# Every operation of the two areas, so that the test cannot pass by finding none of them.
EXPECTED = {
    ("GET", "/api/v1/categories"),
    ("POST", "/api/v1/categories"),
    ("PATCH", "/api/v1/categories/{category_id}"),
    ("PUT", "/api/v1/recordings/{recording_id}/categories"),
    ("PATCH", "/api/v1/recordings/{recording_id}/annotations"),
    ("POST", "/api/v1/recordings/{recording_id}/notes"),
    ("POST", "/api/v1/recordings/{recording_id}/bookmarks"),
    ("DELETE", "/api/v1/recordings/{recording_id}/bookmarks/{bookmark_id}"),
    ("POST", "/api/v1/recordings/{recording_id}/evidence"),
    ("POST", "/api/v1/recordings/{recording_id}/evidence/{flag_id}/clear"),
    ("GET", "/api/v1/cases"),
    ("POST", "/api/v1/cases"),
    ("GET", "/api/v1/cases/{case_id}"),
    ("POST", "/api/v1/cases/{case_id}/recordings"),
    ("POST", "/api/v1/cases/{case_id}/recordings/{recording_id}/remove"),
    ("POST", "/api/v1/cases/{case_id}/members"),
    ("POST", "/api/v1/cases/{case_id}/close"),
    ("POST", "/api/v1/cases/{case_id}/reopen"),
    ("POST", "/api/v1/holds"),
    ("GET", "/api/v1/holds"),
    ("POST", "/api/v1/holds/{hold_id}/lift"),
    ("POST", "/api/v1/complaints"),
    ("GET", "/api/v1/complaints"),
    ("GET", "/api/v1/complaints/{reference}"),
    ("POST", "/api/v1/complaints/{reference}/close"),
    ("GET", "/api/v1/compliance"),
    ("POST", "/api/v1/compliance/sign-off"),
    ("GET", "/api/v1/retention/preview"),
    ("POST", "/api/v1/retention/run"),
    ("GET", "/api/v1/retention/pending"),
    ("GET", "/api/v1/retention/review-queue"),
    ("POST", "/api/v1/recordings/{recording_id}/review"),
    ("POST", "/api/v1/recordings/{recording_id}/restore"),
    ("GET", "/api/v1/recordings/{recording_id}/deletion-certificate"),
}
NO_BODY = {("DELETE", "/api/v1/recordings/{recording_id}/bookmarks/{bookmark_id}")}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        found: dict[str, Any] = document["components"]["schemas"][name]
        return found
    return schema


def _problems(document: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    """What is missing from an answer's schema: an object must name its fields."""
    schema = _resolve(document, schema)
    if schema.get("type") == "array":
        return _problems(document, schema.get("items", {}), f"{where}[]")
    if not schema.get("properties"):
        return [f"{where}: no fields in {schema}"]
    return []


def test_every_answer_of_the_evidence_and_retention_apis_has_a_schema_with_its_fields(
    sqlite_system: System,
) -> None:
    with TestClient(app_for(sqlite_system)) as client:
        document = client.get("/api/v1/openapi.json").json()
    operations = {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if AREAS & set(operation.get("tags", []))
    }
    assert set(operations) == EXPECTED
    problems = []
    for (method, path), operation in sorted(operations.items()):
        where = f"{method} {path}"
        success = [status for status in operation["responses"] if status.startswith("2")]
        if len(success) != 1:
            problems.append(f"{where}: success statuses {success}")
            continue
        (status,) = success
        answer = operation["responses"][status]
        if (method, path) in NO_BODY:
            if status != "204" or "content" in answer:
                problems.append(f"{where}: expected 204 with no body, got {status} {answer}")
            continue
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        if not schema:
            problems.append(f"{where}: no JSON schema for {status}")
            continue
        problems += _problems(document, schema, f"{where} {status}")
    assert problems == []


def test_created_things_answer_201(sqlite_system: System) -> None:
    with TestClient(app_for(sqlite_system)) as client:
        paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/categories",
        "/api/v1/recordings/{recording_id}/notes",
        "/api/v1/recordings/{recording_id}/bookmarks",
        "/api/v1/recordings/{recording_id}/evidence",
        "/api/v1/cases",
        "/api/v1/cases/{case_id}/recordings",
        "/api/v1/holds",
        "/api/v1/complaints",
    ):
        assert "201" in paths[path]["post"]["responses"], path
