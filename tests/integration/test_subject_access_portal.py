"""Subject access requests in the portal: registered, searched, attached, marked, approved by
a second person, late in red, closed; an officer finds neither the list nor a request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from custody.services.system import System
from tests.apps import app_for
from tests.conftest import START
from tests.factories import appoint, give_password
from tests.integration.lifecycle_world import World, build_world
from tests.integration.test_portal import as_
from tests.people import PASSWORD


@pytest.fixture
def world(sqlite_system: System) -> World:
    found = build_world(sqlite_system)
    appoint(sqlite_system, found.people["admin2"], "quinn", "professional_standards", unit="PSD")
    for name in [*found.people, "quinn"]:
        give_password(sqlite_system, found.people["admin2"], name, PASSWORD)
    return found


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(app_for(world.system), follow_redirects=False) as test_client:
        yield test_client


def test_a_request_from_registration_to_close_in_the_portal(
    client: TestClient, world: World
) -> None:
    rid = world.record("1234AB", START)
    csrf = as_(client, world, "pat")
    assert "Subject access" in client.get("/subject-access").text
    made = client.post(
        "/subject-access",
        data={
            "csrf_token": csrf,
            "requester_name": "Jo Bloggs",
            "requester_email": "jo@example.org",
            "received_on": START.date().isoformat(),
            "description": "stopped on Mare Street",
        },
    )
    assert made.status_code == 303, made.text
    page_url = made.headers["location"]
    assert page_url == "/subject-access/SAR-2026-00001"
    listed = client.get("/subject-access").text
    assert "SAR-2026-00001" in listed and "31 days" in listed and "badge late" not in listed

    found = client.post(
        f"{page_url}/search",
        data={
            "csrf_token": csrf,
            "since": "2026-10-01T09:00",
            "until": "2026-10-01T12:00",
            "lat": "51.5",
            "lon": "-0.05",
            "radius_m": "100",
        },
    )
    assert found.status_code == 200 and rid[:8] in found.text
    assert (
        client.post(
            f"{page_url}/attach", data={"csrf_token": csrf, "recording_id": rid}
        ).status_code
        == 303
    )
    marked = client.post(
        f"{page_url}/mark",
        data={"csrf_token": csrf, "recording_id": rid, "redaction": "redacted_copy_attached"},
    )
    assert marked.status_code == 303
    own = client.post(f"{page_url}/approve", data={"csrf_token": csrf})
    assert own.status_code == 400 and "prepared" in own.text

    world.system.clock.advance(timedelta(days=35))  # type: ignore[attr-defined]
    csrf2 = as_(client, world, "quinn")
    assert 'class="badge late"' in client.get("/subject-access").text
    assert client.post(f"{page_url}/approve", data={"csrf_token": csrf2}).status_code == 303
    shown = client.get(page_url).text
    assert "Release approved by quinn" in shown and "Release to requester" in shown
    # Marked redacted by hand, but no copy attached: nothing to send in its place.
    refused = client.post(f"{page_url}/release", data={"csrf_token": csrf2, "days": "30"})
    assert refused.status_code == 400 and "no approved redacted copy" in refused.text
    assert 'id="release"' not in client.get(page_url).text
    closed = client.post(f"{page_url}/close", data={"csrf_token": csrf2, "record": "sent"})
    assert closed.status_code == 303
    assert 'href="/subject-access/SAR-2026-00001"' not in client.get("/subject-access").text

    as_(client, world, "alice")
    assert "/subject-access" not in client.get("/").text
    for url in ("/subject-access", page_url, "/subject-access/SAR-2026-00999"):
        assert client.get(url).status_code == 403
