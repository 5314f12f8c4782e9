"""How a list of footage is read when a team is a thirtieth of a million recordings.

A supervisor lists their team: hundreds of officers of a force of thousands. Asked for the
newest (or the soonest due) page of it, a planner sure of an IN list of the team's officers
reads every recording of every one of them and sorts them, tens of thousands of rows for a
page of fifty. Walking the force's time (or due-date) index instead, filtered on the team in
the index itself, finds a page after reading about (force / team) entries per row shown.
For a small team the officers' own index stays the quicker way, and is left to the planner.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ColumnElement, func, select
from sqlalchemy.orm import defer
from sqlalchemy.sql.visitors import ExternallyTraversible, replacement_traverse

from custody.db.models import Officer, Recording
from custody.domain.access import Viewer, lists_team
from custody.services.system import UnitOfWork

# What a list of recordings never shows, left unread: the signed manifest and receipt and
# the GPS track (a point a second: tens of kilobytes a recording in service), which only a
# recording's own page reads.
UNLISTED = (
    defer(Recording.manifest_document),
    defer(Recording.receipt_document),
    defer(Recording.gps_track),
    defer(Recording.deletion_certificate),
)

# A team at least this share of the force's officers is read along the time index.
LARGE_TEAM_SHARE = 0.02


def large_team(uow: UnitOfWork, unit: str | None) -> bool:
    """Whether `unit` holds enough of the force's officers that its pages are best found by
    walking the force's time or due-date index (two index-only counts of officers)."""
    if unit is None:
        return False
    members = (
        uow.session.scalar(select(func.count()).select_from(Officer).where(Officer.unit == unit))
        or 0
    )
    everyone = uow.session.scalar(select(func.count()).select_from(Officer)) or 0
    return members > 0 and members >= LARGE_TEAM_SHARE * everyone


def lists_large_team(uow: UnitOfWork, viewer: Viewer) -> bool:
    """Whether this person lists a large team's footage (a supervisor of a borough)."""
    return lists_team(viewer) and large_team(uow, viewer.unit)


def not_by_officer(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """The same condition with `recordings.officer_id` read as `officer_id + 0`: no planner
    then takes an officer's index for it, and the index the list is ordered by is walked
    instead. Whoever is let in is unchanged."""

    def replace(element: ExternallyTraversible, **_: Any) -> ExternallyTraversible | None:
        if (
            isinstance(element, Column)
            and element.table is Recording.__table__
            and element.name == "officer_id"
        ):
            return element + 0
        return None

    opts: dict[str, Any] = {}
    return replacement_traverse(condition, opts, replace)
