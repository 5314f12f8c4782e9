"""The retention engine as people see it: what a sweep would delete (preview), what is
pending deletion, restoring it to a category, the review queue, and certificates.

The sweep itself lives in custody.services.retention.sweep; `sweep` is re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute

from custody.db.models import Officer, Recording
from custody.domain.access import Action, SystemAction, Viewer
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, NotFound
from custody.domain.lifecycle import check_reason
from custody.domain.principal import Principal
from custody.domain.retention import (
    DELETED,
    PENDING_NOTICE,
)
from custody.services import cursors
from custody.services.access import (
    audited_effect,
    due_columns,
    open_recording,
    record_change,
    require,
    require_role,
    shown_decision,
    shown_facts,
    told,
    visible_recordings,
)
from custody.services.answers import MAX_OFFSET, Page, Paged
from custody.services.counting import count_up_to
from custody.services.evidence.categories import add_category_locked
from custody.services.planning import UNLISTED, lists_large_team, not_by_officer
from custody.services.retention.answers import (
    DeletionCertificate,
    Restored,
    RetentionEntry,
    Reviewed,
    SweepPreview,
    Tombstone,
)
from custody.services.retention.facts import recompute, retention_facts
from custody.services.retention.sweep import sweep as sweep
from custody.services.system import System, UnitOfWork

# --- what people see ---------------------------------------------------------------------


def _items(
    uow: UnitOfWork, viewer: Viewer, rows: list[Recording], now: datetime
) -> list[RetentionEntry]:
    """List entries, each decided on the facts this viewer may know (the door's
    `shown_decision`: no complaint holds for those who may not see them)."""
    facts = retention_facts(uow, rows)
    officers = dict(
        uow.session.execute(
            select(Officer.id, Officer.warrant_number).where(
                Officer.id.in_({r.officer_id for r in rows if r.officer_id})
            )
        ).all()
    )
    items = []
    for recording in rows:
        known = shown_facts(viewer, facts[recording.id])
        decision = shown_decision(viewer, facts[recording.id])
        items.append(
            RetentionEntry(
                id=recording.id,
                officer=officers.get(recording.officer_id or -1),
                recorded_at=isoformat(recording.started_at),
                title=recording.title,
                reference=recording.reference,
                categories=sorted(c.name for c in known.categories),
                delete_due_at=isoformat(decision.delete_at) if decision.delete_at else None,
                pending_deletion=decision.is_pending(now),
                review_due_at=isoformat(decision.review_at) if decision.review_at else None,
                rule=decision.rule,
                reason=decision.reason,
            )
        )
    return items


def _page_along(
    uow: UnitOfWork,
    where: Sequence[ColumnElement[bool]],
    due: InstrumentedAttribute[Any],
    page: Page,
) -> tuple[list[Recording], str | None]:
    """A page of the recordings `where` selects in order of `due` (then id): after the
    page's cursor, or at its offset; and the cursor of the page after it, if there is one."""
    query = select(Recording).options(*UNLISTED).where(*where)
    if page.after is not None:
        keys = cursors.decode(page.after, datetime, str)
        query = query.where(cursors.following(due, Recording.id, keys, newest=False))
    found = list(
        uow.session.scalars(
            query.order_by(due, Recording.id).limit(page.limit + 1).offset(page.offset)
        )
    )
    rows = found[: page.limit]
    more = len(found) > page.limit and rows
    return rows, cursors.encode(getattr(rows[-1], due.key), rows[-1].id) if more else None


