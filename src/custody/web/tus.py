"""What tus 1.0.0 asks of the server beyond its routes: the method override, and the
protocol's headers and statuses in the OpenAPI document.

The routes themselves (creation, HEAD, PATCH, termination, OPTIONS) live in the API's
ingest module; they read the protocol's headers from the request, so FastAPI cannot see
them. `document` writes them into the OpenAPI document by path and method, with every
status each request can answer (https://tus.io/protocols/resumable-upload).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from custody.domain.uploads import MAX_UPLOAD_BYTES
from custody.web.errors import TUS_HEADERS, phrase_of

TUS_VERSION = TUS_HEADERS["Tus-Resumable"]
OVERRIDE_HEADER = b"x-http-method-override"


class MethodOverride:
    """tus: "The X-HTTP-Method-Override request header MUST be a string which MUST be
    interpreted as the request's method by the Server" — for clients whose environment
    cannot send PATCH or DELETE. Honoured under the tus endpoint only (`prefix`), where
    every request carries a dock's bearer token; nowhere else may a header change a
    request's method."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._under(scope.get("path", "")):
            for name, value in scope.get("headers", ()):
                if name == OVERRIDE_HEADER:
                    method = value.decode("latin-1").strip().upper()
                    if method.isalpha():
                        scope = {**scope, "method": method}
                    break
        await self.app(scope, receive, send)

    def _under(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


# --- the OpenAPI document ----------------------------------------------------------------


def _header(name: str, description: str, schema: dict[str, Any], *, required: bool) -> Any:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema,
    }


def _answer(description: str, schema: dict[str, Any], *, required: bool = True) -> Any:
    return {"description": description, "required": required, "schema": schema}


VERSION_SCHEMA = {"type": "string", "enum": [TUS_VERSION]}
COUNT = {"type": "integer", "minimum": 0}

TUS_RESUMABLE = _header(
    "Tus-Resumable",
    "The protocol version the client speaks; anything but 1.0.0 is answered 412.",
    VERSION_SCHEMA,
    required=True,
)
UPLOAD_LENGTH = _header(
    "Upload-Length",
    "The whole upload's size in bytes: the declared manifest's size (else 422), at most "
    "Tus-Max-Size (else 413). Upload-Defer-Length is not supported (400): a recording's "
    "size is known before it is sent.",
    COUNT,
    required=True,
)
UPLOAD_METADATA = _header(
    "Upload-Metadata",
    "Comma-separated `key base64(value)` pairs. `recording_id` is required: the recording "
    "whose manifest was declared with PUT /api/v1/manifests/{recording_id}.",
    {"type": "string"},
    required=True,
)
UPLOAD_OFFSET = _header(
    "Upload-Offset",
    "Where this chunk starts: the server's offset (HEAD), else 409 and nothing is written.",
    COUNT,
    required=True,
)
UPLOAD_CHECKSUM = _header(
    "Upload-Checksum",
    "`sha1 <base64 of the chunk's SHA-1>` or `sha256 <base64 of its SHA-256>` (tus "
    "checksum extension); a chunk whose bytes do not match is answered 460 and none of it "
    "is kept.",
    {"type": "string", "pattern": "^(sha1|sha256) [A-Za-z0-9+/]+={0,2}$"},
    required=False,
)


def _override(method: str) -> Any:
    return _header(
        "X-HTTP-Method-Override",
        f"A client that cannot send {method} sends POST with this header set to {method}.",
        {"type": "string", "enum": [method]},
        required=False,
    )


RESUMABLE = _answer("The protocol version the server speaks.", VERSION_SCHEMA)
EXPIRES = _answer(
    "When the unfinished upload expires (RFC 9110 HTTP-date); each chunk moves it on.",
    {"type": "string"},
)
OFFSET = _answer("The server's offset: bytes received and durably stored.", COUNT)
NO_STORE = _answer("An offset must never be cached.", {"type": "string", "enum": ["no-store"]})

# Why each status happens, per request (the error body is ErrorBody, except for HEAD).
REASONS: dict[str, dict[int, str]] = {
    "post": {
        400: "Upload-Length or Upload-Metadata missing or malformed, no declared manifest for "
        "the recording_id, or Upload-Defer-Length sent",
        401: "no dock token, or an unknown or revoked one",
        412: "Tus-Resumable is not 1.0.0",
        413: "Upload-Length exceeds Tus-Max-Size",
        422: "Upload-Length differs from the declared manifest's size (content_mismatch)",
    },
    "head": {
        401: "no dock token, or an unknown or revoked one",
        404: "no such upload",
        410: "the upload was terminated, failed or expired",
        412: "Tus-Resumable is not 1.0.0",
    },
    "patch": {
        400: "Upload-Offset missing or malformed, an unsupported Upload-Checksum, or a chunk "
        "that runs past Upload-Length",
        401: "no dock token, or an unknown or revoked one",
        404: "no such upload",
        409: "Upload-Offset differs from the server's offset (offset_mismatch), or the "
        "recording is stored already with other bytes (recording_conflict)",
        410: "the upload was terminated, failed or expired",
        412: "Tus-Resumable is not 1.0.0",
        408: "the body stopped arriving (no byte for the server's idle limit): what did "
        "arrive is kept unless Upload-Checksum was sent; ask HEAD for the offset and resume",
        415: "Content-Type is not application/offset+octet-stream",
        422: "the last chunk completed a file that does not match its manifest "
        "(content_mismatch): the upload has failed",
        423: "another request is writing to this upload right now",
        460: "the chunk's bytes do not match Upload-Checksum: none of them were kept",
    },
    "delete": {
        401: "no dock token, or an unknown or revoked one",
        404: "no such upload",
        410: "the upload was terminated already, or failed or expired",
        412: "Tus-Resumable is not 1.0.0",
    },
}


