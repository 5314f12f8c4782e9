"""Redacted copies as disclosure material: on a case's schedule, in a share, in a bundle.

A redacted copy (`services/redaction`) is disclosed like a clip: it is a new object that
names its original by hash, and a person who may see the recording sees its copies. Only a
copy that is rendered and approved by a second person may be scheduled, shared or bundled;
anything else is refused with why (409), never offered half-made.
"""

from __future__ import annotations

from sqlalchemy import select

from custody.db.models.redaction import Redaction
from custody.domain.errors import Conflict
from custody.services.system import UnitOfWork

RENDERED = "rendered"


def is_released(row: Redaction) -> bool:
    """Rendered, with its copy and record stored, and approved by a second person."""
    return (
        row.state == RENDERED
        and row.approved_at is not None
        and row.sha256 is not None
        and row.size is not None
        and row.record_sha256 is not None
    )


def require_released(row: Redaction) -> Redaction:
    """The copy if it may leave the force; Conflict saying what is missing otherwise."""
    if row.state != RENDERED:
        raise Conflict(f"redaction {row.id} is not rendered ({row.state}): render it first")
    if not is_released(row):
        raise Conflict(
            f"redaction {row.id} is not approved for release: a second person must approve "
            "it before it is scheduled, shared or bundled"
        )
    return row


def copies_of(uow: UnitOfWork, recording_ids: list[str]) -> dict[str, list[Redaction]]:
    """The approved redacted copies of these recordings, oldest first (for answers the
    caller has already let through)."""
    found: dict[str, list[Redaction]] = {rid: [] for rid in recording_ids}
    if not recording_ids:
        return found
    for row in uow.session.scalars(
        select(Redaction)
        .where(
            Redaction.recording_id.in_(sorted(recording_ids)),
            Redaction.state == RENDERED,
            Redaction.approved_at.is_not(None),
        )
        .order_by(Redaction.approved_at, Redaction.id)
    ):
        found[row.recording_id].append(row)
    return found
