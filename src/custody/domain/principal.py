"""The signed-in person a request acts for: a pure value every layer passes."""

from __future__ import annotations

from dataclasses import dataclass, replace

from custody.domain.access import Viewer, sees_complaint_holds
from custody.domain.actor import Actor


@dataclass(frozen=True)
class Principal:
    """The signed-in person a request acts for."""

    user_id: int
    username: str
    role: str
    unit: str | None
    officer_id: int | None
    # The reason the request states for itself (an investigator's search), if any.
    stated_reason: str | None = None

    def actor(self, address: str | None = None, user_agent: str | None = None) -> Actor:
        return Actor(
            f"user:{self.username}",
            address,
            user_agent,
            self.stated_reason,
            confidential=sees_complaint_holds(self.viewer()),
        )

    def viewer(self, case_ids: frozenset[int] = frozenset()) -> Viewer:
        """The access rules' view of this person (their cases, when the caller knows them)."""
        return Viewer(
            self.role,
            self.unit,
            self.officer_id,
            user_id=self.user_id,
            case_ids=case_ids,
            stated_reason=self.stated_reason is not None,
        )

    def stating(self, reason: str | None) -> Principal:
        """The same person, with the reason their request states."""
        return replace(self, stated_reason=reason)
