"""Clips and the disclosure schedule over real HTTP, against `custody serve` with real
footage a dock uploaded (issue 10, points 1 and 2).

dana investigates; fran discloses; ian investigates other cases; admin administers. Every
refusal reads as the API promises: JSON `{"error": {"code", "message"}}`, 404 where the
caller may not know the thing exists (the same as for an id never used), nothing made.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from custody.camera.simulator import simulate_camera
from custody.dock.agent import DockAgent
from tests.conftest import Installation, running_installation

NEVER_CLIP = "00000000-0000-4000-8000-000000000000"


@dataclass
class Station:
    installation: Installation
    recording: str
    case: int
    tokens: dict[str, str]

    def call(
        self, name: str, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.installation.server.url}/api/v1{path}",
            headers={"Authorization": f"Bearer {self.tokens[name]}", **(headers or {})},
            timeout=60,
            **kw,
        )


def _ok(installation: Installation, *args: str) -> str:
    result = installation.run(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    root = tmp_path_factory.mktemp("disclosure")
    with running_installation(root) as installation:
        tokens = {"admin": installation.admin_token}
        for name, role in (
            ("dana", "investigator"),
            ("fran", "disclosure"),
            ("ian", "investigator"),
        ):
            _ok(installation, "users", "add", name, "--role", role, "--unit", "CID")
            tokens[name] = _ok(installation, "users", "token", "--as", name)
        bay = root / "bay"
        simulate_camera(bay, serial="BWV-0700", officer_id="1234AB", recordings=1, duration=6)
        _ok(installation, "fleet", "add-camera", "--from", str(bay), "--officer", "1234AB")
        with DockAgent(installation.server.url, installation.dock_token, [bay]) as agent:
            assert agent.run_once().ok
        station = Station(installation, "", 0, tokens)
        deadline = time.monotonic() + 120
        while True:
            items = station.call("admin", "GET", "/recordings").json()["items"]
            if items and items[0]["state"] == "playable":
                break
            assert time.monotonic() < deadline, items
            time.sleep(0.3)
        station.recording = items[0]["id"]
        made = station.call("dana", "POST", "/cases", json={
            "reference": "01/7000/26", "title": "Assault", "members": ["fran"]})  # fmt: skip
        assert made.status_code == 201, made.text
        station.case = made.json()["id"]
        added = station.call("dana", "POST", f"/cases/{station.case}/recordings",
                             json={"recording_id": station.recording})  # fmt: skip
        assert added.status_code == 201, added.text
        yield station


def _error(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    message: str = body["error"]["message"]
    return message


def test_a_clip_over_http_is_a_new_object_that_plays_and_downloads(station: Station) -> None:
    made = station.call("dana", "POST", f"/recordings/{station.recording}/clips",
                        json={"in_seconds": 1.4, "out_seconds": 3.0, "title": "Push"})  # fmt: skip
    assert made.status_code == 201, made.text
    clip = made.json()
    assert clip["cut_start_seconds"] == 1.0 and clip["in_seconds"] == 1.4
    assert clip["method"] == "stream-copy" and clip["made_by"] == "user:dana"
    original = station.call("fran", "GET", f"/recordings/{station.recording}").json()
    assert clip["original_sha256"] == original["sha256"]

    copy = station.call("fran", "GET", f"/clips/{clip['id']}/media", params={"download": True})
    assert copy.status_code == 200
    assert hashlib.sha256(copy.content).hexdigest() == clip["sha256"]
    assert len(copy.content) == clip["size"]
    assert copy.headers["content-disposition"].startswith("attachment")
    piece = station.call(
        "fran", "GET", f"/clips/{clip['id']}/media", headers={"Range": "bytes=10-19"}
    )
    assert piece.status_code == 206 and piece.content == copy.content[10:20]
    assert piece.headers["content-range"] == f"bytes 10-19/{clip['size']}"
    beyond = station.call("fran", "GET", f"/clips/{clip['id']}/media",
                          headers={"Range": f"bytes={clip['size']}-"})  # fmt: skip
    assert beyond.status_code == 416
    listed = station.call("dana", "GET", f"/recordings/{station.recording}/clips").json()
    assert clip["id"] in [c["id"] for c in listed]
    # The original is as the camera wrote it.
    whole = station.call("dana", "GET", f"/recordings/{station.recording}/media",
                         params={"download": True})  # fmt: skip
    assert hashlib.sha256(whole.content).hexdigest() == original["sha256"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"in_seconds": 3, "out_seconds": 2}, 400, "out must come after in"),
        ({"in_seconds": 1, "out_seconds": 60}, 400, "beyond the end of the recording"),
        ({"in_seconds": -1, "out_seconds": 2}, 422, "in_seconds"),
        ({"in_seconds": 1}, 422, "out_seconds"),
        ({"in_seconds": "soon", "out_seconds": 2}, 422, "in_seconds"),
    ],
)
def test_bad_clip_requests_are_refused_and_nothing_is_made(
    station: Station, body: dict[str, Any], status: int, words: str
) -> None:
    before = station.call("dana", "GET", f"/recordings/{station.recording}/clips").json()
    answer = station.call("dana", "POST", f"/recordings/{station.recording}/clips", json=body)
    assert words in _error(answer, status)
    after = station.call("dana", "GET", f"/recordings/{station.recording}/clips").json()
    assert after == before


def test_who_may_not_know_of_a_clip_hears_it_does_not_exist(station: Station) -> None:
    made = station.call("dana", "POST", f"/recordings/{station.recording}/clips",
                        json={"in_seconds": 0, "out_seconds": 1})  # fmt: skip
    clip = made.json()["id"]
    for path in ("/clips/{}", "/clips/{}/media"):
        real = station.call("ian", "GET", path.format(clip))
        never = station.call("ian", "GET", path.format(NEVER_CLIP))
        assert _error(real, 404).replace(clip, "ID") == _error(never, 404).replace(NEVER_CLIP, "ID")
    refused = station.call("ian", "POST", f"/recordings/{station.recording}/clips",
                           json={"in_seconds": 0, "out_seconds": 1})  # fmt: skip
    assert _error(refused, 404) == f"no recording {station.recording}"


def test_the_schedule_over_http(station: Station) -> None:
    cut = {"in_seconds": 2, "out_seconds": 4, "title": "Arrest"}
    clip = station.call("dana", "POST", f"/recordings/{station.recording}/clips", json=cut).json()
    schedule = station.call("fran", "GET", f"/cases/{station.case}/schedule").json()
    lines = {(x["kind"], x["clip_id"]): x for x in schedule["lines"]}
    assert lines[("recording", None)]["suggested_reference"] == "AO/1"

    base = f"/cases/{station.case}/schedule"
    marked = station.call("fran", "PUT", f"{base}/clips/{clip['id']}",
                          json={"use": "exhibit", "reference": "AO/10"})  # fmt: skip
    assert marked.status_code == 200, marked.text
    assert marked.json()["reference"] == "AO/10" and marked.json()["kind"] == "clip"
    taken = station.call("dana", "PUT", f"{base}/recordings/{station.recording}",
                         json={"use": "exhibit", "reference": "AO/10"})  # fmt: skip
    assert "AO/10 is taken" in _error(taken, 409)
    second = {"use": "exhibit", "reference": "AO/2"}
    again = station.call("dana", "PUT", f"{base}/recordings/{station.recording}", json=second)
    assert again.status_code == 200
    wrong = station.call("fran", "PUT", f"{base}/recordings/{station.recording}",
                         json={"use": "exhibit", "reference": "A0-2"})  # fmt: skip
    assert "INITIALS/NUMBER" in _error(wrong, 400)

    refs = [x["reference"] for x in station.call("fran", "GET", base).json()["lines"]]
    assert refs[:2] == ["AO/2", "AO/10"]
    text = station.call("fran", "GET", f"{base}.csv")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert [r["exhibit_reference"] for r in rows][:2] == ["AO/2", "AO/10"]
    assert rows[1]["sha256"] == clip["sha256"]
    pdf = station.call("fran", "GET", f"{base}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-type"] == "application/pdf"


def test_who_may_not_mark_hears_the_same_for_a_real_case_and_none(station: Station) -> None:
    body = {"use": "unused_sensitive"}
    path = "/cases/{}/schedule/recordings/" + station.recording
    never = station.case + 1000
    # ian investigates, not this case: it does not exist for him.
    real = _error(station.call("ian", "PUT", path.format(station.case), json=body), 404)
    none = _error(station.call("ian", "PUT", path.format(never), json=body), 404)
    assert real.replace(str(station.case), "N") == none.replace(str(never), "N") == "no case N"
    # An administrator's role may not mark: the same refusal whichever case is named.
    real = _error(station.call("admin", "PUT", path.format(station.case), json=body), 403)
    assert real == _error(station.call("admin", "PUT", path.format(never), json=body), 403)
    for name in ("ian", "admin"):
        for suffix in ("", ".csv", ".pdf"):
            answer = station.call(name, "GET", f"/cases/{station.case}/schedule{suffix}")
            assert answer.status_code in (403, 404)
            other = station.call(name, "GET", f"/cases/{never}/schedule{suffix}")
            assert (answer.status_code, answer.json()["error"]["code"]) == (
                other.status_code,
                other.json()["error"]["code"],
            )
