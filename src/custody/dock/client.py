"""The server's dock API over HTTP: manifests, receipts, camera reports and tus 1.0.0 uploads.

Every answer is turned into a value or a typed error here, so the upload logic reads
as the protocol and never as status codes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.dock.errors import ApiError, ServerBusy, Unreachable
from custody.domain import errors
from custody.domain.clock import parse_time
from custody.domain.signing import load_public_key

API = "/api/v1"
TUS_VERSION = "1.0.0"
# At a shift change thousands of docks call at once and a request may wait its turn in
# the balancer's queue for minutes (docs/deploy.md): a dock that gave up sooner would only
# send it again, to the back of the queue.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=120.0, pool=60.0)
# The server commits a recording while answering its last PATCH: it re-reads and hashes
# the whole file first, which for a 4-hour recording takes a while.
PATCH_READ_TIMEOUT = 600.0
# A chunk's body is handed to the HTTP stack in pieces of this size: httpcore's socket write
# slices off what each send() took and copies the rest, so a 64 MiB chunk handed over whole
# was copied some twenty times (most of the dock's CPU); a piece's rest is at most a MiB.
BODY_PIECE = 1 << 20

# Refusals the dock handles by kind, found by the code in the JSON error body.
_KNOWN: dict[str, type[errors.CustodyError]] = {
    cls.code: cls
    for cls in (
        errors.ManifestInvalid,
        errors.SignatureInvalid,
        errors.UnknownCamera,
        errors.UnknownDock,
        errors.RecordingConflict,
        errors.OffsetMismatch,
        errors.ContentMismatch,
        errors.ChecksumMismatch,
        errors.UploadGone,
        errors.UploadLocked,
        errors.NotAuthenticated,
        errors.NotPermitted,
        errors.InvalidInput,
    )
}


@dataclass(frozen=True)
class UploadOffer:
    """An unfinished upload of a recording that the server still holds."""

    upload_id: str
    offset: int
    length: int
    url: str


@dataclass(frozen=True)
class Declared:
    """The server's answer to a manifest: stored already, or where uploads stand."""

    recording_id: str
    stored: bool
    receipt: dict[str, Any] | None
    uploads: tuple[UploadOffer, ...]


@dataclass(frozen=True)
class UploadState:
    offset: int
    length: int


@dataclass(frozen=True)
class Patched:
    """The server's offset after a PATCH, and the recording it committed, if it did."""

    offset: int
    recording_id: str | None


@dataclass(frozen=True)
class CameraReport:
    serial: str
    bay: str
    battery_percent: int | None
    free_bytes: int | None
    firmware: str | None
    recordings_waiting: int

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "bay": self.bay,
            "battery_percent": self.battery_percent,
            "free_bytes": self.free_bytes,
            "firmware": self.firmware,
            "recordings_waiting": self.recordings_waiting,
        }


@dataclass(frozen=True)
class CardCheckout:
    """The server's answer to a card presented at the dock: who now holds which camera."""

    assignment_id: int
    camera: str
    officer: str
    officer_name: str
    started_at: datetime


