"""A fake Custody server (httpx.MockTransport) and quick cameras for the dock tests.

The fake speaks the dock's half of the HTTP contract the way the real server does,
quirks included, and lets a test inject faults: a connection that drops before or
after the server acts, a partial write, a status instead of the real answer. The
tests at the bottom hold the fake itself to the contract.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.camera.device import DeviceInfo, save_device_key, write_device
from custody.domain import signing
from custody.domain.errors import CustodyError
from custody.domain.manifest import Manifest, parse_manifest
from custody.domain.receipt import Receipt, issue_receipt

TOKEN = "dock_0123456789abcdef-secret"
SERVER = "http://custody.test"
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)

# --- cameras -------------------------------------------------------------------


@dataclass
class FakeCamera:
    root: Path
    serial: str
    key: Ed25519PrivateKey
    manifests: list[Manifest] = field(default_factory=list)

    @property
    def public_key(self) -> str:
        return signing.public_key_text(self.key.public_key())

    def footage(self, recording_id: str) -> bytes:
        return (self.root / "recordings" / f"{recording_id}.mp4").read_bytes()

    def holds(self, recording_id: str) -> bool:
        recordings = self.root / "recordings"
        return (recordings / f"{recording_id}.mp4").exists() and (
            recordings / f"{recording_id}.json"
        ).exists()

    def record(self, size: int, *, start: datetime = T0, **changes: Any) -> Manifest:
        """Footage of `size` random bytes, then its manifest signed by the camera's key."""
        recording_id = str(uuid.uuid4())
        footage = os.urandom(size)
        media = self.root / "recordings" / f"{recording_id}.mp4"
        media.write_bytes(footage)
        start = start + timedelta(minutes=20) * len(self.manifests)
        fields: dict[str, Any] = {
            "recording_id": recording_id,
            "device_serial": self.serial,
            "officer_id": "PC 4127",
            "started_at": start,
            "ended_at": start + timedelta(seconds=30),
            "pre_event_seconds": 30,
            "file": media.name,
            "size": size,
            "sha256": hashlib.sha256(footage).hexdigest(),
        } | changes
        manifest = Manifest(**fields)
        document = signing.sign(manifest.to_json(), self.key)
        media.with_suffix(".json").write_text(json.dumps(document, indent=2))
        self.manifests.append(manifest)
        return manifest


def make_camera(root: Path, serial: str = "BWV-0001", *sizes: int) -> FakeCamera:
    """A camera directory (device.json, key, recordings) holding footage of the given sizes."""
    key = Ed25519PrivateKey.generate()
    root.mkdir(parents=True, exist_ok=True)
    save_device_key(root, key)
    write_device(
        root,
        DeviceInfo(
            serial=serial,
            model="Custody SimCam 1",
            firmware="1.4.2",
            public_key=signing.public_key_text(key.public_key()),
            battery_percent=71,
            capacity_bytes=64 * 1024**3,
            officer_id="PC 4127",
            undocked_at=T0 - timedelta(hours=1),
        ),
    )
    (root / "recordings").mkdir(exist_ok=True)
    camera = FakeCamera(root, serial, key)
    for size in sizes:
        camera.record(size)
    return camera


# --- the fake server -------------------------------------------------------------


@dataclass
class FakeUpload:
    upload_id: str
    recording_id: str
    length: int
    data: bytearray = field(default_factory=bytearray)
    state: str = "receiving"

    @property
    def offset(self) -> int:
        return len(self.data)

    @property
    def url(self) -> str:
        return f"/api/v1/uploads/{self.upload_id}"


@dataclass
class Fault:
    """What goes wrong with the n-th matching request.

    `when`: "before" — the request never reaches the server (connection refused);
    "after" — the server acts, the answer is lost (connection reset);
    "partial" — half the PATCH body is written, then the connection drops;
    "respond" — the server answers `status` instead (with `code`), without acting;
    "call" — `action(server)` runs first, then the request is served normally.
    """

    method: str
    path_part: str = ""
    when: str = "after"
    nth: int = 1
    times: int = 1
    status: int = 500
    code: str = "boom"
    action: Callable[[FakeServer], None] | None = None
    seen: int = 0
    fired: int = 0

    def matches(self, request: httpx.Request) -> bool:
        if request.method != self.method or self.path_part not in request.url.path:
            return False
        self.seen += 1
        if self.seen >= self.nth and self.fired < self.times:
            self.fired += 1
            return True
        return False


