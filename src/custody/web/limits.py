"""Request bodies are bounded before anything parses them; numbers and text must be storable.

`BodyLimit` is pure ASGI, outside every route: a request that declares a longer body
(Content-Length) is answered 413 before a byte of it is read, and one that sends more
than it may (chunked, or longer than it said) is cut off at the bound and answered 413
too, whatever the route was doing with it. JSON, forms and CSV files are parsed whole
in memory, so without this a single request could exhaust a server's memory.

The tus PATCH is the one body streamed to disk as it arrives; its bound is the upload's
own Upload-Length (checked by the tus route), so it passes through unbounded here.

`storable_input` is the like rule for what a request says, in its path, its query and a
JSON or form body: integers (ids, offsets, counts) within 64 bits, text without NUL
characters, and times from 1900 to 2999 (`custody.domain.clock.within_range`). Python's
integers are unbounded and a database column is not; PostgreSQL refuses NUL in text; a
time like year 1 at +14:00 cannot be said in UTC at all. Each used to reach a query or the
retention arithmetic and fail there (500). It runs for every route before the route's own
code, so no route has to remember it.

`whole_number` reads a header that carries a number (Content-Length, Upload-Length,
Upload-Offset) as HTTP says: ASCII digits only. Python's `int` also takes "١٢" (12) and
`str.isdigit` also passes "²", on which `int` fails.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custody.domain.clock import TIME_RANGE, within_range
from custody.web.deps import FORM_TYPES
from custody.web.errors import error_response

# What a person or a dock sends as JSON or a form: a few fields, a list of at most a page
# (500) of ids, a note of a few thousand characters. Routes that need more say so: the
# manifest PUT (`custody.domain.manifest.MAX_MANIFEST_BYTES`), the CSV import.
MAX_BODY_BYTES = 256 * 1024
# The largest integer a database column holds (signed 64 bits, SQLite and PostgreSQL).
MAX_INTEGER = 2**63 - 1
TOO_BIG = f"must be within ±{MAX_INTEGER}"
NUL = "must not contain a NUL character"


_TIME: TypeAdapter[datetime] = TypeAdapter(datetime)


class BodyTooLarge(Exception):
    """Raised into the app by `receive` when the body passes its bound."""


def whole_number(text: str | None) -> int | None:
    """A header's non-negative whole number (1*DIGIT, ASCII digits only); None if it is not."""
    if text is None:
        return None
    text = text.strip()
    if not text or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return whole_number(value.decode("latin-1"))
    return None


class BodyLimit:
    """Answer 413 (our JSON error) to a request whose body passes its path's bound.

    `limits` sets the bound for exact paths (a CSV import); `prefixed` for the (method, path
    prefix) pairs of a route with a path parameter (the manifest PUT); `unbounded` names the
    (method, path prefix) pairs that stream their bodies under a bound of their own.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int = MAX_BODY_BYTES,
        limits: Mapping[str, int] | None = None,
        prefixed: Iterable[tuple[str, str, int]] = (),
        unbounded: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.app = app
        self.limit = limit
        self.limits = dict(limits or {})
        self.prefixed = tuple(prefixed)
        self.unbounded = tuple(unbounded)

    def bound_for(self, scope: Scope) -> int | None:
        """The most bytes this request's body may have; None: not bounded here."""
        method, path = scope.get("method", ""), scope.get("path", "")
        if any(method == m and path.startswith(prefix) for m, prefix in self.unbounded):
            return None
        for m, prefix, bound in self.prefixed:
            if method == m and path.startswith(prefix):
                return bound
        return self.limits.get(path, self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.bound_for(scope) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def bounded_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(f"the body passed {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # Whatever the app answers to a body cut short (FastAPI calls it a parse
                # error) is not sent: the 413 below is the answer.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _too_large(limit)(scope, receive, send)


def _too_large(limit: int) -> ASGIApp:
    # The rest of the body is never read: the connection closes after the answer.
    return error_response(
        413,
        "too_large",
        f"the request body is larger than this server takes here ({limit} bytes)",
        {"Connection": "close"},
    )


def _integer(annotation: Any) -> bool:
    if annotation is int:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_integer(arg) for arg in get_args(annotation) if arg is not type(None))
    return False


def _time(annotation: Any) -> bool:
    if annotation is datetime:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_time(arg) for arg in get_args(annotation) if arg is not type(None))
    return False


