"""The subject access API: typed refusals, bounded bodies, and nothing changed by bad input."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from custody.db.models.subject_access import SubjectAccessItem, SubjectAccessRequest
from custody.domain.clock import isoformat
from custody.services.system import System
from tests.apps import app_for
from tests.integration.lifecycle_world import build_world

URL = "/api/v1/subject-access-requests"


def rows(system: System) -> tuple[int, int]:
    with system.unit_of_work() as uow:
        return (
            uow.session.scalar(select(func.count()).select_from(SubjectAccessRequest)) or 0,
            uow.session.scalar(select(func.count()).select_from(SubjectAccessItem)) or 0,
        )


def test_api_from_registration_to_close(system: System) -> None:
    world = build_world(system)
    clients = world.client(app_for(system))
    pat, alice = clients.as_("pat"), clients.as_("alice")
    start = system.clock.now()
    rid = world.record("1234AB", start)
    today = start.date().isoformat()
    body = {
        "requester_name": "Jo Bloggs",
        "requester_email": "jo@example.org",
        "received_on": today,
        "description": "stopped on Mare Street",
    }

    # An officer is refused alike before and after a request exists, and the list too.
    before = [alice.get(URL), alice.get(f"{URL}/SAR-2026-00001")]
    made = pat.post(URL, json=body)
    assert made.status_code == 201, made.text
    reference = made.json()["reference"]
    assert reference == "SAR-2026-00001"
    after = [alice.get(URL), alice.get(f"{URL}/{reference}")]
    assert [(a.status_code, a.json()) for a in before] == [(a.status_code, a.json()) for a in after]
    assert {a.status_code for a in after} == {403}
    assert alice.post(URL, json=body).status_code == 403

    listed = pat.get(URL).json()
    assert [(r["reference"], r["days_left"], r["late"]) for r in listed] == [(reference, 31, False)]
    window = {
        "since": isoformat(start - timedelta(hours=1)),
        "until": isoformat(start + timedelta(hours=1)),
    }
    found = pat.get(
        f"{URL}/{reference}/candidates",
        params=window | {"lat": 51.5, "lon": -0.05, "radius_m": 100},
    )
    assert [c["recording_id"] for c in found.json()] == [rid]
    attached = pat.post(f"{URL}/{reference}/recordings", json={"recording_id": rid})
    assert attached.status_code == 200, attached.text
    assert attached.json()["attached"][0]["redaction"] == "pending"
    marked = pat.post(
        f"{URL}/{reference}/recordings/{rid}/redaction",
        json={"redaction": "reviewed_no_third_parties"},
    )
    assert marked.json()["attached"][0]["redaction"] == "reviewed_no_third_parties"
    same_person = pat.post(f"{URL}/{reference}/approval")
    assert same_person.status_code == 409
    assert "prepared" in same_person.json()["error"]["message"]
    early = pat.post(f"{URL}/{reference}/release", json={})
    assert early.status_code == 409 and "not approved" in early.json()["error"]["message"]
    assert alice.post(f"{URL}/{reference}/release", json={}).status_code == 403
    assert pat.post(f"{URL}/{reference}/release", json={"days": 0}).status_code == 422
    copy = pat.post(f"{URL}/{reference}/recordings/{rid}/redacted-copy", json={"redaction_id": "x"})
    assert copy.status_code == 404
    closed = pat.post(f"{URL}/{reference}/close", json={"record": "answered by post"})
    assert closed.json()["step"] == "closed"


def test_bad_input_is_a_clear_4xx_and_changes_nothing(system: System) -> None:
    world = build_world(system)
    clients = world.client(app_for(system))
    pat = clients.as_("pat")
    today = system.clock.now().date()
    good = {
        "requester_name": "Jo Bloggs",
        "requester_email": "jo@example.org",
        "received_on": today.isoformat(),
        "description": "stopped on Mare Street",
    }
    late = pat.post(URL, json=good | {"received_on": (today - timedelta(days=40)).isoformat()})
    assert late.status_code == 400 and "past its deadline" in late.json()["error"]["message"]
    huge = pat.post(URL, json=good | {"description": "x" * 5000})
    assert huge.status_code == 422
    enormous = pat.post(URL, content=b"{" + b" " * 5_000_000 + b"}")
    assert enormous.status_code == 413
    assert pat.post(URL, json=good | {"received_on": "yesterday"}).status_code == 422
    assert rows(system) == (0, 0)

    reference = pat.post(URL, json=good).json()["reference"]
    unknown = pat.post(f"{URL}/{reference}/recordings", json={"recording_id": "nope"})
    assert unknown.status_code == 404
    assert pat.get(f"{URL}/SAR-1999-00009").status_code == 404
    wrong = pat.post(f"{URL}/{reference}/recordings/nope/redaction", json={"redaction": "ok"})
    assert wrong.status_code == 422
    assert (
        pat.post(f"{URL}/{reference}/extension", json={"months": 3, "reason": "x"}).status_code
        == 422
    )
    assert rows(system) == (1, 0)
