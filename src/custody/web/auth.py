"""Portal sign-in and sign-out: `/login` (a server-rendered form) and `/logout`.

The session cookie is HttpOnly (no script reads it), SameSite=Lax (no other site's
form carries it in a POST) and Secure whenever the request came over TLS. The
sign-in form itself is protected from cross-site posting by a double-submit token
(a short-lived HttpOnly cookie and the same value in the form); every form after
sign-in carries the session's own CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from custody.domain.errors import InvalidInput, NotAuthenticated, TooManySignIns
from custody.services.audit_trail import trail
from custody.services.identity import resets, signin, users
from custody.web.deps import (
    SESSION_COOKIE,
    CurrentSession,
    SystemDep,
    client_actor,
    client_address,
    is_https,
    user_actor,
)
from custody.web.errors import error_response, status_for
from custody.web.guard import PUBLIC, SELF, access

router = APIRouter(include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
LOGIN_CSRF_COOKIE = "custody_login_csrf"
# Tells the sign-in that this browser's person has signed in from it before (OWASP's device
# cookie): failures elsewhere then do not hold it up. Sent to /login only.
DEVICE_COOKIE = "custody_device"
LOGIN_FORM_SECONDS = 3600
# Pages about signing in are never framed (clickjacking) nor cached.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
}


# Longer than any username (120): what a sign-in page gives back in its form, at most.
MAX_USERNAME_SHOWN = 200
RESET_CSRF_COOKIE = "custody_reset_csrf"
# What the set-your-password page reads: a code is 36 characters, a password at most 1024.
MAX_CODE = 100
UNUSABLE_CODE = "This code is unknown, used or expired: ask your administrator for a new one."


def wait_words(seconds: int) -> str:
    """A wait as people say it: "40 seconds", "1 minute", "15 minutes"."""
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = (seconds + 59) // 60
    return f"{minutes} minutes"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never an open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _login_page(
    request: Request,
    status: int,
    *,
    target: str,
    error: str | None = None,
    notice: str | None = None,
    username: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    html = templates.get_template("login.html").render(
        csrf_token=token, next=target, error=error, notice=notice, username=username
    )
    response = HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_FORM_SECONDS,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    return response


@router.get("/login", openapi_extra=access(PUBLIC))
async def login_form(
    request: Request,
    system: SystemDep,
    next: str | None = None,
    signed_out: bool = False,
    password_set: bool = False,
) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        try:
            await run_in_threadpool(signin.authenticate_session, system, secret)
            return RedirectResponse(safe_next(next), status_code=303)
        except NotAuthenticated:
            pass
    return _login_page(
        request,
        200,
        target=safe_next(next),
        notice=(
            "Your password is set: sign in with it."
            if password_set
            else "You have signed out."
            if signed_out
            else None
        ),
    )


@router.post("/login", openapi_extra=access(PUBLIC))
async def login(
    request: Request,
    system: SystemDep,
    # No length limits here: a form that breaks them would answer the validator's JSON, not
    # the page (the body itself is bounded by web/limits; the service refuses what is long).
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/"),
) -> Response:
    target = safe_next(next)
    username = username[:MAX_USERNAME_SHOWN]
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf_token, expected):
        reason = "the sign-in form's CSRF token is missing or wrong"
        await run_in_threadpool(
            trail.record_refusal,
            system,
            "user:request:csrf",
            client_actor(request, "anonymous"),
            reason,
            object_type="request",
            object_id="/login",
        )
        return _login_page(
            request,
            403,
            target=target,
            username=username,
            error="The sign-in form had expired. Please try again.",
        )
    try:
        signed = await run_in_threadpool(
            lambda: signin.sign_in(
                system,
                username,
                password,
                address=client_address(request),
                user_agent=request.headers.get("user-agent"),
                device=request.cookies.get(DEVICE_COOKIE),
            )
        )
    except TooManySignIns as exc:
        seconds = exc.retry_after_seconds
        return _login_page(
            request,
            429,
            target=target,
            username=username,
            error=(
                f"Too many failed sign-ins: try again in {wait_words(seconds)}, "
                "or ask an administrator to unlock your account."
            ),
            headers={"Retry-After": str(seconds)},
        )
    except NotAuthenticated:
        return _login_page(
            request, 401, target=target, username=username, error="Wrong username or password."
        )
    response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
    response.set_cookie(
        SESSION_COOKIE,
        signed.secret,
        max_age=int(signin.SESSION_POLICY.absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    if signed.device is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            signed.device,
            max_age=int(signin.DEVICE_LIFETIME.total_seconds()),
            path="/login",
            httponly=True,
            samesite="strict",
            secure=is_https(request),
        )
    return response


# --- setting your own password with a one-time code ----------------------------------------


def _reset_page(
    request: Request, status: int, *, errors: dict[str, str] | None = None
) -> HTMLResponse:
    """The set-your-password page: never a value typed back into it (the code is a secret)."""
    token = secrets.token_urlsafe(32)
    html = templates.get_template("password_reset.html").render(
        csrf_token=token,
        errors=errors or {},
        min_password=users.MIN_PASSWORD,
        hours=int(resets.RESET_LIFETIME.total_seconds() // 3600),
    )
    response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    response.set_cookie(
        RESET_CSRF_COOKIE,
        token,
        max_age=LOGIN_FORM_SECONDS,
        path="/password-reset",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    return response


@router.get("/password-reset", openapi_extra=access(PUBLIC))
async def password_reset_form(request: Request) -> Response:
    return _reset_page(request, 200)


@router.post("/password-reset", openapi_extra=access(PUBLIC))
async def password_reset(
    request: Request,
    system: SystemDep,
    code: str = Form(""),
    password: str = Form(""),
    again: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """The person completes their one-time code: the same service, rules and audit as
    `POST /api/v1/password-resets`; it signs nobody in."""
    expected = request.cookies.get(RESET_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf_token, expected):
        await run_in_threadpool(
            trail.record_refusal,
            system,
            "user:request:csrf",
            client_actor(request, "anonymous"),
            "the set-your-password form's CSRF token is missing or wrong",
            object_type="request",
            object_id="/password-reset",
        )
        return _reset_page(
            request, 403, errors={"code": "The form had expired. Please enter it again."}
        )
    errors: dict[str, str] = {}
    code = code.strip()
    if not code:
        errors["code"] = "Enter the code your administrator gave you."
    elif len(code) > MAX_CODE:
        errors["code"] = (
            "This code is unknown, used or expired: ask your administrator for a new one."
        )
    if not users.MIN_PASSWORD <= len(password) <= users.MAX_PASSWORD:
        errors["password"] = (
            f"Use at least {users.MIN_PASSWORD} characters (and at most {users.MAX_PASSWORD})."
        )
    elif password != again:
        errors["again"] = "The two passwords are not the same."
    if errors:
        return _reset_page(request, 400, errors=errors)
    try:
        await run_in_threadpool(
            lambda: resets.complete_reset(
                system, code, password, client_actor(request, "anonymous")
            )
        )
    except NotAuthenticated:
        return _reset_page(
            request,
            401,
            errors={"code": UNUSABLE_CODE},
        )
    except InvalidInput as exc:
        return _reset_page(
            request, 400, errors={"password": exc.message[:1].upper() + exc.message[1:]}
        )
    response = RedirectResponse("/login?password_set=1", status_code=303, headers=PAGE_HEADERS)
    response.delete_cookie(RESET_CSRF_COOKIE, path="/password-reset")
    return response


@router.post("/logout", openapi_extra=access(SELF))
async def logout(request: Request, system: SystemDep, portal: CurrentSession) -> Response:
    secret = request.cookies.get(SESSION_COOKIE, "")
    await run_in_threadpool(signin.sign_out, system, secret, user_actor(request, portal.principal))
    response = RedirectResponse("/login?signed_out=1", status_code=303, headers=PAGE_HEADERS)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )
    return response


def install(app: FastAPI) -> None:
    """Send people whose portal page needs a sign-in to the sign-in form; APIs keep JSON."""

    @app.exception_handler(NotAuthenticated)
    async def _sign_in_first(request: Request, exc: NotAuthenticated) -> Response:
        wants_page = "text/html" in request.headers.get("accept", "")
        if wants_page and request.method == "GET" and not request.url.path.startswith("/api/"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        return error_response(status_for(exc), exc.code, exc.message)
