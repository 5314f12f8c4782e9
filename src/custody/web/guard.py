"""Every route declares the access rule that guards it; `check_routes` refuses routes without one.

A route's rule is one of:

- `"public"`: anyone, signed in or not (health, the server's public key, sign-in, tus
  discovery, the API documentation);
- `"dock"`: a dock token (uploads and reports, nothing else);
- `"self"`: any signed-in person, acting on their own account (`/me`, sign-out);
- `"recording:<action>"`: a signed-in person whom `custody.domain.access.decide` lets
  do that `Action` to the recording (the service asks, with the recording's facts,
  and audits a refusal);
- `"system:<action>"`: a signed-in person whom `custody.domain.access.may` lets do
  that `SystemAction` (a `Permit` dependency on the route asks and audits a refusal,
  or else the service does).

API and portal routes (FastAPI `APIRoute`s, whether in the OpenAPI schema or not)
declare it with `openapi_extra=access(rule)`, so the rule is in the OpenAPI document
too. Other routes (static files, mounted apps) are marked with `mark(route, "public")`
and may only be public: nothing could check who calls them.

`check_routes(app)` is what makes the declarations real: it fails for a route with
no rule or an unknown rule, for a non-public route that authenticates nobody, for a
dock route without a dock token, and for a route whose `Permit` asks about another
action than it declares. The route-coverage test runs it over the whole app, and
probes every guarded route with no credentials, the wrong kind of token and the
wrong role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

from custody.domain.access import Action, SystemAction

ACCESS_KEY = "x-custody-access"
ROUTE_ATTRIBUTE = "custody_access"
# Rules that need no signed-in person.
PUBLIC = "public"
# Dock tokens: upload and report, nothing else.
DOCK = "dock"
# Any signed-in person, about themselves.
SELF = "self"
RECORDING = "recording:"
SYSTEM = "system:"

Rule = str | Action | SystemAction


def rule_name(rule: Rule) -> str:
    """The declared name of a rule: `Action.VIEW` is "recording:view", and so on."""
    if isinstance(rule, Action):
        return RECORDING + rule.value
    if isinstance(rule, SystemAction):
        return SYSTEM + rule.value
    return rule


def validate(rule: Rule) -> str:
    """The rule's name; ValueError unless it names a real rule."""
    name = rule_name(rule)
    if name in (PUBLIC, DOCK, SELF):
        return name
    kind, _, action = name.partition(":")
    try:
        if kind + ":" == RECORDING:
            Action(action)
            return name
        if kind + ":" == SYSTEM:
            SystemAction(action)
            return name
    except ValueError:
        pass
    raise ValueError(
        f"{name!r} is not an access rule (public, dock, self, recording:<action> "
        "or system:<action>)"
    )


def access(rule: Rule) -> dict[str, Any]:
    """`openapi_extra` for a route: `@router.get(..., openapi_extra=access("recording:view"))`."""
    return {ACCESS_KEY: validate(rule)}


def mark(route: BaseRoute, rule: Rule) -> BaseRoute:
    """Declare the rule of a route that is not an APIRoute (a static mount): public only."""
    name = validate(rule)
    if name != PUBLIC:
        raise ValueError("only FastAPI routes can check who calls them: mount public files only")
    setattr(route, ROUTE_ATTRIBUTE, name)
    return route


def declared_rule(route: BaseRoute) -> str | None:
    """The rule a route declares, if any."""
    if isinstance(route, APIRoute):
        extra = route.openapi_extra or {}
        found = extra.get(ACCESS_KEY)
        return found if isinstance(found, str) else None
    found = getattr(route, ROUTE_ATTRIBUTE, None)
    return found if isinstance(found, str) else None


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _flatten(routes: list[BaseRoute]) -> Iterator[tuple[str, BaseRoute]]:
    """Each route with its full path, through included routers, whatever FastAPI's version."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is None:  # FastAPI before included routers were kept lazily
        for route in routes:
            yield str(getattr(route, "path", "")), route
        return
    for context in contexts(routes):
        yield str(context.path or ""), context.original_route


def _routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    for path, route in _flatten(routes):
        inner = list(route.routes) if isinstance(route, Mount) else []
        # A mounted router's routes are checked one by one; a mounted app (static files)
        # has none to look into and must be marked itself.
        if inner and getattr(route, ROUTE_ATTRIBUTE, None) is None:
            yield from _routes(inner, prefix + path)
        else:
            yield prefix + path, route


def _framework_paths(app: FastAPI) -> set[str]:
    """The routes FastAPI adds for its own documentation: public by nature."""
    paths = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    return {path for path in paths if path}


def check_routes(
    app: FastAPI,
    *,
    user_auth: set[Callable[..., Any]] | None = None,
    dock_auth: set[Callable[..., Any]] | None = None,
) -> list[str]:
    """Every problem with the app's routes' declared rules (empty: every route is guarded)."""
    from custody.web import deps

    user_auth = user_auth if user_auth is not None else {deps.current_user, deps.current_session}
    dock_auth = dock_auth if dock_auth is not None else {deps.current_dock}
    problems = []
    framework = _framework_paths(app)
    for path, route in _routes(list(app.routes)):
        methods = ",".join(sorted(getattr(route, "methods", None) or [])) or "*"
        where = f"{methods} {path}"
        rule = declared_rule(route)
        if rule is None:
            if path in framework and not isinstance(route, APIRoute):
                continue
            problems.append(f"{where}: no access rule declared (openapi_extra=access(...))")
            continue
        try:
            validate(rule)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if not isinstance(route, APIRoute):
            if rule != PUBLIC:
                problems.append(f"{where}: only FastAPI routes can be guarded by {rule!r}")
            continue
        problems.extend(_check_dependencies(where, rule, route, user_auth, dock_auth))
    return problems


def _check_dependencies(
    where: str,
    rule: str,
    route: APIRoute,
    user_auth: set[Callable[..., Any]],
    dock_auth: set[Callable[..., Any]],
) -> list[str]:
    from custody.web.deps import Permit

    calls = list(_calls(route.dependant))
    users = any(call in user_auth or isinstance(call, Permit) for call in calls)
    docks = any(call in dock_auth for call in calls)
    if rule == PUBLIC:
        return []
    if rule == DOCK:
        return [] if docks else [f"{where}: declared {rule!r} but does not ask for a dock token"]
    if not users:
        return [f"{where}: declared {rule!r} but authenticates nobody"]
    permits = [call.action for call in calls if isinstance(call, Permit)]
    if rule.startswith(SYSTEM):
        wanted = SystemAction(rule.removeprefix(SYSTEM))
        # A Permit enforces the rule before the route runs; without one the service must
        # (with `may`, audited), which the route-coverage test probes with a wrong role.
        if permits and wanted not in permits:
            return [
                f"{where}: declared {rule!r} but its Permit asks about "
                f"{', '.join(p.value for p in permits)}"
            ]
    elif permits:
        return [f"{where}: declared {rule!r} but has a Permit for a system action"]
    return []
