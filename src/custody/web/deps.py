"""Typed dependencies: the system, the calling user or dock, who to audit as, and permissions.

People authenticate with a bearer token (scripts, the API) or the portal's session
cookie. A cookie is sent by the browser whoever asked for the request, so every
unsafe request (POST, PUT, PATCH, DELETE) that rides on the cookie must also carry
the session's CSRF token, in a form's hidden field or the X-CSRF-Token header.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.errors import InvalidInput, NotAuthenticated, NotPermitted
from custody.domain.principal import Principal
from custody.services import access as access_door
from custody.services.audit_trail import trail
from custody.services.fleet import registry
from custody.services.fleet.registry import DockIdentity
from custody.services.identity import signin, tokens
from custody.services.identity.signin import PortalSession
from custody.services.system import System

SESSION_COOKIE = "custody_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# Why an investigator looks at footage outside their cases: recorded on every event.
REASON_HEADER = "custody-reason"
MAX_REASON = 500
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfRefused(NotPermitted):
    code = "csrf_refused"


def get_system(request: Request) -> System:
    system: System = request.app.state.system
    return system


SystemDep = Annotated[System, Depends(get_system)]


def _trusts_proxy(request: Request) -> bool:
    return bool(get_system(request).settings.trusted_proxy)


def is_https(request: Request) -> bool:
    """Whether the person reached us over TLS (through a trusted proxy, if one is configured)."""
    if request.url.scheme == "https":
        return True
    if _trusts_proxy(request):
        forwarded = request.headers.get("x-forwarded-proto", "")
        return forwarded.split(",")[0].strip().lower() == "https"
    return False


def client_address(request: Request) -> str | None:
    """The caller's address: the proxy's X-Forwarded-For only when the proxy is trusted.

    The trusted proxy appends the address it saw to whatever the client sent, so only the
    last entry is the proxy's word; the ones before it are the client's and may be forged.
    """
    if _trusts_proxy(request):
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:64]
    return request.client.host if request.client else None


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("send a bearer token: Authorization: Bearer <token>")
    return token.strip()


def _bearer(request: Request) -> str:
    token = _bearer_token(request)
    if token is None:
        raise NotAuthenticated("send a bearer token: Authorization: Bearer <token>")
    return token


def stated_reason(request: Request) -> str | None:
    """The reason the request states for itself (the Custody-Reason header), if any."""
    reason = request.headers.get(REASON_HEADER)
    if reason is None or not reason.strip():
        return None
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"{REASON_HEADER} is at most {MAX_REASON} characters")
    return reason.strip()


async def csrf_token_of(request: Request) -> str | None:
    """The CSRF token a request carries: its header, or its form's hidden field."""
    supplied = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if supplied is None and content_type.startswith(FORM_TYPES):
        # Starlette keeps the parsed form on the request: the route reads it again for free.
        value = (await request.form()).get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    return supplied


async def check_csrf(request: Request, system: System, portal: PortalSession) -> None:
    """Refuse (audited) an unsafe cookie-borne request without the session's CSRF token."""
    supplied = await csrf_token_of(request)
    if supplied is not None and hmac.compare_digest(supplied, portal.csrf_token):
        return
    reason = "the request's CSRF token is missing or wrong: reload the page and try again"
    actor = client_actor(request, f"user:{portal.principal.username}")
    await run_in_threadpool(
        trail.record_refusal,
        system,
        "user:request:csrf",
        actor,
        reason,
        object_type="request",
        object_id=request.url.path[:80],
    )
    raise CsrfRefused(reason)


async def current_session(request: Request, system: SystemDep) -> PortalSession:
    """The portal session behind the request's cookie; CSRF-checked for unsafe methods."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        raise NotAuthenticated("sign in first")
    portal = await run_in_threadpool(signin.authenticate_session, system, secret)
    if request.method not in SAFE_METHODS:
        await check_csrf(request, system, portal)
    request.state.portal_session = portal
    return portal


async def current_user(request: Request, system: SystemDep) -> Principal:
    """The person behind a bearer token or, failing that, the portal's session cookie."""
    token = _bearer_token(request)
    if token is not None:
        principal = await run_in_threadpool(tokens.authenticate_token, system, token)
    elif request.cookies.get(SESSION_COOKIE):
        principal = (await current_session(request, system)).principal
    else:
        raise NotAuthenticated("sign in, or send a bearer token: Authorization: Bearer <token>")
    return principal.stating(stated_reason(request))


async def current_dock(request: Request, system: SystemDep) -> DockIdentity:
    token = _bearer(request)
    return await run_in_threadpool(registry.authenticate_dock, system, token)


CurrentUser = Annotated[Principal, Depends(current_user)]
CurrentDock = Annotated[DockIdentity, Depends(current_dock)]
CurrentSession = Annotated[PortalSession, Depends(current_session)]


def client_actor(request: Request, name: str, reason: str | None = None) -> Actor:
    return Actor(name, client_address(request), request.headers.get("user-agent"), reason)


def user_actor(request: Request, principal: Principal) -> Actor:
    return principal.actor(client_address(request), request.headers.get("user-agent"))


def dock_actor(request: Request, dock: DockIdentity) -> Actor:
    return client_actor(request, f"dock:{dock.name}")


class Permit:
    """A dependency: the signed-in person, if `may` lets them do `action` (refusals audited).

    Use it as the route's user: `admin: Annotated[Principal, Depends(Permit(X))]`, and
    declare the same rule: `openapi_extra=access(X)`; the route check matches the two.
    """

    def __init__(self, action: SystemAction) -> None:
        self.action = action

    def __repr__(self) -> str:
        return f"Permit({self.action.name})"

    async def __call__(self, request: Request, system: SystemDep, user: CurrentUser) -> Principal:
        # The one door (services.access): the same rule table, the same audited refusal.
        await run_in_threadpool(
            access_door.permit, system, user, self.action, user_actor(request, user)
        )
        return user