def _success(method: str) -> tuple[str, dict[str, Any]]:
    if method == "options":
        return "204", {
            "description": "What the server speaks (tus discovery)",
            "headers": {
                "Tus-Resumable": RESUMABLE,
                "Tus-Version": _answer("Protocol versions, by preference.", {"type": "string"}),
                "Tus-Extension": _answer(
                    "Extensions: creation, checksum, termination, expiration.",
                    {"type": "string"},
                ),
                "Tus-Max-Size": _answer(
                    f"The largest upload accepted, in bytes ({MAX_UPLOAD_BYTES}).", COUNT
                ),
                "Tus-Checksum-Algorithm": _answer(
                    "Algorithms Upload-Checksum may name.", {"type": "string"}
                ),
            },
        }
    if method == "post":
        return "201", {
            "description": "Upload created; send its bytes with PATCH to its Location",
            "headers": {
                "Tus-Resumable": RESUMABLE,
                "Location": _answer(
                    "The upload's absolute URL.", {"type": "string", "format": "uri"}
                ),
                "Upload-Expires": EXPIRES,
            },
        }
    if method == "head":
        return "200", {
            "description": "The upload's offset, to resume from (no body)",
            "headers": {
                "Tus-Resumable": RESUMABLE,
                "Upload-Offset": OFFSET,
                "Upload-Length": _answer("The upload's whole size.", COUNT),
                "Upload-Expires": EXPIRES,
                "Upload-Metadata": _answer(
                    "The Upload-Metadata the upload was created with, when it had any.",
                    {"type": "string"},
                    required=False,
                ),
                "Cache-Control": NO_STORE,
            },
        }
    if method == "patch":
        return "204", {
            "description": "The chunk is durably stored; with the last byte the recording "
            "is committed (its receipt: GET /api/v1/receipts/{recording_id})",
            "headers": {
                "Tus-Resumable": RESUMABLE,
                "Upload-Offset": OFFSET,
                "Upload-Expires": EXPIRES,
                "Custody-Recording": _answer(
                    "The recording id, once the last byte committed the recording.",
                    {"type": "string"},
                    required=False,
                ),
            },
        }
    return "204", {
        "description": "Upload terminated: its partial bytes are gone and it answers 410 from "
        "now on. A completed upload's recording is not touched.",
        "headers": {"Tus-Resumable": RESUMABLE},
    }


def _failure(method: str, status: int, reason: str, error_body: str) -> dict[str, Any]:
    headers: dict[str, Any] = {"Tus-Resumable": RESUMABLE}
    if status == 412:
        headers["Tus-Version"] = _answer("The version the server speaks.", {"type": "string"})
    if status == 401:
        headers["WWW-Authenticate"] = _answer("Bearer", {"type": "string"})
    answer: dict[str, Any] = {"description": f"{phrase_of(status)}: {reason}", "headers": headers}
    if method != "head":  # a HEAD answer has no body to describe
        answer["content"] = {"application/json": {"schema": {"$ref": error_body}}}
    return answer


def _parameters(method: str) -> list[Any]:
    if method == "post":
        return [TUS_RESUMABLE, UPLOAD_LENGTH, UPLOAD_METADATA]
    if method == "patch":
        return [TUS_RESUMABLE, UPLOAD_OFFSET, UPLOAD_CHECKSUM, _override("PATCH")]
    if method == "delete":
        return [TUS_RESUMABLE, _override("DELETE")]
    if method == "head":
        return [TUS_RESUMABLE]
    return []


def document(paths: dict[str, Any], prefix: str, error_body: str) -> None:
    """Write tus's headers and statuses into the operations of `{prefix}/uploads`."""
    operations = {
        f"{prefix}/uploads": ("options", "post"),
        f"{prefix}/uploads/{{upload_id}}": ("head", "patch", "delete"),
    }
    for path, methods in operations.items():
        item = paths.get(path, {})
        for method in methods:
            operation = item.get(method)
            if operation is None:
                continue
            kept = [p for p in operation.get("parameters", []) if p.get("in") != "header"]
            operation["parameters"] = kept + _parameters(method)
            if not operation["parameters"]:
                del operation["parameters"]
            status, success = _success(method)
            responses = {status: success}
            for code, reason in REASONS.get(method, {}).items():
                responses[str(code)] = _failure(method, code, reason, error_body)
            operation["responses"] = responses
            if method == "patch":
                operation["requestBody"] = {
                    "required": True,
                    "description": "The chunk's bytes, from Upload-Offset on.",
                    "content": {
                        "application/offset+octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                }
            operation["x-tus"] = TUS_VERSION
