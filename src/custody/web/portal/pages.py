"""What every portal page shares: the signed-in person, templates, navigation by role,
flash messages, security headers, and refusals shown as pages rather than JSON.

Portal routes use `PortalRoute`, so that a refusal from a service (404, 403, a bad
form) becomes a page the person can read, with the same status the API would give;
an expired session sends a browser to the sign-in form. Every route still declares
its access rule for `custody.web.guard`, and the services decide and audit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from custody.domain.access import (
    ROLE_TITLES,
    Action,
    SystemAction,
    acts_on_any_footage,
    lists_any,
    lists_own,
    lists_team,
    may,
    sees_complaint_holds,
)
from custody.domain.access import start_page as domain_start_page
from custody.domain.clock import parse_time
from custody.domain.errors import CustodyError, InvalidInput, NotAuthenticated
from custody.domain.principal import Principal
from custody.web.deps import MAX_REASON, CurrentUser, get_system, is_https
from custody.web.errors import status_for

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
FLASH_COOKIE = "custody_flash"
# What a page shows for a value there is none of: an en dash.
NOTHING = "\u2013"
# Where the force is: times on pages are local (the wire and the audit log stay UTC).
try:
    DISPLAY_ZONE: Any = ZoneInfo("Europe/London")
    ZONE_NAME = "UK time"
except ZoneInfoNotFoundError:  # a system without a time zone database
    from datetime import UTC

    DISPLAY_ZONE, ZONE_NAME = UTC, "UTC"
# Pages show personal data: never cached, never framed, scripts and styles only our own.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
}
ERROR_TITLES = {
    400: "That did not work",
    403: "You may not do that",
    404: "Not found",
    409: "That clashes with something",
    422: "That did not work",
    429: "Too many attempts",
}


# --- the person -------------------------------------------------------------------------


async def portal_principal(request: Request, user: CurrentUser) -> Principal:
    """The signed-in person, stating the reason the page carries (`?reason=`), if any.

    An investigator who searched with a stated reason follows links that carry it, so
    that opening and playing what they found is audited with the same reason.
    """
    reason = request.query_params.get("reason", "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason has at most {MAX_REASON} characters")
    return user.stating(reason) if reason else user


PortalUser = Annotated[Principal, Depends(portal_principal)]


def csrf_token(request: Request) -> str:
    """The session's CSRF token for this page's forms ("" for a bearer-token caller)."""
    portal = getattr(request.state, "portal_session", None)
    return str(portal.csrf_token) if portal is not None else ""


# --- navigation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    href: str
    label: str
    area: str


def navigation(user: Principal) -> list[Link]:
    """The areas this person's role works in, in the order they use them (from the rule
    table: no role is named here)."""
    viewer = user.viewer()
    links = []
    if lists_own(viewer) or lists_team(viewer):
        links.append(Link("/footage", "My footage", "footage"))
    if lists_any(viewer):
        links.append(Link("/search", "Search", "search"))
    if may(viewer, SystemAction.VIEW_CASES):
        links.append(Link("/cases", "Cases", "cases"))
    if acts_on_any_footage(viewer, Action.PLACE_HOLD) or sees_complaint_holds(viewer):
        links.append(Link("/holds", "Holds", "holds"))
    if may(viewer, SystemAction.SEE_COMPLAINT_HOLDS):
        links.append(Link("/complaints", "Complaints", "complaints"))
    if may(viewer, SystemAction.ANSWER_SUBJECT_ACCESS):
        links.append(Link("/subject-access", "Subject access", "subject_access"))
    if may(viewer, SystemAction.VIEW_COMPLIANCE):
        links.append(Link("/compliance", "Compliance", "compliance"))
    if may(viewer, SystemAction.VIEW_RETENTION):
        links.append(Link("/retention", "Retention", "retention"))
    if may(viewer, SystemAction.VERIFY_AUDIT):
        links.append(Link("/audit", "Audit", "audit"))
    if may(viewer, SystemAction.VIEW_FLEET):
        links.append(Link("/fleet", "Fleet", "fleet"))
    if admin_start(user) is not None:
        links.append(Link(admin_start(user) or "/admin", "Administration", "admin"))
    return links


def admin_start(user: Principal) -> str | None:
    """The first administration page this person may use, if any."""
    viewer = user.viewer()
    for action, href in (
        (SystemAction.MANAGE_USERS, "/admin/users"),
        (SystemAction.MANAGE_CATEGORIES, "/admin/categories"),
        (SystemAction.MANAGE_FLEET, "/admin/docks"),
    ):
        if may(viewer, action):
            return href
    return None


def start_page(user: Principal) -> str:
    """Where `/` takes a person: the page their role starts the day on."""
    return {
        "own_footage": "/footage",
        "team_footage": "/footage?team=1",
        "cases": "/cases",
        "fleet": "/fleet",
        "administration": admin_start(user) or "/search",
    }.get(domain_start_page(user.viewer()), "/search")


# --- formatting -------------------------------------------------------------------------


def local(when: datetime) -> datetime:
    return when.astimezone(DISPLAY_ZONE)


def when_filter(when: datetime | None, style: str = "full") -> str:
    """A time as people read it: "Tue 1 Oct 2026, 09:05" (or just the date or the time)."""
    if when is None:
        return NOTHING
    there = local(when)
    if style == "date":
        return f"{there:%a} {there.day} {there:%b %Y}"
    if style == "time":
        return f"{there:%H:%M}"
    if style == "input":
        return f"{there:%Y-%m-%dT%H:%M}"
    return f"{there:%a} {there.day} {there:%b %Y}, {there:%H:%M}"


def at_filter(text: str | None, style: str = "full") -> str:
    """An ISO 8601 time from a service's answer, as people read it."""
    return when_filter(parse_time(text), style) if text else NOTHING


ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def friendly_filter(text: str) -> str:
    """A service's sentence with its ISO 8601 times as people read them."""
    return ISO_TIME.sub(lambda match: when_filter(parse_time(match.group(0))), text)


