"""A force with one of everything the API names, for the contract run (Schemathesis).

Everything is made over HTTP, as a force's people and docks would make it, so that the
world keeps working whatever the services answer in Python: the JSON on the wire is the
contract. Each path parameter then has a real value (a recording, a case, a hold, a
bookmark, a user, a camera, an upload in progress…) and an unknown one, so that every
operation is tried on something that exists and on something that does not.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from custody.bootstrap import build_system
from custody.camera.footage import write_footage
from custody.config import Settings
from custody.domain import signing
from custody.domain.clock import ManualClock
from custody.services.disclosure import bundle_exports
from custody.services.identity import tokens, users
from custody.services.recordings.media import probe_recording
from custody.services.redaction import redactions
from custody.services.redaction import scans as redaction_scans
from custody.services.system import System
from custody.web.app import create_app
from tests.conftest import START, RecordedJobs
from tests.people import Force, make_force, store_recording

API = "/api/v1"
PARAMETER = re.compile(r"\{([^}:]+)\}")
# Who each run speaks as: their token is sent with every request.
CALLERS = {
    "administrator": "root",
    "professional_standards": "erin",
    "dock": None,
}
# Values that name nothing: every operation is tried on them too (404, concealment).
UNKNOWN: dict[str, str | int] = {
    "recording_id": "00000000-0000-4000-8000-000000000000",
    "clip_id": "00000000-0000-4000-8000-000000000000",
    "upload_id": "0" * 32,
    "username": "nobody",
    "serial": "NO-SUCH-CAMERA",
    "warrant_number": "0000XX",
    "borough": "Atlantis",
    "bundle_id": "00000000-0000-4000-8000-000000000000",
    "scan_id": "00000000-0000-4000-8000-000000000000",
    "redaction_id": "00000000-0000-4000-8000-000000000000",
}
UNKNOWN_NUMBER = 999_999


@dataclass
class ContractWorld:
    """A force on SQLite, its app, and a value for every path parameter of the API."""

    system: System
    force: Force
    app: FastAPI
    caller: str
    auth: dict[str, str]
    values: dict[str, str | int] = field(default_factory=dict)
    # /me/tokens/{token_id} is the caller's own spare token, /users/… the victim's.
    own_token_id: int = 0
    # The bytes the dock's upload still needs, from its offset on.
    upload_rest: bytes = b""
    upload_offset: int = 0
    # A declared manifest with no upload yet: (length, Upload-Metadata).
    declared: tuple[int, str] = (0, "")
    camera_key: str = ""

    def real(self, path: str) -> dict[str, str | int]:
        """Path parameters naming things that exist (never the caller's own token)."""
        found = {name: self.values[name] for name in PARAMETER.findall(path)}
        if path.startswith(f"{API}/me/tokens/"):
            found["token_id"] = self.own_token_id
        return found

    @staticmethod
    def unknown(path: str) -> dict[str, str | int]:
        """Path parameters naming nothing."""
        return {name: UNKNOWN.get(name, UNKNOWN_NUMBER) for name in PARAMETER.findall(path)}


class _Caller:
    """Speaks to the app as a named person (or, with None, as the dock)."""

    def __init__(self, client: TestClient, force: Force) -> None:
        self.client = client
        self.force = force

    def answer(self, method: str, url: str, who: str | None, status: int, **kwargs: Any) -> Any:
        token = self.force.tokens[who] if who else self.force.dock_token
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        answer = self.client.request(method, API + url, headers=headers, **kwargs)
        assert answer.status_code == status, f"{method} {url}: {answer.status_code} {answer.text}"
        return answer

    def __call__(self, method: str, url: str, who: str | None, status: int, **kwargs: Any) -> Any:
        return self.answer(method, url, who, status, **kwargs).json()


def build_world(data_dir: Path, caller: str, database_url: str | None = None) -> ContractWorld:
    """A fresh force, with everything the contract run names, made over HTTP."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, database_url=database_url)
    system = build_system(settings, clock=ManualClock(START), jobs=RecordedJobs(), create=True)
    force = make_force(system)
    recording_id = store_recording(force)
    # Its own application, not a lent one: the contract run keeps it for the module.
    app = create_app(system)
    values: dict[str, str | int] = {"recording_id": recording_id, "username": "victim"}
    who = CALLERS[caller]
    with TestClient(app) as client:
        call = _Caller(client, force)
        root, erin, gus, audrey = "root", "erin", "gus", "audrey"
        category = {"name": "Contract", "retention_days": 400, "access_class": "normal"}
        values["category_id"] = call("POST", "/categories", root, 201, json=category)["id"]
        call("POST", "/categories", root, 201, json={**category, "name": "Contract 2"})
        call("POST", "/users", root, 201, json={"username": "victim", "role": "officer"})
        # The victim's own token (nobody mints one for another): /users/victim/tokens/{id}.
        victim = users.principal_named(system, "victim")
        values["token_id"] = tokens.create_my_token(system, victim).id
        wider = {"role": "auditor"}  # pending: a second administrator would approve it
        values["request_id"] = call("POST", "/users/victim/role-requests", root, 201, json=wider)[
            "id"
        ]
        rid = recording_id
        mark = {"at_seconds": 1, "label": "x"}
        values["bookmark_id"] = call("POST", f"/recordings/{rid}/bookmarks", erin, 201, json=mark)[
            "id"
        ]
        flag = {"reason": "contract run"}
        values["flag_id"] = call("POST", f"/recordings/{rid}/evidence", erin, 201, json=flag)["id"]
        case = call("POST", "/cases", erin, 201, json={"reference": "CR-1", "title": "Contract"})
        values["case_id"] = case["id"]
        call("POST", f"/cases/{case['id']}/recordings", erin, 201, json={"recording_id": rid})
        # A clip needs footage that plays: two seconds of the simulator's, cut in the case.
        played = store_recording(force, _footage(data_dir))
        probe_recording(system, played)
        call("POST", f"/cases/{case['id']}/recordings", erin, 201, json={"recording_id": played})
        cut = {"in_seconds": 0.5, "out_seconds": 1.5}
        values["clip_id"] = call("POST", f"/recordings/{played}/clips", erin, 201, json=cut)["id"]
        # A face scan (of footage with no faces) and a redacted copy, each run by its job.
        scan = call("POST", f"/recordings/{played}/face-scans", erin, 202)
        redaction_scans.run_scan(system, scan["id"], threads=1)
        values["scan_id"] = scan["id"]
        values["track_id"] = 1
        whole = {"everything": True, "scan_id": scan["id"]}
        redacted = call("POST", f"/recordings/{played}/redactions", erin, 202, json=whole)
        redactions.run_render(system, redacted["id"])
        values["redaction_id"] = redacted["id"]
        # The schedule's own routes are another branch's: its line is written as a row here.
        marking = {"use": "exhibit", "reference": "EP/1", "description": "contract run"}
        line = call(
            "PUT", f"/cases/{case['id']}/schedule/recordings/{rid}", erin, 200, json=marking
        )
        bundle = call("POST", f"/cases/{case['id']}/bundles", erin, 202)
        bundle_exports.build_bundle(system, bundle["id"])
        values["bundle_id"] = bundle["id"]
        hold = {"kind": "legal", "reason": "contract run", "recording_ids": [rid]}
        values["hold_id"] = call("POST", "/holds", erin, 201, json=hold)[0]["id"]
        complaint = {
            "reference": "CO-1",
            "officers": ["5678CD"],
            "since": "2026-09-01T00:00:00Z",
            "until": "2026-09-02T00:00:00Z",
            "summary": "contract run",
        }
        values["reference"] = call("POST", "/complaints", erin, 201, json=complaint)["reference"]
        key = signing.public_key_text(Ed25519PrivateKey.generate().public_key())
        camera = {"serial": "BWV-0002", "model": "SimCam", "firmware": "1.0", "public_key": key}
        call.answer("POST", "/cameras", gus, 201, json=camera)
        values["serial"] = "BWV-0002"
        values["warrant_number"] = "5678CD"
        phase = {"phase": 1, "target_date": "2027-01-04"}
        call.answer("PUT", "/fleet/rollout/Hackney", gus, 204, json=phase)
        values["borough"] = "Hackney"
        values["checkpoint_id"] = call("POST", "/audit/checkpoints", audrey, 201)["id"]
        values["seq"] = 1
        values["verification_id"] = call("POST", "/audit/verifications", audrey, 202)["id"]
        values["share_id"], values["receipt_id"] = _acknowledged_share(
            client, call, case["id"], line["item_id"]
        )
        data = os.urandom(4_000)
        values["upload_id"] = _upload_in_progress(force, call, data, 1_000)
        declared = _declare(force, call, os.urandom(2_000))
        own = call("POST", "/me/tokens", who, 201, json={"name": "spare"})["id"] if who else 0
    token = force.tokens[who] if who else force.dock_token
    auth = {"Authorization": f"Bearer {token}"}
    world = ContractWorld(system, force, app, caller, auth, values, own or UNKNOWN_NUMBER)
    world.upload_rest, world.upload_offset = data[1_000:], 1_000
    world.declared, world.camera_key = declared, key
    return world


def _footage(data_dir: Path) -> bytes:
    path = data_dir / "contract-footage.mp4"
    write_footage(path, started_at=START, duration=2.0, serial="BWV-0001")
    data = path.read_bytes()
    path.unlink()
    return data


TUS = {"Tus-Resumable": "1.0.0"}


def _acknowledged_share(
    client: TestClient, call: _Caller, case_id: int, item_id: int
) -> tuple[int, int]:
    """A share of an exhibit that its recipient opened and acknowledged: its id and its
    receipt's."""
    recipient = {"name": "Priya Shah", "email": "priya@cps.example", "kind": "prosecutor"}
    made = call("POST", f"/cases/{case_id}/shares", "erin", 201,
                json={"recipient": recipient, "items": [item_id]})  # fmt: skip
    share_id: int = made["share"]["id"]
    link = "/" + made["link"].split("/", 3)[3]
    code = call("POST", f"/shares/{share_id}/code", "erin", 200)["code"]
    assert client.post(f"{link}/verify", data={"code": code}, follow_redirects=False).is_redirect
    page = client.get(link, headers={"Accept": "text/html"}).text
    csrf = re.findall(r'name="csrf_token" value="([^"]+)"', page)[0]
    client.post(f"{link}/acknowledge", data={"csrf_token": csrf}, follow_redirects=False)
    client.cookies.clear()
    receipts = call("GET", f"/shares/{share_id}", "erin", 200)["receipts"]
    return share_id, receipts[0]["id"]


def _declare(force: Force, call: _Caller, data: bytes) -> tuple[int, str]:
    """Declare a recording's manifest as the dock does; its Upload-Length and -Metadata."""
    document = force.camera.manifest(data)
    rid = document["recording_id"]
    call("PUT", f"/manifests/{rid}", None, 200, json=document)
    return len(data), f"recording_id {base64.b64encode(rid.encode()).decode()}"


def _upload_in_progress(force: Force, call: _Caller, data: bytes, sent: int) -> str:
    """A recording declared and partly uploaded by the dock: the tus upload to try."""
    length, metadata = _declare(force, call, data)
    headers = {**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata}
    created = call.answer("POST", "/uploads", None, 201, headers=headers)
    upload_id: str = created.headers["Location"].rsplit("/", 1)[1]
    chunk = {**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    call.answer("PATCH", f"/uploads/{upload_id}", None, 204, content=data[:sent], headers=chunk)
    return upload_id


@dataclass(frozen=True)
class Explicit:
    """One request the run makes before it generates any: a branch generation may miss."""

    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    real: bool = True


def explicit(world: ContractWorld) -> dict[str, list[Explicit]]:
    """Requests that reach what random data rarely does: a name taken, a state met twice,
    a tus chunk that fits, one whose checksum does not, a creation that succeeds."""
    taken = {"name": "Contract", "retention_days": 400}
    twice = [Explicit({"reason": "contract run"})] * 2
    chunk = {**TUS, "Upload-Offset": str(world.upload_offset)}
    wrong = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()
    length, metadata = world.declared
    camera = {"model": "SimCam", "firmware": "1.0", "public_key": world.camera_key}
    return {
        f"POST {API}/categories": [Explicit(taken)],
        f"PATCH {API}/categories/{{category_id}}": [
            Explicit({"name": "Contract 2"}),
            Explicit({"name": None}),
            Explicit({"description": None}),
        ],
        f"POST {API}/users": [
            Explicit({"username": "victim", "role": "officer"}),
            Explicit({"username": "newcomer", "role": "officer", "officer": "0000XX"}),
        ],
        f"POST {API}/officers": [
            Explicit({"warrant_number": "5678CD", "name": "C. Harlie", "unit": "Camden"})
        ],
        f"POST {API}/cameras": [
            Explicit({**camera, "serial": "BWV-0002"}),
            Explicit({**camera, "serial": "BWV-0003", "officer": "0000XX"}),
        ],
        f"POST {API}/cameras/{{serial}}/issue": [Explicit({"officer": "5678CD"})] * 2,
        f"POST {API}/cameras/{{serial}}/retire": twice,
        f"POST {API}/cameras/{{serial}}/lost": twice,
        f"POST {API}/docks": [Explicit({"name": "Hackney-1"})],
        f"POST {API}/docks/checkouts": [Explicit({"card_id": "NO-CARD", "serial": "BWV-0002"})],
        f"POST {API}/cases": [Explicit({"reference": "CR-1", "title": "Again"})],
        f"POST {API}/cases/{{case_id}}/close": twice,
        f"POST {API}/cases/{{case_id}}/reopen": twice,
        f"POST {API}/uploads": [
            Explicit(headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata})
        ],
        f"PATCH {API}/uploads/{{upload_id}}": [
            Explicit(world.upload_rest[:10], {**chunk, "Upload-Checksum": f"sha256 {wrong}"}),
            Explicit(world.upload_rest, chunk),
        ],
    }
