"""Every refusal becomes JSON `{"error": {"code", "message"}}` with its status, in one place.

`ErrorBody` is that shape as a model, for the OpenAPI document (`custody.web.openapi`
documents it on every operation); `errors_for` is what a route adds to `responses=` when
its use case can refuse in a way its access rule and parameters do not already tell.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from custody.domain import errors
from custody.domain.shares import MailFailed

STATUS: dict[type[errors.CustodyError], int] = {
    errors.ChecksumMismatch: 460,
    errors.UploadLocked: 423,
    errors.UploadGone: 410,
    errors.Gone: 410,
    errors.OffsetMismatch: 409,
    errors.RecordingConflict: 409,
    errors.Conflict: 409,
    errors.ContentMismatch: 422,
    errors.SignatureInvalid: 422,
    errors.UnknownCamera: 422,
    errors.ManifestInvalid: 422,
    errors.ReceiptInvalid: 422,
    errors.InvalidInput: 400,
    errors.NotFound: 404,
    errors.NotAuthenticated: 401,
    errors.NotPermitted: 403,
    errors.UnknownDock: 401,
    errors.TooManySignIns: 429,
    errors.TooManyUploads: 429,
    # The mail server, upstream of us, did not take a share's message.
    MailFailed: 502,
    errors.StoreUnavailable: 503,
    errors.NotReady: 503,
    errors.ObjectLocked: 409,
}

TUS_HEADERS = {"Tus-Resumable": "1.0.0"}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Codes of the statuses Starlette raises itself (routing, body parsing).
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class ErrorDetail(BaseModel):
    """What was refused: a stable code for programs and a sentence for people."""

    code: str = Field(description="stable and machine-readable, e.g. not_found, conflict")
    message: str = Field(description="for people: what was wrong and, where it helps, what to do")


class ErrorBody(BaseModel):
    """Every error answer of the API (a few add fields beside code and message)."""

    error: ErrorDetail


def status_for(exc: errors.CustodyError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON error answer; 401 says how to authenticate (RFC 9110 WWW-Authenticate)."""
    merged = {**TUS_HEADERS, **(headers or {})}
    if status == 401:
        merged["WWW-Authenticate"] = "Bearer"
    body = ErrorBody(error=ErrorDetail(code=code, message=message))
    return JSONResponse(body.model_dump(), status, headers=merged)


def _status_of(refusal: type[errors.CustodyError] | int) -> int:
    if isinstance(refusal, int):
        return refusal
    for cls in refusal.__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def errors_for(*refusals: type[errors.CustodyError] | int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the refusals a route's use case adds to those its rule and parameters
    already document: `@router.post(..., responses=errors_for(Conflict))`.

    Give the typed errors (their status comes from `STATUS`) or, for an answer a route
    makes itself, the status (`errors_for(416)`).
    """
    codes: dict[int, list[str]] = {}
    for refusal in refusals:
        found = codes.setdefault(_status_of(refusal), [])
        if not isinstance(refusal, int):
            found.append(refusal.code)
    documented: dict[int | str, dict[str, Any]] = {}
    for status, names in sorted(codes.items()):
        phrase = phrase_of(status)
        documented[status] = {
            "model": ErrorBody,
            "description": f"{phrase} ({', '.join(names)})" if names else phrase,
        }
    return documented


def phrase_of(status: int) -> str:
    """The status's reason phrase, including tus's own 460."""
    if status == 460:
        return "Checksum Mismatch"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Status {status}"


def allowed_methods(request: Request) -> str:
    """Every method the request's path has, for a 405's Allow.

    Starlette's 405 names only the methods of the first route that matched the path, and
    a path served by a route per method (the tus upload: HEAD, PATCH, DELETE, OPTIONS) has
    several. Each method is matched against the app's routes as a request would be.
    """
    routes = request.app.router.routes
    allowed = [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into JSON errors."""

    @app.exception_handler(errors.CustodyError)
    async def _custody(_: Request, exc: errors.CustodyError) -> JSONResponse:
        headers = None
        if isinstance(exc, errors.TooManySignIns):
            headers = {"Retry-After": str(exc.retry_after_seconds)}
        if isinstance(exc, errors.RecordingStored):
            # The dock fetches the receipt there instead of uploading again.
            headers = {"Location": f"/api/v1/receipts/{exc.recording_id}"}
        return error_response(status_for(exc), exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
        return error_response(422, "invalid_request", message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Keep the exception's headers: a 405 must say what is Allowed (RFC 9110 15.5.6).
        code = HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return error_response(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        # A 500 is a bug; it still answers in the shape every client parses. Starlette
        # re-raises the exception after this answer, so the server logs its traceback.
        return error_response(500, "internal_error", "the server failed; the error is logged")
