"""The answers of recordings, the audit trail and ingest are typed, and say so in the API.

Every operation of these areas that answers JSON has a response schema with properties in
`/api/v1/openapi.json` (not the empty `{}` FastAPI writes for an untyped route); footage,
stills and reports declare their media type; tus answers are headers only. The typed
answers keep the JSON they always had: the same fields, in the same order, and what a
person may not know of is left out of a recording's view rather than sent as null.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from custody.config import Settings
from custody.domain.access import Action, SystemAction, may
from custody.domain.clock import ManualClock
from custody.services.identity import users
from custody.services.recordings import search
from custody.services.retention import sweep
from custody.services.system import System
from tests.apps import app_for
from tests.conftest import START, Installer, RecordedJobs
from tests.people import PEOPLE, Force, make_force, store_recording

API = "/api/v1"

# (method, path) -> how the operation answers when it succeeds.
JSON_ANSWERS = {
    ("get", f"{API}/recordings"),
    ("get", f"{API}/recordings/{{recording_id}}"),
    ("get", f"{API}/recordings/{{recording_id}}/audit"),
    ("get", f"{API}/audit/checkpoints"),
    ("post", f"{API}/audit/checkpoints"),
    ("get", f"{API}/audit/checkpoints/{{checkpoint_id}}/consistency"),
    ("get", f"{API}/audit/events/{{seq}}/proof"),
    ("get", f"{API}/audit/events"),
    ("post", f"{API}/audit/verifications"),
    ("get", f"{API}/audit/verifications"),
    ("get", f"{API}/audit/verifications/{{verification_id}}"),
    ("get", f"{API}/server-key"),
    ("put", f"{API}/manifests/{{recording_id}}"),
    ("get", f"{API}/receipts/{{recording_id}}"),
}
MEDIA_ANSWERS = {
    ("get", f"{API}/recordings/{{recording_id}}/media"): "video/mp4",
    ("get", f"{API}/recordings/{{recording_id}}/thumbnail"): "image/jpeg",
    ("get", f"{API}/recordings/{{recording_id}}/audit.pdf"): "application/pdf",
    ("get", f"{API}/audit/events.csv"): "text/csv",
}
HEADERS_ONLY = {
    ("options", f"{API}/uploads"),
    ("post", f"{API}/uploads"),
    ("head", f"{API}/uploads/{{upload_id}}"),
    ("patch", f"{API}/uploads/{{upload_id}}"),
    ("delete", f"{API}/uploads/{{upload_id}}"),
}
# Paths that belong to these areas alone: every operation under them must be listed above.
OWN_PREFIXES = (
    f"{API}/audit",
    f"{API}/uploads",
    f"{API}/manifests",
    f"{API}/receipts",
    f"{API}/server-key",
)
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}

SUMMARY = [
    "id",
    "camera",
    "officer",
    "started_at",
    "ended_at",
    "pre_event_seconds",
    "sha256",
    "size",
    "stored_at",
    "state",
    "duration_seconds",
    "video_codec",
    "audio_codec",
    "width",
    "height",
    "has_thumbnail",
    "media_error",
]
LIVE = [
    *SUMMARY,
    "receipt",
    "gps_track",
    "manifest",
    "title",
    "reference",
    "tags",
    "notes",
    "bookmarks",
    "categories",
    "access_class",
    "evidence",
    "delete_due_at",
    "pending_deletion",
    "retention",
]
TOMBSTONE = [*SUMMARY, "receipt", "deleted_at", "objects_removed_at", "deletion_certificate"]


@pytest.fixture
def force(system: System) -> Force:
    return make_force(system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory, install: Installer) -> dict[str, Any]:
    """The OpenAPI document, as a client fetches it: fetched once for the module's tests, as
    it does not depend on the database."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("answers") / "data")
    system = install(settings, clock=ManualClock(START), jobs=RecordedJobs())
    try:
        with TestClient(app_for(system)) as test_client:
            answer = test_client.get(f"{API}/openapi.json")
    finally:
        system.engine.dispose()
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.removeprefix("#/components/schemas/")
    resolved: dict[str, Any] = document["components"]["schemas"][name]
    return resolved


