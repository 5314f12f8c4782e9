"""Who may do what to a recording: one pure function, so every route asks the same question."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Action(enum.StrEnum):
    LIST = "list"
    VIEW_METADATA = "view_metadata"
    STREAM = "stream"
    DOWNLOAD = "download"


@dataclass(frozen=True)
class Viewer:
    role: str
    unit: str | None
    officer_id: int | None


@dataclass(frozen=True)
class RecordingFacts:
    officer_id: int | None
    officer_unit: str | None


# Roles that may see any recording's footage. Professional standards investigate
# anyone; investigators search across the force (with a stated reason, later).
FORCE_WIDE = frozenset({"investigator", "professional_standards", "auditor", "administrator"})


def may_access_recording(viewer: Viewer, recording: RecordingFacts, action: Action) -> bool:
    """Officers see their own footage, supervisors their unit's, force-wide roles all of it."""
    if viewer.role in FORCE_WIDE:
        return True
    if viewer.role == "officer":
        return viewer.officer_id is not None and viewer.officer_id == recording.officer_id
    if viewer.role == "supervisor":
        return viewer.unit is not None and viewer.unit == recording.officer_unit
    return False
