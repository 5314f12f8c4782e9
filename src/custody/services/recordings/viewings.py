"""A viewing: one audited event for a person's playback of a recording, not one per range.

A player asks for footage a range at a time (hundreds of requests for one watch). The first
range opens a viewing and is audited; later ranges by the same person of the same recording,
within `VIEWING` of that event and stating the same reason (if any), are part of it and are
not audited again. A download is its own event each time it starts from the first byte; a
resumed download (a range further in, within the window of the person's last download)
continues it. The state is the audit log
itself, in the database, so every server node sees the same viewings: its sequenced events
and those still pending (committed, not yet given a sequence number).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, select

from custody.db.models import AuditEvent, AuditHead, AuditPending
from custody.domain.actor import Actor
from custody.services.system import UnitOfWork

# How long after its first range a viewing lasts: later ranges in it are not audited again.
VIEWING = timedelta(minutes=10)


def _opened(uow: UnitOfWork, tag: str, actor: Actor, recording_id: str) -> bool:
    since = uow.now() - VIEWING
    for table in (AuditEvent, AuditPending):
        # A search's stated reason is what an event records: a new reason, a new viewing.
        same_reason: ColumnElement[bool]
        if actor.reason is None:
            same_reason = table.reason.is_(None)
        else:
            same_reason = table.reason == actor.reason
        found = uow.session.scalar(
            select(table.tag)
            .where(
                table.object_type == "recording",
                table.object_id == recording_id,
                table.tag == tag,
                table.actor == actor.name,
                same_reason,
                table.allowed.is_(True),
                table.at >= since,
            )
            .limit(1)
        )
        if found is not None:
            return True
    return False


def continues(uow: UnitOfWork, tag: str, actor: Actor, recording_id: str) -> bool:
    """Is this read part of a viewing (or download) this person opened within the window?

    Checked again under the audit head's lock, so two first ranges racing on two nodes open
    one viewing, not two: the second waits for the first to commit and then sees its event
    (pending or sequenced). Appends take no lock; only a viewing's first range does.
    """
    if _opened(uow, tag, actor, recording_id):
        return True
    uow.session.execute(select(AuditHead.id).with_for_update()).all()
    return _opened(uow, tag, actor, recording_id)
