"""Every refusal becomes JSON `{"error": {"code", "message"}}` with its status, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from custody.domain import errors

STATUS: dict[type[errors.CustodyError], int] = {
    errors.ChecksumMismatch: 460,
    errors.UploadLocked: 423,
    errors.UploadGone: 410,
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
}

TUS_HEADERS = {"Tus-Resumable": "1.0.0"}


def status_for(exc: errors.CustodyError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = dict(TUS_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into JSON errors."""

    @app.exception_handler(errors.CustodyError)
    async def _custody(_: Request, exc: errors.CustodyError) -> JSONResponse:
        return error_response(status_for(exc), exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
        return error_response(422, "invalid_request", message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))