def capitalize_first_filter(text: str) -> str:
    """The text with its first letter a capital (the rest left alone, unlike `capitalize`)."""
    return text[:1].upper() + text[1:]


def clock_filter(seconds: float | None) -> str:
    """A duration or a moment in a recording: "0:07", "7:00", "1:02:03"."""
    if seconds is None or math.isnan(seconds):
        return NOTHING
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def size_filter(size: int | None) -> str:
    """Bytes as people read them: "412 MB"."""
    if size is None:
        return NOTHING
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return (
                f"{value:.0f} {unit}" if unit == "bytes" or value >= 100 else f"{value:.1f} {unit}"
            )
        value /= 1000
    return f"{size} bytes"


def ago_filter(when: datetime | None, now: datetime) -> str:
    """How long ago: "5 minutes ago", "3 days ago"."""
    if when is None:
        return "never"
    gap = now - when
    if gap < timedelta(minutes=1):
        return "just now"
    if gap < timedelta(hours=1):
        return _plural(int(gap.total_seconds() // 60), "minute") + " ago"
    if gap < timedelta(days=1):
        return _plural(int(gap.total_seconds() // 3600), "hour") + " ago"
    return _plural(gap.days, "day") + " ago"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def plural_filter(count: int, word: str, words: str | None = None, exact: bool = True) -> str:
    """ "3 recordings"; for a count that stopped at its bound, "1000+ recordings"."""
    if not exact:
        return f"{count}+ {words or word + 's'}"
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"


def role_filter(role: str) -> str:
    return ROLE_TITLES.get(role, role).capitalize()


def query_filter(params: dict[str, Any], **changes: Any) -> str:
    """A query string from the current parameters with some changed (None removes one)."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(
    when=when_filter,
    at=at_filter,
    friendly=friendly_filter,
    capitalize_first=capitalize_first_filter,
    clock=clock_filter,
    size=size_filter,
    ago=ago_filter,
    plural=plural_filter,
    role=role_filter,
    query=query_filter,
)
templates.globals.update(ZONE_NAME=ZONE_NAME)


# --- responses --------------------------------------------------------------------------


def _flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, message = unquote(raw).partition("|")
    return (kind, message) if kind in ("ok", "error") and message else None


def render(
    request: Request,
    template: str,
    user: Principal | None,
    *,
    status: int = 200,
    area: str = "",
    title: str = "",
    **context: Any,
) -> HTMLResponse:
    """A page in the portal's layout, with the person's navigation and the forms' token."""
    system = get_system(request)
    flash = _flash(request)
    html = templates.get_template(template).render(
        request=request,
        user=user,
        nav=navigation(user) if user is not None else [],
        area=area,
        title=title,
        csrf_token=csrf_token(request),
        flash=flash,
        now=system.clock.now(),
        params=dict(request.query_params),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(
    request: Request, url: str, *, flash: str | None = None, kind: str = "ok"
) -> RedirectResponse:
    """See Other, after a form: the next page shows `flash` once (a short-lived cookie)."""
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    if flash:
        response.set_cookie(
            FLASH_COOKIE,
            quote(f"{kind}|{flash[:500]}"),
            max_age=120,
            path="/",
            httponly=True,
            samesite="lax",
            secure=is_https(request),
        )
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """A refusal as a page, with the status the API would give."""
    portal = getattr(request.state, "portal_session", None)
    user = portal.principal if portal is not None else None
    return render(
        request,
        "error.html",
        user,
        status=status,
        title=ERROR_TITLES.get(status, "Something went wrong"),
        status_code=status,
        message=message,
    )


def _wants_page(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _sign_in_again(request: Request) -> RedirectResponse:
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        # After a form, come back to the page it was on, not to the POST's address.
        referer = request.headers.get("referer", "")
        base = str(request.base_url).rstrip("/")
        target = referer[len(base) :] if referer.startswith(base + "/") else "/"
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


class PortalRoute(APIRoute):
    """An APIRoute whose refusals are pages: the portal's routers use it as `route_class`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except NotAuthenticated:
                if _wants_page(request):
                    return _sign_in_again(request)
                raise  # scripts and media requests keep the API's JSON 401
            except CustodyError as exc:
                return error_page(request, status_for(exc), _sentence(exc.message))
            except RequestValidationError as exc:
                return error_page(request, 400, _validation_message(exc))

        return handler


def _sentence(message: str) -> str:
    text = message.strip()
    if not text:
        return "Something was refused."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = str(first.get("loc", ("", "value"))[-1]).replace("_", " ")
    return _sentence(f"{where}: {first.get('msg', 'not valid')}")
