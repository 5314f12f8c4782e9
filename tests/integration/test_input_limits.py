"""Bodies are bounded before they are parsed; the tus PATCH alone streams past the bound,
and a client that cannot send PATCH or DELETE may say so with X-HTTP-Method-Override.
What a request says must be storable: no integer past 64 bits, no text with NUL."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from custody.db.models import AuditEvent
from custody.services.system import System
from custody.web.limits import MAX_BODY_BYTES, MAX_INTEGER, BodyLimit
from tests.apps import app_for
from tests.people import Force, make_force

TUS = {"Tus-Resumable": "1.0.0"}
OVER = MAX_BODY_BYTES + 1


@pytest.fixture
def force(sqlite_system: System) -> Force:
    return make_force(sqlite_system)


@pytest.fixture
def client(force: Force) -> Iterator[TestClient]:
    with TestClient(app_for(force.system)) as test_client:
        yield test_client


def events(force: Force) -> int:
    with force.system.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def too_large(answer: httpx.Response) -> bool:
    return answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"


def test_an_oversized_json_body_is_413_before_anything_reads_it(
    client: TestClient, force: Force
) -> None:
    before = events(force)
    body = b'{"reference": "CR-9", "title": "' + b"x" * MAX_BODY_BYTES + b'"}'
    answer = client.post(
        "/api/v1/cases",
        content=body,
        headers={**force.auth("erin"), "Content-Type": "application/json"},
    )
    assert too_large(answer)
    assert answer.headers["Connection"] == "close"
    # Not even the caller's token was looked at: nothing happened, nothing was audited.
    assert events(force) == before
    assert client.get("/api/v1/cases", headers=force.auth("erin")).json()["items"] == []


def test_an_oversized_form_is_413(client: TestClient) -> None:
    answer = client.post("/login", data={"username": "x" * OVER, "password": "p"})
    assert too_large(answer)


def test_a_chunked_body_that_says_no_length_is_cut_off_at_the_bound(
    client: TestClient, force: Force
) -> None:
    def pieces() -> Iterator[bytes]:
        yield b'{"reference": "CR-9", "title": "'
        for _ in range(MAX_BODY_BYTES // (1024 * 1024) + 1):
            yield b"x" * 1024 * 1024

    answer = client.post(
        "/api/v1/cases",
        content=pieces(),
        headers={**force.auth("erin"), "Content-Type": "application/json"},
    )
    assert "content-length" not in answer.request.headers
    assert too_large(answer)
    assert client.get("/api/v1/cases", headers=force.auth("erin")).json()["items"] == []


def test_a_body_within_the_bound_is_parsed_as_ever(client: TestClient, force: Force) -> None:
    answer = client.post(
        "/api/v1/cases",
        json={"reference": "CR-9", "title": "x" * 200},
        headers=force.auth("erin"),
    )
    assert answer.status_code == 201, answer.text


def test_a_csv_import_has_its_own_larger_bound(client: TestClient, force: Force) -> None:
    # Past the JSON bound, within the import's: the import itself reads and refuses it.
    rows = b"warrant_number,name,rank,unit\n" + b"x" * OVER
    answer = client.post(
        "/api/v1/fleet/import",
        content=rows,
        headers={**force.auth("gus"), "Content-Type": "text/csv"},
    )
    assert answer.status_code == 422, answer.text


def test_a_tus_chunk_streams_past_the_bound(client: TestClient, force: Force) -> None:
    data = os.urandom(OVER)
    document = force.camera.manifest(data)
    rid = document["recording_id"]
    dock = {"Authorization": f"Bearer {force.dock_token}"}
    assert client.put(f"/api/v1/manifests/{rid}", json=document, headers=dock).status_code == 200
    metadata = f"recording_id {base64.b64encode(rid.encode()).decode()}"
    created = client.post(
        "/api/v1/uploads",
        headers={**TUS, **dock, "Upload-Length": str(len(data)), "Upload-Metadata": metadata},
    )
    answer = client.patch(
        created.headers["Location"],
        content=data,
        headers={
            **TUS,
            **dock,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert answer.status_code == 204, answer.text
    assert answer.headers["Custody-Recording"] == rid


def test_the_bound_holds_whatever_the_app_does_with_the_body() -> None:
    """The middleware alone, on an app that reads bodies its own way."""

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"length": len(await request.body())})

    app = BodyLimit(
        Starlette(routes=[Route("/echo", echo, methods=["POST"])]),
        limit=10,
        limits={"/big": 100},
        unbounded=[("PUT", "/echo")],
    )
    with TestClient(app) as test_client:
        assert test_client.post("/echo", content=b"x" * 10).json() == {"length": 10}
        assert too_large(test_client.post("/echo", content=b"x" * 11))
        assert too_large(test_client.post("/echo", content=iter([b"x" * 6, b"x" * 6])))
    assert app.bound_for({"type": "http", "method": "POST", "path": "/big"}) == 100
    assert app.bound_for({"type": "http", "method": "PUT", "path": "/echo/1"}) is None


# --- numbers and text a database can hold ---------------------------------------------

PAST = str(MAX_INTEGER + 1)


def refused(answer: httpx.Response, where: str) -> bool:
    error = answer.json()["error"]
    return (
        answer.status_code == 422
        and error["code"] == "invalid_request"
        and error["message"].startswith(f"{where}: ")
    )


def test_an_integer_past_64_bits_is_refused_wherever_it_is(
    client: TestClient, force: Force
) -> None:
    erin = force.auth("erin")
    assert refused(client.get(f"/api/v1/cases/{PAST}", headers=erin), "path.case_id")
    assert refused(client.get(f"/api/v1/recordings?offset={PAST}", headers=erin), "query.offset")
    assert refused(client.get(f"/api/v1/recordings?offset=-{PAST}", headers=erin), "query.offset")
    dock = {"Authorization": f"Bearer {force.dock_token}"}
    report = {"serial": "BWV-0001", "bay": "1", "free_bytes": int(PAST)}
    answer = client.post("/api/v1/docks/reports", json=report, headers=dock)
    assert refused(answer, "body.free_bytes")
    # The largest that fits is taken as any other number: a page that deep is asked for by
    # cursor, and the refusal says so.
    at_bound = client.get(f"/api/v1/recordings?offset={MAX_INTEGER}", headers=erin)
    assert at_bound.status_code == 400, at_bound.text
    assert "cursor" in at_bound.json()["error"]["message"]
    assert client.get(f"/api/v1/cases/{MAX_INTEGER}", headers=erin).status_code == 404


def test_text_with_a_nul_character_is_refused_wherever_it_is(
    client: TestClient, force: Force
) -> None:
    erin = force.auth("erin")
    assert refused(client.get("/api/v1/recordings/a%00b", headers=erin), "path.recording_id")
    assert refused(client.get("/api/v1/recordings?officer=a%00b", headers=erin), "query.officer")
    case = {"reference": "CR-9", "title": "a\u0000b", "members": []}
    assert refused(client.post("/api/v1/cases", json=case, headers=erin), "body.title")
    nested = {"kind": "legal", "reason": "r", "recording_ids": ["a\u0000"]}
    assert refused(client.post("/api/v1/holds", json=nested, headers=erin), "body.recording_ids.0")
    form = client.post("/login", data={"username": "a\x00b", "password": "p"})
    assert refused(form, "body.username")
    # Nothing was made of any of it.
    assert client.get("/api/v1/cases", headers=erin).json()["items"] == []
    # An escaped backslash before u0000 is text like any other.
    fine = {"reference": "CR-9", "title": "a\\u0000b"}
    assert client.post("/api/v1/cases", json=fine, headers=erin).status_code == 201


# --- X-HTTP-Method-Override (tus) ------------------------------------------------------


def test_a_post_that_says_patch_is_a_tus_patch(client: TestClient, force: Force) -> None:
    data = os.urandom(3_000)
    document = force.camera.manifest(data)
    rid = document["recording_id"]
    dock = {"Authorization": f"Bearer {force.dock_token}"}
    client.put(f"/api/v1/manifests/{rid}", json=document, headers=dock)
    metadata = f"recording_id {base64.b64encode(rid.encode()).decode()}"
    location = client.post(
        "/api/v1/uploads",
        headers={**TUS, **dock, "Upload-Length": str(len(data)), "Upload-Metadata": metadata},
    ).headers["Location"]
    digest = base64.b64encode(hashlib.sha256(data[:1_000]).digest()).decode()
    answer = client.post(
        location,
        content=data[:1_000],
        headers={
            **TUS,
            **dock,
            "X-HTTP-Method-Override": "PATCH",
            "Upload-Offset": "0",
            "Upload-Checksum": f"sha256 {digest}",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert answer.status_code == 204, answer.text
    assert answer.headers["Upload-Offset"] == "1000"
    ended = client.post(location, headers={**TUS, **dock, "X-HTTP-Method-Override": "DELETE"})
    assert ended.status_code == 204
    assert client.head(location, headers={**TUS, **dock}).status_code == 410


def test_no_other_path_lets_a_header_change_the_method(client: TestClient) -> None:
    answer = client.post("/api/v1/health", headers={"X-HTTP-Method-Override": "GET"})
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET"
