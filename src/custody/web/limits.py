"""Request bodies are bounded before anything parses them.

`BodyLimit` is pure ASGI, outside every route: a request that declares a longer body
(Content-Length) is answered 413 before a byte of it is read, and one that sends more
than it may (chunked, or longer than it said) is cut off at the bound and answered 413
too, whatever the route was doing with it. JSON, forms and CSV files are parsed whole
in memory, so without this a single request could exhaust a server's memory.

The tus PATCH is the one body streamed to disk as it arrives; its bound is the upload's
own Upload-Length (checked by the tus route), so it passes through unbounded here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custody.web.errors import error_response

# A 6-hour manifest with a GPS fix every second is about 1.7 MB of JSON; nothing else a
# person or a dock sends as JSON or a form comes near it.
MAX_BODY_BYTES = 4 * 1024 * 1024


class BodyTooLarge(Exception):
    """Raised into the app by `receive` when the body passes its bound."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class BodyLimit:
    """Answer 413 (our JSON error) to a request whose body passes its path's bound.

    `limits` raises the bound for exact paths (a CSV import); `unbounded` names the
    (method, path prefix) pairs that stream their bodies under a bound of their own.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int = MAX_BODY_BYTES,
        limits: Mapping[str, int] | None = None,
        unbounded: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.app = app
        self.limit = limit
        self.limits = dict(limits or {})
        self.unbounded = tuple(unbounded)

    def bound_for(self, scope: Scope) -> int | None:
        """The most bytes this request's body may have; None: not bounded here."""
        method, path = scope.get("method", ""), scope.get("path", "")
        if any(method == m and path.startswith(prefix) for m, prefix in self.unbounded):
            return None
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
