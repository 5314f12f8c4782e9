"""Who did something, as the audit log records it: a pure value every layer passes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who did it and from where: a user, a dock, or the system itself.

    `reason` is the reason the person stated for the request (an investigator's search
    outside their cases): every event the request writes carries it.
    """

    name: str
    address: str | None = None
    user_agent: str | None = None
    reason: str | None = None
    # Acting for professional standards (or auditing them): what this person does to
    # footage reads only to others who see complaints (`services.access.shows_event`).
    confidential: bool = False

    @classmethod
    def system(cls) -> Actor:
        return cls("system")