def _objects(document: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas an answer may be: itself, each of a union, or a list's items."""
    schema = _resolve(document, schema)
    if "anyOf" in schema or "oneOf" in schema:
        return [_resolve(document, s) for s in schema.get("anyOf", schema.get("oneOf"))]
    if schema.get("type") == "array":
        return [_resolve(document, schema["items"])]
    return [schema]


def _success(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [answer for code, answer in operation["responses"].items() if code.startswith("2")]


def test_every_operation_of_these_areas_is_accounted_for(document: dict[str, Any]) -> None:
    listed = JSON_ANSWERS | set(MEDIA_ANSWERS) | HEADERS_ONLY
    present = {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in METHODS
    }
    assert listed <= present, listed - present
    own = {(method, path) for method, path in present if path.startswith(OWN_PREFIXES)}
    assert own <= listed, f"answers not checked here: {own - listed}"


@pytest.mark.parametrize(("method", "path"), sorted(JSON_ANSWERS))
def test_a_json_answer_has_a_schema_with_properties(
    document: dict[str, Any], method: str, path: str
) -> None:
    answers = _success(document["paths"][path][method])
    assert answers, f"{method} {path} documents no success"
    with_body = [answer for answer in answers if "content" in answer]
    assert with_body, f"{method} {path} documents no body"
    for answer in with_body:
        schema = answer["content"]["application/json"]["schema"]
        assert schema, f"{method} {path} answers an untyped {{}}"
        for shape in _objects(document, schema):
            assert shape.get("properties"), f"{method} {path}: {shape} has no properties"


@pytest.mark.parametrize(("method", "path"), sorted(MEDIA_ANSWERS))
def test_footage_stills_and_reports_declare_their_media_type(
    document: dict[str, Any], method: str, path: str
) -> None:
    for answer in _success(document["paths"][path][method]):
        assert list(answer.get("content", {})) == [MEDIA_ANSWERS[(method, path)]], answer


@pytest.mark.parametrize(("method", "path"), sorted(HEADERS_ONLY))
def test_tus_answers_promise_no_body(document: dict[str, Any], method: str, path: str) -> None:
    for answer in _success(document["paths"][path][method]):
        assert "content" not in answer, f"{method} {path} promises a body it never sends"


@pytest.mark.parametrize("who", [name for name in PEOPLE if name not in ("root",)])
def test_a_recording_reads_as_it_always_did(force: Force, client: TestClient, who: str) -> None:
    """The fields in their order; cases and holds absent (never null) for whom they are not."""
    recording = store_recording(force)
    answer = client.get(f"{API}/recordings/{recording}", headers=force.auth(who))
    if answer.status_code == 404:  # the footage is not theirs to know of
        return
    assert answer.status_code == 200, answer.text
    body = answer.json()
    principal = users.principal_named(force.system, who)
    expected = [*LIVE]
    if may(principal.viewer(), SystemAction.VIEW_CASES):
        expected.append("cases")
    if Action.VIEW_HOLDS in search.actions_on(force.system, principal, recording):
        expected.append("holds")
    assert list(body) == expected
    assert list(body["retention"]) == [
        "delete_due_at",
        "pending_deletion",
        "rule",
        "reason",
        "review_due_at",
        "last_reviewed_at",
    ]
    assert list(body["receipt"]) == [
        "format",
        "recording_id",
        "sha256",
        "signature",
        "size",
        "stored_at",
    ]

    listed = client.get(f"{API}/recordings", headers=force.auth(who)).json()
    # Paging grew fields after the first four (a total counted only to a bound past the page
    # says so, the keyset cursors, and whether a next page exists, computed last); the first
    # four keep their names and order.
    assert list(listed) == [
        "items",
        "total",
        "limit",
        "offset",
        "total_exact",
        "cursor",
        "next_cursor",
        "has_next",
    ]
    assert [list(item) for item in listed["items"]] == [SUMMARY]


def test_a_deleted_recording_reads_as_its_tombstone(
    force: Force, client: TestClient, clock: ManualClock
) -> None:
    recording = store_recording(force)
    clock.advance(timedelta(days=40))
    sweep.sweep(force.system)
    body = client.get(f"{API}/recordings/{recording}", headers=force.auth("bob")).json()
    assert list(body) == TOMBSTONE
    assert body["state"] == "deleted" and body["deletion_certificate"]


def test_a_list_pages_up_to_the_shared_bound(force: Force, client: TestClient) -> None:
    store_recording(force)
    assert client.get(
        f"{API}/recordings", params={"limit": 500}, headers=force.auth("bob")
    ).is_success
    refused = client.get(f"{API}/recordings", params={"limit": 501}, headers=force.auth("bob"))
    assert refused.status_code in (400, 422)