def preview(
    system: System,
    principal: Principal,
    at: datetime,
    actor: Actor,
    *,
    limit: int = 100,
    offset: int = 0,
    cursor: str | None = None,
) -> SweepPreview:
    """What a sweep at `at` would delete, and why, without deleting anything; a page at a
    time, by offset or by the cursor each page gives (`next_cursor`)."""
    page = Page(offset, limit, after=cursor)
    cursors.no_deeper_than(page.offset, MAX_OFFSET)
    with system.unit_of_work() as uow:
        viewer = require(
            uow, principal, SystemAction.RETENTION_PREVIEW, actor, "user:retention:preview"
        )
        # What this person may know: a complaint hold must not take footage off their list.
        due, _ = due_columns(viewer)
        where = (
            due <= at,
            Recording.state != DELETED,
            visible_recordings(uow, principal),
        )
        total = count_up_to(uow, select(Recording.id).where(*where), page)
        rows, next_cursor = _page_along(uow, where, due, page)
        undecided = uow.session.scalar(
            select(func.count())
            .select_from(Recording)
            .where(Recording.retention_rule.is_(None), Recording.state != DELETED)
        )
        items = _items(uow, viewer, rows, uow.now())
        uow.audit(
            "user:retention:preview",
            actor,
            object_type="system",
            object_id="retention",
            details={"at": isoformat(at), "total": total.total, "total_exact": total.exact},
        )
        uow.commit()
        return SweepPreview(
            at=isoformat(at),
            total=total.total,
            total_exact=total.exact,
            undecided=undecided or 0,
            limit=page.limit,
            offset=page.offset,
            items=items,
            cursor=page.after,
            next_cursor=next_cursor,
        )


def pending(
    system: System,
    principal: Principal,
    actor: Actor,
    *,
    limit: int = 100,
    offset: int = 0,
    cursor: str | None = None,
) -> Paged[RetentionEntry]:
    """Recordings the principal may see that are due for deletion within the pending notice,
    soonest first, by offset or by the cursor each page gives (`next_cursor`)."""
    page = Page(offset, limit, after=cursor)
    with system.unit_of_work() as uow:
        answer = pending_in(uow, principal, actor, page)
        uow.commit()
        return answer


def pending_in(
    uow: UnitOfWork, principal: Principal, actor: Actor, page: Page
) -> Paged[RetentionEntry]:
    """`pending` in the caller's unit of work (audited there, not committed)."""
    cursors.no_deeper_than(page.offset, MAX_OFFSET)
    viewer = require(uow, principal, SystemAction.VIEW_RETENTION, actor, "user:retention:pending")
    now = uow.now()
    # Filtered and sorted on the dates this person may know, so that neither the list's
    # length nor its order tells them of a complaint hold.
    due, _ = due_columns(viewer)
    soon = (due <= now + PENDING_NOTICE, Recording.state != DELETED)
    where: tuple[ColumnElement[bool], ...] = (*soon, visible_recordings(uow, principal))
    if lists_large_team(uow, viewer):
        # Along the due dates, the team's officers read in the index (services.planning).
        where = tuple(not_by_officer(term) for term in where)
    # Counted officer by officer, in no order (their index holds the due date): walking
    # the force's due dates read some thirty rows of other teams for each one counted.
    counted = (*soon, visible_recordings(uow, principal, team_listed=True))
    total = count_up_to(uow, select(Recording.id).where(*counted), page)
    rows, next_cursor = _page_along(uow, where, due, page)
    items = _items(uow, viewer, rows, now)
    uow.audit(
        "user:retention:pending",
        actor,
        object_type="system",
        object_id="retention",
        details={"total": total.total, "total_exact": total.exact},
    )
    return Paged(
        items=items,
        total=total.total,
        total_exact=total.exact,
        limit=page.limit,
        offset=page.offset,
        cursor=page.after,
        next_cursor=next_cursor,
    )


def review_queue(
    system: System,
    principal: Principal,
    actor: Actor,
    *,
    limit: int = 100,
    offset: int = 0,
    cursor: str | None = None,
) -> Paged[RetentionEntry]:
    """Retained footage whose review date has come (MoPI-style), oldest review first, by
    offset or by the cursor each page gives (`next_cursor`)."""
    page = Page(offset, limit, after=cursor)
    cursors.no_deeper_than(page.offset, MAX_OFFSET)
    with system.unit_of_work() as uow:
        viewer = require(
            uow, principal, SystemAction.REVIEW_QUEUE, actor, "user:retention:review_queue"
        )
        now = uow.now()
        _, review_due = due_columns(viewer)
        where = (
            review_due <= now,
            Recording.state != DELETED,
            visible_recordings(uow, principal),
        )
        total = count_up_to(uow, select(Recording.id).where(*where), page)
        rows, next_cursor = _page_along(uow, where, review_due, page)
        items = _items(uow, viewer, rows, now)
        uow.audit(
            "user:retention:review_queue",
            actor,
            object_type="system",
            object_id="retention",
            details={"total": total.total, "total_exact": total.exact},
        )
        uow.commit()
        return Paged(
            items=items,
            total=total.total,
            total_exact=total.exact,
            limit=page.limit,
            offset=page.offset,
            cursor=page.after,
            next_cursor=next_cursor,
        )


