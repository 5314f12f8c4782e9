"""Evidence flags: with holds and cases, what keeps footage whatever its category.

Each change locks the recording, recomputes its retention and writes an audit event with
its reason and its effect on the deletion date (as the person may know it).
"""

from __future__ import annotations

from custody.db.models.lifecycle import EvidenceFlag
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import NotFound
from custody.domain.lifecycle import check_reason
from custody.domain.principal import Principal
from custody.services.access import open_recording, record_change
from custody.services.evidence.answers import FlagChanged
from custody.services.retention.answers import RetentionEffect
from custody.services.system import System

# --- evidence flags ----------------------------------------------------------------------


def flag_evidence(
    system: System, principal: Principal, recording_id: str, reason: str, actor: Actor
) -> FlagChanged:
    """Flag a recording as evidence: it is kept until every flag is cleared."""
    reason = check_reason(reason, "an evidence flag")
    tag = "user:recording:flag_evidence"
    with system.unit_of_work() as uow:
        # The reason is the investigator's stated reason, kept in the audit trail.
        sight = open_recording(
            uow,
            principal,
            recording_id,
            Action.FLAG_EVIDENCE,
            actor,
            tag,
            stated_reason=True,
            lock=True,
        )
        flag = EvidenceFlag(
            recording_id=recording_id, reason=reason, flagged_by=actor.name, flagged_at=uow.now()
        )
        uow.session.add(flag)
        uow.session.flush()
        effect = record_change(uow, sight, actor, tag, reason=reason, details={"flag": flag.id})
        uow.commit()
        return _flag_changed(flag, effect)


def clear_evidence_flag(
    system: System,
    principal: Principal,
    recording_id: str,
    flag_id: int,
    reason: str,
    actor: Actor,
) -> FlagChanged:
    """Clear one evidence flag; with none left the categories decide again (after notice)."""
    reason = check_reason(reason, "clearing an evidence flag")
    tag = "user:recording:clear_evidence"
    with system.unit_of_work() as uow:
        sight = open_recording(
            uow,
            principal,
            recording_id,
            Action.FLAG_EVIDENCE,
            actor,
            tag,
            stated_reason=True,
            lock=True,
        )
        flag = uow.session.get(EvidenceFlag, flag_id)
        if flag is None or flag.recording_id != recording_id or flag.cleared_at is not None:
            raise NotFound(f"no active evidence flag {flag_id} on recording {recording_id}")
        flag.cleared_at, flag.cleared_by, flag.clear_reason = uow.now(), actor.name, reason
        uow.session.flush()
        effect = record_change(uow, sight, actor, tag, reason=reason, details={"flag": flag_id})
        uow.commit()
        return _flag_changed(flag, effect)


def _flag_changed(flag: EvidenceFlag, effect: RetentionEffect) -> FlagChanged:
    return FlagChanged(
        id=flag.id,
        recording_id=flag.recording_id,
        reason=flag.reason,
        flagged_by=flag.flagged_by,
        flagged_at=isoformat(flag.flagged_at),
        cleared_at=isoformat(flag.cleared_at) if flag.cleared_at else None,
        cleared_by=flag.cleared_by,
        clear_reason=flag.clear_reason,
        **effect.model_dump(),
    )
