"""A category's change previewed before it is saved: how many recordings' deletion dates
would move earlier, later, or within the pending notice at once.

Nothing is written and nothing is locked: the recordings' facts are read and decided
again in memory by the same rule the save uses (`custody.domain.retention_preview`).
The dates are counted as the administrator may know them (the door's `told`), exactly as
the save's `dates_moved` is: a complaint hold they may not know of never shows as a date
that failed to move. A category with many recordings is previewed over the first
`PREVIEW_BOUND` of them, and the answer says so.
"""

from __future__ import annotations

from sqlalchemy import select

from custody.db.models import Recording
from custody.db.models.lifecycle import Category, RecordingCategory
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.categories import UNCATEGORISED
from custody.domain.errors import Conflict, NotFound
from custody.domain.principal import Principal
from custody.domain.retention import DELETED
from custody.domain.retention_preview import redecide_with, shift_of, tally
from custody.services.access import require, told
from custody.services.counting import COUNT_BOUND, count_up_to
from custody.services.evidence.answers import CategoryPreview
from custody.services.evidence.categories import (
    CategoryChanges,
    category_view,
    changed_rule,
    check_changes,
)
from custody.services.retention.facts import Recomputed, category_rule, retention_facts
from custody.services.system import System

# Recordings decided again for a preview, at most (a few queries per 500): as far as a list
# counts exactly, so that "of N recordings" and the figures always cover the same ones.
PREVIEW_BOUND = COUNT_BOUND
# Decisions that no category can move: a hold, an open case, an evidence flag.
KEPT_REGARDLESS = ("hold:", "case:open", "evidence")


def preview_category_change(
    system: System,
    principal: Principal,
    category_id: int,
    changes: CategoryChanges,
    actor: Actor,
) -> CategoryPreview:
    """What saving `changes` to the category would do to its recordings' deletion dates."""
    check_changes(changes)
    with system.unit_of_work() as uow:
        viewer = require(
            uow,
            principal,
            SystemAction.MANAGE_CATEGORIES,
            actor,
            "user:category:preview",
            "category",
            str(category_id),
        )
        row = uow.session.get(Category, category_id)
        if row is None:
            raise NotFound(f"no category {category_id}")
        if not row.assignable:
            raise Conflict(f"{UNCATEGORISED} is the 31-day rule itself and cannot be changed")
        old = category_rule(row)
        rule = changed_rule(old, changes)
        members = (
            select(Recording)
            .where(
                Recording.id.in_(
                    select(RecordingCategory.recording_id).where(
                        RecordingCategory.category_id == row.id
                    )
                ),
                Recording.state != DELETED,
            )
            .order_by(Recording.id)
        )
        count = count_up_to(uow, members.with_only_columns(Recording.id))
        recordings = list(uow.session.scalars(members.limit(PREVIEW_BOUND)))
        facts = retention_facts(uow, recordings)
        now = uow.now()
        shifts = []
        kept = 0
        for recording in recordings:
            result = redecide_with(
                facts[recording.id],
                old.name,
                rule,
                before=recording.delete_due_at,
                seen_before=recording.seen_delete_due_at,
                decided_before=recording.retention_rule is not None,
                now=now,
            )
            change = Recomputed(
                recording.id,
                recording.delete_due_at,
                result.decision,
                recording.seen_delete_due_at,
                result.seen,
            )
            before, after = told(viewer, change)
            shifts.append(shift_of(before, after.delete_at, now))
            if after.rule.startswith(KEPT_REGARDLESS):
                kept += 1
        counted = tally(shifts)
        return CategoryPreview(
            category=category_view(row),
            retention_days=rule.retention_days,
            recordings=count.total,
            recordings_exact=count.exact,
            examined=counted.examined,
            unchanged=counted.unchanged,
            earlier=counted.earlier,
            due_now=counted.due_now,
            later=counted.later,
            kept_regardless=kept,
        )