class DockClient:
    """One dock's HTTP conversation with the server; safe to share between threads."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        connections: int = 8,
    ) -> None:
        self.server = httpx.URL(server.rstrip("/") + "/")
        self._patch_timeout = httpx.Timeout(
            connect=timeout.connect,
            read=max(timeout.read or 0.0, PATCH_READ_TIMEOUT),
            write=timeout.write,
            pool=timeout.pool,
        )
        self._http = httpx.Client(
            base_url=self.server,
            transport=transport,
            timeout=timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            headers={"Authorization": f"Bearer {token}", "Tus-Resumable": TUS_VERSION},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DockClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never the token.
        return f"DockClient({str(self.server)!r})"

    def resolve(self, location: str) -> str:
        """An upload URL from the server (an absolute path, usually) made absolute."""
        return str(self.server.join(location))

    # --- the dock API ---

    def server_key(self) -> Ed25519PublicKey:
        """The key the server signs receipts with, as the server states it."""
        body = self._json(self._send("GET", f"{API}/server-key"))
        if body.get("algorithm") != "Ed25519" or not isinstance(body.get("public_key"), str):
            raise ApiError(200, "bad_answer", "the server key is not an Ed25519 key")
        return load_public_key(body["public_key"])

    def report(self, report: CameraReport) -> None:
        """Tell the server a camera is docked; UnknownCamera if it is not registered."""
        response = self._send("POST", f"{API}/docks/reports", json=report.to_json())
        if response.status_code == 404:
            raise errors.UnknownCamera(_message(response) or f"camera {report.serial} unknown")
        self._check(response)

    def checkout(self, card_id: str, serial: str) -> CardCheckout:
        """An officer's card at the dock: the server assigns them the docked pool camera."""
        response = self._send(
            "POST", f"{API}/docks/checkouts", json={"card_id": card_id, "serial": serial}
        )
        body = self._json(response)
        try:
            return CardCheckout(
                assignment_id=int(body["assignment_id"]),
                camera=str(body["camera"]),
                officer=str(body["officer"]),
                officer_name=str(body.get("officer_name") or ""),
                started_at=parse_time(str(body["started_at"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(response.status_code, "bad_answer", f"odd checkout: {exc}") from exc

    def heartbeat(self, docked: list[str]) -> None:
        """Tell the server the dock is alive and which cameras sit in its bays now."""
        self._check(self._send("POST", f"{API}/docks/heartbeat", json={"docked": docked}))

    def declare(self, recording_id: str, document: dict[str, Any]) -> Declared:
        """Send a signed manifest before its footage; learn what the server already holds."""
        response = self._send("PUT", f"{API}/manifests/{recording_id}", json=document)
        body = self._json(response)
        try:
            offers = tuple(
                UploadOffer(
                    str(u["upload_id"]), int(u["offset"]), int(u["length"]), self.resolve(u["url"])
                )
                for u in body.get("uploads") or ()
            )
            receipt = body.get("receipt")
            return Declared(
                str(body["recording_id"]),
                bool(body["stored"]),
                receipt if isinstance(receipt, dict) else None,
                offers,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(response.status_code, "bad_answer", f"manifest answer: {exc}") from exc

    def receipt(self, recording_id: str) -> dict[str, Any] | None:
        """The signed receipt of a stored recording, or None if the server does not hold it."""
        response = self._send("GET", f"{API}/receipts/{recording_id}")
        if response.status_code == 404:
            return None
        return self._json(response)

    # --- tus 1.0.0 ---

    def create_upload(self, recording_id: str, filename: str, length: int) -> str:
        """Open a tus upload of `length` bytes; returns its absolute URL."""
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode('ascii')}"
            for key, value in (("recording_id", recording_id), ("filename", filename))
        )
        response = self._send(
            "POST",
            f"{API}/uploads",
            headers={"Upload-Length": str(length), "Upload-Metadata": metadata},
        )
        self._check(response)
        location = response.headers.get("Location")
        if not location:
            raise ApiError(response.status_code, "bad_answer", "upload created without Location")
        return self.resolve(location)

    def head(self, url: str) -> UploadState:
        """The server's offset of an upload; UploadGone if it ended or expired."""
        response = self._send("HEAD", url)
        self._check(response, upload=True)
        return UploadState(
            _int_header(response, "Upload-Offset"), _int_header(response, "Upload-Length")
        )

    def patch(self, url: str, offset: int, chunk: bytes, sha256: bytes) -> Patched:
        """Append `chunk` at `offset`, with its SHA-256 for the server to check."""
        response = self._send(
            "PATCH",
            url,
            content=_pieces(chunk),
            timeout=self._patch_timeout,
            headers={
                "Content-Type": "application/offset+octet-stream",
                # Stated, so that the pieces go as one body of known length (not chunked).
                "Content-Length": str(len(chunk)),
                "Upload-Offset": str(offset),
                "Upload-Checksum": "sha256 " + base64.b64encode(sha256).decode("ascii"),
            },
        )
        return self._patched(response)

    def finish(self, url: str, length: int) -> Patched:
        """An empty PATCH at the end of a complete upload: makes the server commit it."""
        response = self._send(
            "PATCH",
            url,
            content=b"",
            timeout=self._patch_timeout,
            headers={
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(length),
            },
        )
        return self._patched(response)

    def terminate(self, url: str) -> None:
        """End an upload and let the server drop its partial bytes."""
        self._check(self._send("DELETE", url), upload=True)

    # --- plumbing ---

    def _patched(self, response: httpx.Response) -> Patched:
        self._check(response, upload=True)
        return Patched(
            _int_header(response, "Upload-Offset"), response.headers.get("Custody-Recording")
        )

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            # Connection refused or reset, timeouts, a server killed mid-answer: all may pass.
            raise Unreachable(f"{method} {_path(url)}: {type(exc).__name__}: {exc}") from exc

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        self._check(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "bad_answer", "the answer is not JSON") from exc
        if not isinstance(body, dict):
            raise ApiError(response.status_code, "bad_answer", "the answer is not a JSON object")
        return body

    def _check(self, response: httpx.Response, *, upload: bool = False) -> None:
        """Raise the typed error an answer stands for; return quietly on success."""
        status = response.status_code
        if status < 300:
            return
        code, message = _error(response)
        if status >= 500 or status in (408, 429):
            raise ServerBusy(status, message or response.reason_phrase)
        # tus gives these statuses their meaning whatever the body says (HEAD has no body).
        if status == 460:
            raise errors.ChecksumMismatch(message or "the chunk's checksum did not match")
        if status == 423:
            raise errors.UploadLocked(message or "another request holds the upload")
        if upload and status in (404, 410):
            raise errors.UploadGone(message or "the upload is gone")
        if code == "recording_stored":
            # A new upload of a stored recording is refused: like an upload that ended
            # committed, its receipt is what the dock wants (the uploader fetches it).
            raise errors.UploadGone(message)
        known = _KNOWN.get(code)
        if known is not None:
            raise known(message or code)
        raise ApiError(status, code or "http_error", message or response.reason_phrase)


def _error(response: httpx.Response) -> tuple[str, str]:
    """The code and message of a JSON error body, or empty strings."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def _message(response: httpx.Response) -> str:
    return _error(response)[1]


def _int_header(response: httpx.Response, name: str) -> int:
    value = response.headers.get(name, "")
    if not value.isdigit():
        raise ApiError(response.status_code, "bad_answer", f"{name} is missing or not a number")
    return int(value)


def _path(url: str) -> str:
    return httpx.URL(url).path if "://" in url else url


def _pieces(chunk: bytes) -> Iterator[bytes]:
    """The chunk in pieces of `BODY_PIECE`, each copied once (the HTTP stack sends them as
    they are)."""
    for start in range(0, len(chunk), BODY_PIECE):
        yield chunk[start : start + BODY_PIECE]
