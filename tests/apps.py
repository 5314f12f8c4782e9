"""Applications lent to tests, one after another, instead of one made for each.

FastAPI builds each route's state (its dependencies, its models) on an application's first
request: about 0.4 s of CPU for Custody's routes, which the suite would pay in hundreds of
tests. An application keeps nothing of a request's but in the database and store of its
system (`app.state.system`, read by every route), so a test is lent one used before and
given its own system. A test's applications come back when it ends (conftest's
`_lent_applications`); those made outside a test (a module's or the session's server) are
made fresh and kept by whoever made them. A test that changes its application (a route
of its own) makes it with `create_app`: a lent one may have built and kept its OpenAPI
document already.
"""

from __future__ import annotations

from fastapi import FastAPI

from custody.services.system import System
from custody.web.app import create_app

_idle: list[FastAPI] = []
_lent: list[FastAPI] = []
_lending = False
_routes: dict[int, int] = {}  # an application's routes as made, by id


def app_for(system: System) -> FastAPI:
    """`create_app(system)`, lent for the rest of the test when called inside one."""
    if not _lending:
        return create_app(system)
    if _idle:
        app = _idle.pop()
    else:
        app = create_app(system)
        _routes[id(app)] = len(app.routes)
    app.state.system = system
    _lent.append(app)
    return app


def lend() -> None:
    global _lending
    _lending = True


def give_back() -> None:
    """Every application lent since `lend`, back to the idle ones, holding no system; one
    a test changed (a route of its own, an override) is dropped."""
    global _lending
    _lending = False
    for app in _lent:
        app.state.system = None
        if not app.dependency_overrides and len(app.routes) == _routes[id(app)]:
            _idle.append(app)
        else:
            del _routes[id(app)]
    _lent.clear()
