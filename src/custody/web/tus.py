"""What tus 1.0.0 asks of the server beyond its routes: the method override.

The routes themselves (creation, HEAD, PATCH, termination, OPTIONS) live in the API's
ingest module (https://tus.io/protocols/resumable-upload).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

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
