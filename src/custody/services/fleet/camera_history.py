"""A camera's history for the fleet's people: who had it when, where it docked, how much
footage it recorded, and every change of its status with who made it and why.

The status changes are the camera's own events in the audit log (registered, pooled,
returned, sent for repair, retired, reported lost): the log is where they are kept, so
the page reads them there rather than keeping a second copy that could disagree.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from custody.db.models import AuditEvent, Recording
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.audit_words import describe, who
from custody.domain.clock import isoformat
from custody.domain.principal import Principal
from custody.domain.retention import DELETED
from custody.services.access import require_role
from custody.services.counting import count_up_to
from custody.services.fleet.answers import CameraHistory, StatusChange
from custody.services.fleet.registry import camera_by_serial
from custody.services.fleet.views import camera_detail
from custody.services.system import System

# The newest this many changes of status; a camera's life has few.
CHANGES_SHOWN = 200


def _detail(details: str | None, key: str) -> str | None:
    try:
        parsed = json.loads(details or "{}")
    except ValueError:
        return None
    value = parsed.get(key) if isinstance(parsed, dict) else None
    return str(value) if value is not None else None


def camera_history(
    system: System, principal: Principal, serial: str, *, actor: Actor | None = None
) -> CameraHistory:
    """One camera's whole story, for those who may see the fleet."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_FLEET, actor or principal.actor())
        camera = camera_by_serial(uow, serial)
        detail = camera_detail(uow, serial)
        recorded = count_up_to(
            uow,
            select(Recording.id).where(
                Recording.camera_id == camera.id, Recording.state != DELETED
            ),
        )
        events = uow.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.object_type == "camera",
                AuditEvent.object_id == serial,
                AuditEvent.tag.like("fleet:camera:%"),
                AuditEvent.allowed.is_(True),
            )
            .order_by(AuditEvent.seq.desc())
            .limit(CHANGES_SHOWN)
        )
        changes = [
            StatusChange(
                at=isoformat(event.at),
                by=who(event.actor),
                what=describe(event.tag),
                from_status=_detail(event.details, "from"),
                to_status=_detail(event.details, "to"),
                reason=event.reason,
            )
            for event in events
        ]
        return CameraHistory(
            camera=detail,
            recordings=recorded.total,
            recordings_exact=recorded.exact,
            changes=changes,
        )
