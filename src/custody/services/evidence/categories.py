"""Categories and their administration, categorising recordings, and the recording's
lifecycle as each viewer may see it; every change is audited with its effect."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TypedDict

from sqlalchemy import delete, func, select

from custody.db.models import Recording
from custody.db.models.lifecycle import (
    Case,
    CaseRecording,
    Category,
    EvidenceFlag,
    Hold,
    RecordingCategory,
)
from custody.domain.access import AccessClass, Action, SystemAction, may
from custody.domain.actor import Actor
from custody.domain.categories import UNCATEGORISED, CategoryRule, check_rule, parse_access_class
from custody.domain.clock import isoformat
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.lifecycle import optional_reason
from custody.domain.principal import Principal
from custody.domain.retention import (
    DELETED,
    RetentionFacts,
)
from custody.services.access import (
    Sight,
    audited_effect,
    effect_on_retention,
    open_recording,
    require,
    require_classification,
    require_role,
    shown_decision,
    shown_facts,
    visible_cases,
)
from custody.services.evidence.annotations import annotations_of
from custody.services.evidence.answers import (
    CaseRef,
    Categorised,
    CategoryChanged,
    CategoryView,
    EvidenceShown,
    Flag,
    HoldView,
    LifecycleView,
    RetentionShown,
)
from custody.services.retention.facts import category_rule, recompute, retention_facts
from custody.services.system import System, UnitOfWork

# --- categories --------------------------------------------------------------------------


class CategoryChanges(TypedDict, total=False):
    """What an administrator changes about a category: only the keys given change."""

    name: str
    description: str
    retention_days: int | None  # None: kept until manually deleted
    review_days: int | None
    access_class: str
    evidential: bool
    retired: bool


def category_view(row: Category) -> CategoryView:
    return CategoryView(
        id=row.id,
        name=row.name,
        description=row.description,
        retention_days=row.retention_days,
        retention=(
            "until manually deleted"
            if row.retention_days is None
            else f"{row.retention_days} days from recording"
        ),
        review_days=row.review_days,
        access_class=row.access_class,
        evidential=row.evidential,
        assignable=row.assignable,
        retired=row.retired_at is not None,
    )


def list_categories(system: System, *, include_retired: bool = False) -> list[CategoryView]:
    """Every category, for anyone signed in (officers need them to categorise)."""
    with system.unit_of_work() as uow:
        return _categories(uow, include_retired=include_retired)


def _categories(uow: UnitOfWork, *, include_retired: bool = False) -> list[CategoryView]:
    query = select(Category).order_by(Category.assignable, Category.evidential, Category.name)
    if not include_retired:
        query = query.where(Category.retired_at.is_(None))
    return [category_view(c) for c in uow.session.scalars(query)]


def categories_to_give(system: System, principal: Principal) -> list[CategoryView]:
    """The categories this person may give footage, for the portal's pickers: a confidential
    one only for those whose job it is (it narrows who sees the footage)."""
    with system.unit_of_work() as uow:
        return categories_to_give_in(uow, principal)


def categories_to_give_in(uow: UnitOfWork, principal: Principal) -> list[CategoryView]:
    """`categories_to_give` in the caller's unit of work."""
    confidential = may(principal.viewer(), SystemAction.CLASSIFY_CONFIDENTIAL)
    return [
        c
        for c in _categories(uow)
        if confidential or c.access_class != AccessClass.CONFIDENTIAL.value
    ]