class FakeServer:
    """The server's dock API in memory, behind an httpx.MockTransport."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        # A forger's key: receipts signed with it must never free camera space.
        self.receipt_key = self.key
        self.cameras: dict[str, str] = {}
        self.manifests: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, FakeUpload] = {}
        self.stored: dict[str, bytes] = {}
        self.receipts: dict[str, dict[str, Any]] = {}
        self.reports: list[dict[str, Any]] = []
        self.log: list[tuple[str, str, dict[str, str]]] = []
        self.faults: list[Fault] = []
        self.tamper_receipt: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.patch_delay = 0.0
        self.writing = 0
        self.most_writing = 0
        self._lock = threading.RLock()

    @property
    def public_key(self) -> str:
        return signing.public_key_text(self.key.public_key())

    def register(self, camera: FakeCamera) -> None:
        self.cameras[camera.serial] = camera.public_key

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def fault(self, method: str, path_part: str = "", **kwargs: Any) -> Fault:
        fault = Fault(method, path_part, **kwargs)
        self.faults.append(fault)
        return fault

    def requests(self, method: str, path_part: str = "") -> list[dict[str, str]]:
        """Headers of the requests seen, in order, that match."""
        return [h for m, p, h in self.log if m == method and path_part in p]

    def patch_offsets(self) -> list[int]:
        return [int(h["upload-offset"]) for h in self.requests("PATCH")]

    # --- dispatch ---

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        with self._lock:
            self.log.append((request.method, request.url.path, dict(request.headers)))
            fault = next((f for f in self.faults if f.matches(request)), None)
        if fault is not None and fault.when == "before":
            raise httpx.ConnectError("connection refused", request=request)
        if fault is not None and fault.when == "respond":
            return _error(fault.status, fault.code, "injected")
        if fault is not None and fault.when == "partial":
            with self._lock:
                upload = self.uploads[request.url.path.rsplit("/", 1)[1]]
                if int(request.headers["upload-offset"]) == upload.offset:
                    upload.data += body[: len(body) // 2]
            raise httpx.ReadError("connection reset mid-body", request=request)
        if fault is not None and fault.when == "call":
            assert fault.action is not None
            fault.action(self)
        if request.method == "PATCH" and self.patch_delay:
            with self._lock:
                self.writing += 1
                self.most_writing = max(self.most_writing, self.writing)
            time.sleep(self.patch_delay)
        try:
            with self._lock:
                response = self._route(request, body)
        finally:
            if request.method == "PATCH" and self.patch_delay:
                with self._lock:
                    self.writing -= 1
        if fault is not None and fault.when == "after":
            raise httpx.ReadError("connection reset before the answer", request=request)
        return response

    def _route(self, request: httpx.Request, body: bytes) -> httpx.Response:
        path = request.url.path
        method = request.method
        if path == "/api/v1/server-key" and method == "GET":
            return httpx.Response(200, json={"algorithm": "Ed25519", "public_key": self.public_key})
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return _error(401, "not_authenticated", "unknown or revoked dock token")
        parts = path.strip("/").split("/")
        if path == "/api/v1/docks/reports" and method == "POST":
            return self._report(json.loads(body))
        if parts[:3] == ["api", "v1", "manifests"] and method == "PUT":
            return self._declare(parts[3], json.loads(body))
        if parts[:3] == ["api", "v1", "receipts"] and method == "GET":
            receipt = self.receipts.get(parts[3])
            if receipt is None:
                return _error(404, "not_found", "not stored")
            return httpx.Response(200, json=receipt)
        if parts[:3] == ["api", "v1", "uploads"]:
            if request.headers.get("tus-resumable") != "1.0.0":
                return _error(412, "tus_version", "send Tus-Resumable: 1.0.0")
            if len(parts) == 3 and method == "POST":
                return self._create(request)
            upload = self.uploads.get(parts[3]) if len(parts) == 4 else None
            if upload is None:
                return _error(404, "not_found", "no such upload")
            if method == "HEAD":
                return self._head(upload)
            if method == "PATCH":
                return self._patch(upload, request, body)
            if method == "DELETE":
                upload.state = "terminated"
                return httpx.Response(204, headers={"Tus-Resumable": "1.0.0"})
        return _error(404, "not_found", f"{method} {path}")

    def _report(self, report: dict[str, Any]) -> httpx.Response:
        if report.get("serial") not in self.cameras:
            # The real server answers 404 not_found here (the contract says unknown_camera).
            return _error(404, "not_found", f"camera {report.get('serial')} is not registered")
        self.reports.append(report)
        return httpx.Response(204)

    def _declare(self, recording_id: str, document: dict[str, Any]) -> httpx.Response:
        try:
            manifest = parse_manifest(document)
        except CustodyError as exc:
            return _error(422, exc.code, exc.message)
        if manifest.recording_id != recording_id:
            return _error(400, "invalid_input", "the manifest's recording_id differs from the URL")
        public_key = self.cameras.get(manifest.device_serial)
        if public_key is None:
            return _error(422, "unknown_camera", f"camera {manifest.device_serial} unknown")
        try:
            signing.verify(document, signing.load_public_key(public_key))
        except CustodyError as exc:
            return _error(422, "signature_invalid", exc.message)
        known = self.manifests.get(recording_id)
        if known is not None and known["sha256"] != manifest.sha256:
            return _error(409, "recording_conflict", "same id, different content")
        if recording_id in self.receipts:
            return httpx.Response(
                200,
                json={
                    "recording_id": recording_id,
                    "stored": True,
                    "receipt": self.receipts[recording_id],
                    "uploads": [],
                },
            )
        self.manifests[recording_id] = document
        offers = sorted(
            (u for u in self.uploads.values() if u.recording_id == recording_id),
            key=lambda u: u.offset,
            reverse=True,
        )
        return httpx.Response(
            200,
            json={
                "recording_id": recording_id,
                "stored": False,
                "receipt": None,
                "uploads": [
                    {"upload_id": u.upload_id, "offset": u.offset, "length": u.length, "url": u.url}
                    for u in offers
                    if u.state == "receiving"
                ],
            },
        )

    def _create(self, request: httpx.Request) -> httpx.Response:
        metadata = {}
        for pair in request.headers.get("upload-metadata", "").split(","):
            key, _, value = pair.strip().partition(" ")
            metadata[key] = base64.b64decode(value).decode()
        recording_id = metadata.get("recording_id", "")
        manifest = self.manifests.get(recording_id)
        if manifest is None:
            return _error(400, "invalid_input", "declare the manifest first")
        if recording_id in self.receipts:
            # Like the real server: no new upload of a stored recording; its receipt instead.
            refused = _error(409, "recording_stored", "stored already: fetch its receipt")
            refused.headers["Location"] = f"/api/v1/receipts/{recording_id}"
            return refused
        length = int(request.headers["upload-length"])
        if length != manifest["size"]:
            return _error(422, "content_mismatch", "Upload-Length differs from the manifest")
        upload = FakeUpload(uuid.uuid4().hex, recording_id, length)
        self.uploads[upload.upload_id] = upload
        return httpx.Response(201, headers={"Tus-Resumable": "1.0.0", "Location": upload.url})

    def _head(self, upload: FakeUpload) -> httpx.Response:
        if upload.state in ("terminated", "failed"):
            return httpx.Response(410, headers={"Tus-Resumable": "1.0.0"})
        return httpx.Response(
            200,
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": str(upload.offset),
                "Upload-Length": str(upload.length),
                "Cache-Control": "no-store",
            },
        )

    def _patch(self, upload: FakeUpload, request: httpx.Request, body: bytes) -> httpx.Response:
        if request.headers.get("content-type") != "application/offset+octet-stream":
            return _error(415, "content_type", "wrong Content-Type")
        if upload.state in ("terminated", "failed"):
            return _error(410, "upload_gone", "this upload was ended")
        claimed = int(request.headers["upload-offset"])
        if claimed != upload.offset:
            return _error(409, "offset_mismatch", f"{claimed} differs from {upload.offset}")
        if upload.state == "committed":
            # Like the real server: an empty PATCH on a committed upload finds it gone.
            if body:
                return _error(409, "offset_mismatch", "the upload is already complete")
            return _error(410, "upload_gone", "the upload changed under this request")
        checksum = request.headers.get("upload-checksum")
        if checksum is not None:
            algorithm, _, value = checksum.partition(" ")
            if algorithm != "sha256" or base64.b64decode(value) != hashlib.sha256(body).digest():
                return _error(460, "checksum_mismatch", "the chunk's checksum did not match")
        if upload.offset + len(body) > upload.length:
            return _error(400, "invalid_input", "the chunk runs past Upload-Length")
        upload.data += body
        headers = {"Tus-Resumable": "1.0.0", "Upload-Offset": str(upload.offset)}
        if upload.offset == upload.length:
            refusal = self._commit(upload)
            if refusal is not None:
                return refusal
            headers["Custody-Recording"] = upload.recording_id
        return httpx.Response(204, headers=headers)

    def _commit(self, upload: FakeUpload) -> httpx.Response | None:
        manifest = parse_manifest(self.manifests[upload.recording_id])
        if hashlib.sha256(upload.data).hexdigest() != manifest.sha256:
            upload.state = "failed"
            return _error(422, "content_mismatch", "the uploaded file does not match its manifest")
        upload.state = "committed"
        if upload.recording_id not in self.receipts:
            self.stored[upload.recording_id] = bytes(upload.data)
            receipt = Receipt(manifest.recording_id, manifest.sha256, manifest.size, T0)
            document = issue_receipt(receipt, self.receipt_key)
            if self.tamper_receipt is not None:
                document = self.tamper_receipt(document)
            self.receipts[upload.recording_id] = document
        return None

    def commit_directly(self, camera: FakeCamera, manifest: Manifest) -> None:
        """The server stored this recording in an earlier run (or via another dock)."""
        path = camera.root / "recordings" / f"{manifest.recording_id}.json"
        document = json.loads(path.read_text())
        self.manifests[manifest.recording_id] = document
        upload = FakeUpload(uuid.uuid4().hex, manifest.recording_id, manifest.size)
        upload.data += camera.footage(manifest.recording_id)
        self.uploads[upload.upload_id] = upload
        assert self._commit(upload) is None


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"code": code, "message": message}},
        headers={"Tus-Resumable": "1.0.0"},
    )


# --- the fake held to the contract ------------------------------------------------


def _client(server: FakeServer) -> httpx.Client:
    return httpx.Client(
        base_url=SERVER,
        transport=server.transport(),
        headers={"Authorization": f"Bearer {TOKEN}", "Tus-Resumable": "1.0.0"},
    )


def test_fake_refuses_a_chunk_at_the_wrong_offset_or_with_the_wrong_checksum(
    tmp_path: Path,
) -> None:
    server = FakeServer()
    camera = make_camera(tmp_path / "bay", "BWV-0001", 100)
    server.register(camera)
    manifest = camera.manifests[0]
    document = json.loads(
        (camera.root / "recordings" / f"{manifest.recording_id}.json").read_text()
    )
    with _client(server) as http:
        declared = http.put(f"/api/v1/manifests/{manifest.recording_id}", json=document)
        assert declared.json()["stored"] is False
        metadata = "recording_id " + base64.b64encode(manifest.recording_id.encode()).decode()
        created = http.post(
            "/api/v1/uploads", headers={"Upload-Length": "100", "Upload-Metadata": metadata}
        )
        assert created.status_code == 201
        url = created.headers["Location"]
        data = camera.footage(manifest.recording_id)
        headers = {"Content-Type": "application/offset+octet-stream"}
        wrong_offset = http.patch(url, content=data[:10], headers={**headers, "Upload-Offset": "5"})
        assert wrong_offset.status_code == 409
        bad_sum = "sha256 " + base64.b64encode(hashlib.sha256(b"x").digest()).decode()
        wrong_sum = http.patch(
            url,
            content=data[:10],
            headers={**headers, "Upload-Offset": "0", "Upload-Checksum": bad_sum},
        )
        assert wrong_sum.status_code == 460
        assert http.head(url).headers["Upload-Offset"] == "0"
        done = http.patch(url, content=data, headers={**headers, "Upload-Offset": "0"})
        assert done.status_code == 204
        assert done.headers["Custody-Recording"] == manifest.recording_id
        assert http.get(f"/api/v1/receipts/{manifest.recording_id}").status_code == 200


def test_fake_refuses_a_dock_without_its_token(tmp_path: Path) -> None:
    server = FakeServer()
    with httpx.Client(base_url=SERVER, transport=server.transport()) as http:
        assert http.get("/api/v1/receipts/x").status_code == 401
        assert http.get("/api/v1/server-key").status_code == 200