def mark_reviewed(
    system: System, principal: Principal, recording_id: str, note: str, actor: Actor
) -> Reviewed:
    """Record a review's decision to keep: the next review falls a review period later."""
    note = check_reason(note, "a review")
    tag = "user:recording:review"
    with system.unit_of_work() as uow:
        require_role(
            uow, principal, SystemAction.REVIEW_QUEUE, actor, tag, "recording", recording_id
        )
        sight = open_recording(uow, principal, recording_id, Action.LIST, actor, tag, lock=True)
        sight.recording.last_reviewed_at = uow.now()
        (change,) = recompute(uow, [sight.recording])
        effect = audited_effect(uow, sight.viewer, change)
        _, told_decision = told(sight.viewer, change)
        review_at = told_decision.review_at
        uow.audit(
            tag,
            actor,
            object_type="recording",
            object_id=recording_id,
            reason=note,
            details={"next_review": isoformat(review_at) if review_at else None},
        )
        uow.commit()
        return Reviewed(
            recording_id=recording_id,
            review_due_at=isoformat(review_at) if review_at else None,
            **effect.model_dump(),
        )


def restore(
    system: System,
    principal: Principal,
    recording_id: str,
    category: str,
    reason: str,
    actor: Actor,
) -> Restored:
    """Bring a recording pending deletion back under a category; its retention then applies.

    A non-evidential category never keeps footage past the 31-day limit, so restoring to
    one changes no date: the answer says so.
    """
    reason = check_reason(reason, "a restore")
    tag = "user:recording:restore"
    with system.unit_of_work() as uow:
        sight = open_recording(uow, principal, recording_id, Action.RESTORE, actor, tag, lock=True)
        recording = sight.recording
        # Pending as this person was told: a complaint hold they may not know of keeps it
        # anyway, and refusing here would tell them of it.
        decision = shown_decision(sight.viewer, retention_facts(uow, [recording])[recording_id])
        if not decision.is_pending(uow.now()):
            raise Conflict(
                f"recording {recording_id} is not pending deletion; categorise it instead"
            )
        row = add_category_locked(uow, sight, category, actor, tag)
        effect = record_change(
            uow, sight, actor, tag, reason=reason, details={"category": row.name}
        )
        uow.commit()
        return Restored(
            recording_id=recording_id,
            category=row.name,
            extended=effect.moved,
            **effect.model_dump(),
        )


def tombstone_view(recording: Recording) -> Tombstone:
    """What remains of a deleted recording: its state, when, and the signed certificate."""
    return Tombstone(
        state=DELETED,
        deleted_at=isoformat(recording.deleted_at) if recording.deleted_at else None,
        objects_removed_at=isoformat(recording.purged_at) if recording.purged_at else None,
        deletion_certificate=(
            DeletionCertificate.model_validate_json(recording.deletion_certificate)
            if recording.deletion_certificate
            else None
        ),
    )


def certificate(
    system: System, principal: Principal, recording_id: str, actor: Actor
) -> DeletionCertificate:
    """The signed deletion certificate of a deleted recording."""
    with system.unit_of_work() as uow:
        recording = open_recording(
            uow,
            principal,
            recording_id,
            Action.LIST,
            actor,
            "user:recording:certificate",
            allow_deleted=True,
            lock=True,
        ).recording
        if recording.state != DELETED or not recording.deletion_certificate:
            raise NotFound(f"recording {recording_id} has not been deleted")
        uow.audit(
            "user:recording:certificate", actor, object_type="recording", object_id=recording_id
        )
        uow.commit()
        return DeletionCertificate.model_validate_json(recording.deletion_certificate)


def stale_count(system: System) -> int:
    """Live recordings whose deletion date has passed: zero after a sweep (a health figure)."""
    with system.unit_of_work() as uow:
        return (
            uow.session.scalar(
                select(func.count())
                .select_from(Recording)
                .where(Recording.delete_due_at <= uow.now(), Recording.state != DELETED)
            )
            or 0
        )