def create_category(
    system: System, principal: Principal, rule: CategoryRule, actor: Actor
) -> CategoryView:
    """An administrator adds a category."""
    check_rule(rule)
    with system.unit_of_work() as uow:
        require_role(
            uow,
            principal,
            SystemAction.MANAGE_CATEGORIES,
            actor,
            "user:category:create",
            "category",
            rule.name,
        )
        if (
            uow.session.scalar(
                select(Category.id).where(func.lower(Category.name) == rule.name.lower())
            )
            is not None
        ):
            raise Conflict(f"category {rule.name!r} exists already")
        now = uow.now()
        row = Category(
            name=rule.name,
            description=rule.description,
            retention_days=rule.retention_days,
            review_days=rule.review_days,
            access_class=rule.access_class.value,
            evidential=rule.evidential,
            assignable=True,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(row)
        uow.session.flush()
        uow.audit(
            "user:category:create",
            actor,
            object_type="category",
            object_id=str(row.id),
            details=category_view(row).model_dump(),
        )
        uow.commit()
        return category_view(row)


def check_changes(changes: CategoryChanges) -> None:
    """Refuse keys that are not a category's to change."""
    unknown = set(changes) - set(CategoryChanges.__annotations__)
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")


def changed_rule(old: CategoryRule, changes: CategoryChanges) -> CategoryRule:
    """The category's rule once `changes` apply, checked (the save and its preview share it)."""
    rule = replace(
        old,
        name=changes.get("name", old.name),
        description=changes.get("description", old.description),
        retention_days=changes.get("retention_days", old.retention_days),
        review_days=changes.get("review_days", old.review_days),
        access_class=(
            parse_access_class(changes["access_class"])
            if "access_class" in changes
            else old.access_class
        ),
        evidential=changes.get("evidential", old.evidential),
    )
    check_rule(rule)
    return rule


def update_category(
    system: System,
    principal: Principal,
    category_id: int,
    changes: CategoryChanges,
    reason: str | None,
    actor: Actor,
) -> CategoryChanged:
    """An administrator changes a category; every recording in it is decided again at once."""
    check_changes(changes)
    reason = optional_reason(reason)
    with system.unit_of_work() as uow:
        viewer = require(
            uow,
            principal,
            SystemAction.MANAGE_CATEGORIES,
            actor,
            "user:category:update",
            "category",
            str(category_id),
        )
        row = uow.session.get(Category, category_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no category {category_id}")
        if not row.assignable:
            raise Conflict(f"{UNCATEGORISED} is the 31-day rule itself and cannot be changed")
        before = category_view(row).model_dump()
        rule = changed_rule(category_rule(row), changes)
        if (
            rule.name.lower() != row.name.lower()
            and uow.session.scalar(
                select(Category.id).where(func.lower(Category.name) == rule.name.lower())
            )
            is not None
        ):
            raise Conflict(f"category {rule.name!r} exists already")
        row.name, row.description = rule.name, rule.description
        row.retention_days, row.review_days = rule.retention_days, rule.review_days
        row.access_class, row.evidential = rule.access_class.value, rule.evidential
        if "retired" in changes:
            row.retired_at = uow.now() if changes["retired"] else None
        row.updated_at = uow.now()
        uow.session.flush()
        # Lock and decide again every live recording in the category, in id order (the
        # order every multi-recording change locks in, so two never deadlock).
        members = list(
            uow.session.scalars(
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
                .with_for_update()
            )
        )
        changed = recompute(uow, members)
        # Counted as this person sees the dates: a complaint hold they may not know of
        # must not show as a date that failed to move.
        moved = sum(1 for c in changed if effect_on_retention(viewer, c).moved)
        uow.audit(
            "user:category:update",
            actor,
            object_type="category",
            object_id=str(row.id),
            reason=reason,
            details={
                "before": before,
                "after": category_view(row).model_dump(),
                "recordings": len(changed),
                "dates_moved": moved,
            },
        )
        uow.commit()
        return CategoryChanged(
            **category_view(row).model_dump(),
            recordings_decided_again=len(changed),
            dates_moved=moved,
        )


def _categories_named(uow: UnitOfWork, names: Iterable[str]) -> list[Category]:
    found = []
    for name in sorted({n.strip() for n in names}):
        row = uow.session.scalar(select(Category).where(func.lower(Category.name) == name.lower()))
        if row is None:
            raise InvalidInput(f"no category {name!r}")
        found.append(row)
    return found


def add_category_locked(
    uow: UnitOfWork, sight: Sight, name: str, actor: Actor, tag: str
) -> Category:
    """Add one assignable category to a recording the caller has locked and checked."""
    recording = sight.recording
    (row,) = _categories_named(uow, [name])
    if not row.assignable or row.retired_at is not None:
        raise InvalidInput(f"category {row.name} cannot be assigned")
    require_classification(uow, sight, [row.access_class], actor, tag)
    if uow.session.get(RecordingCategory, (recording.id, row.id)) is None:
        uow.session.add(
            RecordingCategory(
                recording_id=recording.id,
                category_id=row.id,
                assigned_by=actor.name,
                assigned_at=uow.now(),
            )
        )
        uow.session.flush()
    return row


def set_categories(
    system: System,
    principal: Principal,
    recording_id: str,
    names: list[str],
    reason: str | None,
    actor: Actor,
) -> Categorised:
    """Categorise a recording (the whole set); removing a category needs a reason."""
    if len(names) > 20:
        raise InvalidInput("at most 20 categories")
    reason = optional_reason(reason)
    tag = "user:recording:categorise"
    with system.unit_of_work() as uow:
        sight = open_recording(
            uow, principal, recording_id, Action.CATEGORISE, actor, tag, lock=True
        )
        recording = sight.recording
        wanted = _categories_named(uow, names)
        current = {
            c.id: c
            for c in uow.session.scalars(
                select(Category)
                .join(RecordingCategory, RecordingCategory.category_id == Category.id)
                .where(RecordingCategory.recording_id == recording_id)
            )
        }
        for row in wanted:
            if not row.assignable:
                raise InvalidInput(f"{row.name} is not assigned: remove every category instead")
            if row.retired_at is not None and row.id not in current:
                raise InvalidInput(f"category {row.name} is retired")
        added = [c for c in wanted if c.id not in current]
        removed = [c for c in current.values() if c.id not in {w.id for w in wanted}]
        if removed and reason is None:
            raise InvalidInput("removing a category needs a reason")
        require_classification(uow, sight, [c.access_class for c in added + removed], actor, tag)
        if removed:
            uow.session.execute(
                delete(RecordingCategory).where(
                    RecordingCategory.recording_id == recording_id,
                    RecordingCategory.category_id.in_([c.id for c in removed]),
                )
            )
        for row in added:
            uow.session.add(
                RecordingCategory(
                    recording_id=recording_id,
                    category_id=row.id,
                    assigned_by=actor.name,
                    assigned_at=uow.now(),
                )
            )
        uow.session.flush()
        (change,) = recompute(uow, [recording])
        effect = effect_on_retention(sight.viewer, change)
        if added or removed:
            effect = audited_effect(uow, sight.viewer, change)
            uow.audit(
                tag,
                actor,
                object_type="recording",
                object_id=recording_id,
                reason=reason,
                details={
                    "added": sorted(c.name for c in added),
                    "removed": sorted(c.name for c in removed),
                    "categories": sorted(c.name for c in wanted),
                }
                | effect.model_dump(),
            )
        uow.commit()
        return Categorised(
            recording_id=recording_id,
            categories=sorted(c.name for c in wanted),
            access_class=recording.access_class,
            **effect.model_dump(),
        )


# --- what a viewer sees of a recording's lifecycle --------------------------------------


def lifecycle_view(
    uow: UnitOfWork, sight: Sight, true_facts: RetentionFacts | None = None
) -> LifecycleView:
    """Categories, annotations, evidence, cases, holds and retention, as this viewer may see
    (from the recording's retention facts, read here unless the caller has them).

    Everything passes the door: the holds that show to this person, the retention decision
    as they may know it, the cases they may know of. The answer's shape never changes with
    a complaint hold the person may not see."""
    recording, viewer = sight.recording, sight.viewer
    rid = recording.id
    if true_facts is None:
        true_facts = retention_facts(uow, [recording])[rid]
    facts = shown_facts(viewer, true_facts)
    decision = shown_decision(viewer, true_facts)
    now = uow.now()
    due = isoformat(decision.delete_at) if decision.delete_at else None
    cases: list[CaseRef] | None = None
    if may(viewer, SystemAction.VIEW_CASES):
        query = (
            select(Case)
            .join(CaseRecording, CaseRecording.case_id == Case.id)
            .where(CaseRecording.recording_id == rid, visible_cases(viewer))
            .order_by(Case.id)
        )
        cases = [
            CaseRef(id=c.id, reference=c.reference, title=c.title, status=c.status)
            for c in uow.session.scalars(query)
        ]
    holds: list[HoldView] | None = None
    if sight.may(Action.VIEW_HOLDS):
        holds = [
            hold_view(h)
            for h in uow.session.scalars(
                select(Hold)
                .where(Hold.recording_id == rid, Hold.lifted_at.is_(None))
                .order_by(Hold.id)
            )
            if sight.shows_hold(h.kind, h.concerns_officer_id)
        ]
    flags = uow.session.scalars(
        select(EvidenceFlag)
        .where(EvidenceFlag.recording_id == rid, EvidenceFlag.cleared_at.is_(None))
        .order_by(EvidenceFlag.id)
    )
    notes = annotations_of(uow, rid)
    return LifecycleView(
        title=notes.title,
        reference=notes.reference,
        tags=notes.tags,
        notes=notes.notes,
        bookmarks=notes.bookmarks,
        categories=sorted(c.name for c in facts.categories),
        access_class=recording.access_class,
        evidence=EvidenceShown(
            flagged=facts.evidence_flags > 0,
            flags=[
                Flag(
                    id=f.id,
                    reason=f.reason,
                    flagged_by=f.flagged_by,
                    flagged_at=isoformat(f.flagged_at),
                )
                for f in flags
            ],
        ),
        delete_due_at=due,
        pending_deletion=decision.is_pending(now),
        retention=RetentionShown(
            delete_due_at=due,
            pending_deletion=decision.is_pending(now),
            rule=decision.rule,
            reason=decision.reason,
            review_due_at=isoformat(decision.review_at) if decision.review_at else None,
            last_reviewed_at=(
                isoformat(recording.last_reviewed_at) if recording.last_reviewed_at else None
            ),
        ),
        cases=cases,
        holds=holds,
    )


def hold_view(hold: Hold) -> HoldView:
    return HoldView(
        id=hold.id,
        recording_id=hold.recording_id,
        kind=hold.kind,
        reason=hold.reason,
        concerns_officer_id=hold.concerns_officer_id,
        placed_by=hold.placed_by,
        placed_at=isoformat(hold.placed_at),
        lifted_at=isoformat(hold.lifted_at) if hold.lifted_at else None,
        lifted_by=hold.lifted_by,
        lift_reason=hold.lift_reason,
    )
