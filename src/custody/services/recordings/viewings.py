"""A viewing: one audited event for a person's playback of a recording, not one per range.

A player asks for footage a range at a time (hundreds of requests for one watch). The first
range opens a viewing and is audited; later ranges by the same person of the same recording,
within `VIEWING` of that event and stating the same reason (if any), are part of it and are
not audited again. A download is its own event each time it starts from the first byte; a
resumed download (a range further in, within the window of the person's last download)
continues it. The state is the audit log
itself, in the database, so every server node sees the same viewings.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, select

from custody.db.models import AuditEvent, AuditHead
from custody.domain.actor import Actor
from custody.services.system import UnitOfWork

# How long after its first range a viewing lasts: later ranges in it are not audited again.
VIEWING = timedelta(minutes=10)


def _opened(uow: UnitOfWork, tag: str, actor: Actor, recording_id: str) -> bool:
    since = uow.now() - VIEWING
    # A search's stated reason is what an event records: a new reason, a new viewing.
    same_reason: ColumnElement[bool]
    if actor.reason is None:
        same_reason = AuditEvent.reason.is_(None)
    else:
        same_reason = AuditEvent.reason == actor.reason
    found = uow.session.scalar(
        select(AuditEvent.seq)
        .where(
            AuditEvent.object_type == "recording",
            AuditEvent.object_id == recording_id,
            AuditEvent.tag == tag,
            AuditEvent.actor == actor.name,
            same_reason,
            AuditEvent.allowed.is_(True),
            AuditEvent.at >= since,
        )
        .limit(1)
    )
    return found is not None


def continues(uow: UnitOfWork, tag: str, actor: Actor, recording_id: str) -> bool:
    """Is this read part of a viewing (or download) this person opened within the window?

    Checked again under the audit head's lock (which the event's append takes anyway), so two
    first ranges racing on two nodes open one viewing, not two.
    """
    if _opened(uow, tag, actor, recording_id):
        return True
    uow.session.execute(select(AuditHead.id).with_for_update()).all()
    return _opened(uow, tag, actor, recording_id)
