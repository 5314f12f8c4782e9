"""The dock's own failures: what is worth a retry, and what the server said no to.

Refusals the server names with a known code arrive as the domain's typed errors
(`OffsetMismatch`, `RecordingConflict`, …); these classes cover the rest.
"""

from __future__ import annotations

from custody.domain.errors import CustodyError


class Transient(Exception):
    """A failure that a later attempt may not meet: the network, an overloaded server."""


class Unreachable(Transient):
    """The request did not get an answer: refused, reset, timed out, server gone mid-request."""


class ServerBusy(Transient):
    """The server answered 5xx, 429 or 408: it is there, but could not do it now."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class ApiError(CustodyError):
    """The server refused with a status and code the dock has no special handling for."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code


class GaveUp(Exception):
    """Too many attempts in a row failed; the footage stays on the camera for the next pass."""


class Stopped(Exception):
    """The agent was told to stop; what is unfinished stays on the camera and resumes later."""


class FootageGone(Exception):
    """A manifest is on the camera without its footage, and the server holds no copy of it."""