def _parameters(dependant: Dependant, kind: Any) -> Iterator[tuple[str, str]]:
    """(where, name) of every path and query parameter whose type `kind` accepts,
    dependencies' too."""
    for where, fields in (("path", dependant.path_params), ("query", dependant.query_params)):
        for field in fields:
            if kind(field.field_info.annotation):
                yield where, field.alias
    for sub in dependant.dependencies:
        yield from _parameters(sub, kind)


def _integer_parameters(dependant: Dependant) -> Iterator[tuple[str, str]]:
    """(where, name) of every integer path and query parameter, dependencies' too."""
    return _parameters(dependant, _integer)


def _out_of_range(value: object, *, text: bool) -> bool:
    """Whether `value` is a time (as the route would parse it) outside the range we keep.
    What is no time at all is left to the route's own validation."""
    try:
        when = _TIME.validate_strings(value) if text else _TIME.validate_python(value)
    except ValidationError:
        return False
    return not within_range(when)


def _body_times(route: APIRoute) -> list[str]:
    """The names of the time fields of a route's body model (its top level)."""
    model = route.body_field.field_info.annotation if route.body_field is not None else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [
        field.alias or name for name, field in model.model_fields.items() if _time(field.annotation)
    ]


def _unstorable(value: object, where: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], str]:
    """Where in a parsed JSON value a string (or key) holds a NUL character, or an integer
    passes 64 bits, and which; ((), "") if nowhere."""
    if isinstance(value, str) and "\x00" in value:
        return where, NUL
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
        return where, TOO_BIG
    items: Iterable[tuple[str | int, object]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (*where, key), NUL
        found = _unstorable(item, (*where, key))
        if found[0]:
            return found
    return (), ""


def _refuse(where: tuple[str | int, ...], message: str, value: object) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": where, "msg": message, "input": value}]
    )


async def storable_input(request: Request) -> None:
    """Refuse (422, as FastAPI's own validation would) what no database column can hold, before
    any route's code reads it: an integer past 64 bits, or text with a NUL character
    (PostgreSQL refuses NUL in text; nothing a force writes contains one), in the path, the
    query or a JSON or form body the route declares."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    _check_path_and_query(request, route)
    if route.body_field is not None:
        await _check_body(request, _body_times(route))


def _check_path_and_query(request: Request, route: APIRoute) -> None:
    for place, name in _integer_parameters(route.dependant):
        values = request.path_params if place == "path" else request.query_params
        raw = values.get(name)
        digits = "" if raw is None else str(raw).strip().lstrip("+-")
        if digits.isdigit() and int(digits) > MAX_INTEGER:
            raise _refuse((place, name), TOO_BIG, raw)
    for place, name in _parameters(route.dependant, _time):
        values = request.path_params if place == "path" else request.query_params
        raw = values.get(name)
        if raw is not None and _out_of_range(str(raw), text=True):
            raise _refuse((place, name), TIME_RANGE, raw)
    given = [("path", n, str(v)) for n, v in request.path_params.items()]
    given += [("query", n, v) for n, v in request.query_params.multi_items()]
    for place, name, value in given:
        if "\x00" in name + value:
            raise _refuse((place, name), NUL, value)


async def _check_body(request: Request, times: list[str]) -> None:
    kind = request.headers.get("content-type", "")
    # FastAPI read and parsed the route's body before its dependencies: these are cached.
    if kind.startswith(FORM_TYPES):
        for name, value in (await request.form()).multi_items():
            if isinstance(value, str) and "\x00" in name + value:
                raise _refuse(("body", name), NUL, value)
    elif (not kind or "json" in kind.split(";")[0]) and await request.body():
        # As FastAPI: JSON when it says so or says nothing; an empty body is no JSON.
        body = await request.json()
        where, problem = _unstorable(body, ("body",))
        if where:
            raise _refuse(where, problem, None)
        for name in times if isinstance(body, dict) else ():
            value = body.get(name)
            if value is not None and _out_of_range(value, text=False):
                raise _refuse(("body", name), TIME_RANGE, value)
