"""Annotations: a recording's title, crime or incident reference, tags, notes and bookmarks."""

from __future__ import annotations

from sqlalchemy import delete, select

from custody.db.models import Recording
from custody.db.models.lifecycle import (
    Annotation,
    RecordingTag,
)
from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import InvalidInput, NotFound
from custody.domain.lifecycle import (
    check_bookmark,
    check_note,
    check_reference,
    check_tags,
    check_title,
)
from custody.domain.principal import Principal
from custody.services.access import open_recording
from custody.services.evidence.answers import Annotations, Bookmark, Note
from custody.services.system import System, UnitOfWork

# --- annotations -------------------------------------------------------------------------


def annotate(
    system: System,
    principal: Principal,
    recording_id: str,
    actor: Actor,
    *,
    title: str | None = None,
    reference: str | None = None,
    tags: list[str] | None = None,
) -> Annotations:
    """Set a recording's title, crime or incident reference and tags (only those given)."""
    if title is None and reference is None and tags is None:
        raise InvalidInput("give a title, a reference or tags")
    new_title = check_title(title) if title is not None else None
    new_reference = check_reference(reference) if reference is not None else None
    new_tags = check_tags(tags) if tags is not None else None
    tag = "user:recording:annotate"
    with system.unit_of_work() as uow:
        recording = open_recording(
            uow, principal, recording_id, Action.ANNOTATE, actor, tag, lock=True
        ).recording
        details: dict[str, object] = {}
        if new_title is not None and new_title != (recording.title or ""):
            details["title"] = {"before": recording.title, "after": new_title or None}
            recording.title = new_title or None
        if new_reference is not None and new_reference != (recording.reference or ""):
            details["reference"] = {"before": recording.reference, "after": new_reference or None}
            recording.reference = new_reference or None
        if new_tags is not None:
            current = _tags(uow, recording_id)
            if current != new_tags:
                uow.session.execute(
                    delete(RecordingTag).where(RecordingTag.recording_id == recording_id)
                )
                uow.session.add_all(
                    RecordingTag(recording_id=recording_id, tag=t) for t in new_tags
                )
                details["tags"] = {"before": current, "after": new_tags}
        if details:
            uow.audit(tag, actor, object_type="recording", object_id=recording_id, details=details)
        uow.commit()
        with system.unit_of_work() as read:
            return annotations_of(read, recording_id)


def add_note(
    system: System, principal: Principal, recording_id: str, text: str, actor: Actor
) -> Note:
    """Add a note to a recording; notes are kept as written, never edited."""
    text = check_note(text)
    tag = "user:recording:note"
    with system.unit_of_work() as uow:
        recording = open_recording(
            uow, principal, recording_id, Action.ANNOTATE, actor, tag, lock=True
        ).recording
        note = Annotation(
            recording_id=recording_id,
            kind="note",
            text=text,
            author=actor.name,
            created_at=uow.now(),
        )
        uow.session.add(note)
        recording.annotated = True
        uow.session.flush()
        uow.audit(
            tag,
            actor,
            object_type="recording",
            object_id=recording_id,
            details={"note": note.id, "length": len(text)},
        )
        uow.commit()
        return _note(note)


def add_bookmark(
    system: System,
    principal: Principal,
    recording_id: str,
    at_seconds: float,
    label: str,
    actor: Actor,
) -> Bookmark:
    """Bookmark a moment of a recording (seconds from its first frame)."""
    tag = "user:recording:bookmark"
    with system.unit_of_work() as uow:
        recording = open_recording(
            uow, principal, recording_id, Action.ANNOTATE, actor, tag, lock=True
        ).recording
        duration = recording.duration_seconds or (
            (recording.ended_at - recording.started_at).total_seconds()
        )
        label = check_bookmark(at_seconds, label, duration)
        mark = Annotation(
            recording_id=recording_id,
            kind="bookmark",
            at_seconds=at_seconds,
            text=label,
            author=actor.name,
            created_at=uow.now(),
        )
        uow.session.add(mark)
        recording.annotated = True
        uow.session.flush()
        uow.audit(
            tag,
            actor,
            object_type="recording",
            object_id=recording_id,
            details={"bookmark": mark.id, "at_seconds": at_seconds, "label": label},
        )
        uow.commit()
        return _bookmark(mark)


def remove_bookmark(
    system: System, principal: Principal, recording_id: str, bookmark_id: int, actor: Actor
) -> None:
    """Remove a bookmark (it stays in the audit trail)."""
    tag = "user:recording:bookmark_remove"
    with system.unit_of_work() as uow:
        recording = open_recording(
            uow, principal, recording_id, Action.ANNOTATE, actor, tag, lock=True
        ).recording
        mark = uow.session.get(Annotation, bookmark_id)
        if (
            mark is None
            or mark.recording_id != recording_id
            or mark.kind != "bookmark"
            or mark.removed_at is not None
        ):
            raise NotFound(f"no bookmark {bookmark_id} on recording {recording_id}")
        mark.removed_at, mark.removed_by = uow.now(), actor.name
        uow.session.flush()
        # Still annotated while another note or bookmark stands (supervision counts it).
        recording.annotated = (
            uow.session.scalar(
                select(Annotation.id)
                .where(Annotation.recording_id == recording_id, Annotation.removed_at.is_(None))
                .limit(1)
            )
            is not None
        )
        uow.audit(
            tag,
            actor,
            object_type="recording",
            object_id=recording_id,
            details={"bookmark": bookmark_id, "label": mark.text},
        )
        uow.commit()


def _tags(uow: UnitOfWork, recording_id: str) -> list[str]:
    return sorted(
        uow.session.scalars(
            select(RecordingTag.tag).where(RecordingTag.recording_id == recording_id)
        )
    )


def _note(note: Annotation) -> Note:
    return Note(
        id=note.id, text=note.text, author=note.author, created_at=isoformat(note.created_at)
    )


def _bookmark(mark: Annotation) -> Bookmark:
    return Bookmark(
        id=mark.id,
        at_seconds=mark.at_seconds,
        label=mark.text,
        author=mark.author,
        created_at=isoformat(mark.created_at),
    )


def annotations_of(uow: UnitOfWork, recording_id: str) -> Annotations:
    """A recording's title, reference, tags, notes and bookmarks."""
    recording = uow.session.get(Recording, recording_id)
    if recording is None:
        raise NotFound(f"no recording {recording_id}")
    rows = uow.session.scalars(
        select(Annotation)
        .where(Annotation.recording_id == recording_id, Annotation.removed_at.is_(None))
        .order_by(Annotation.at_seconds, Annotation.id)
    ).all()
    return Annotations(
        title=recording.title,
        reference=recording.reference,
        tags=_tags(uow, recording_id),
        notes=[_note(a) for a in sorted(rows, key=lambda a: a.id) if a.kind == "note"],
        bookmarks=[_bookmark(a) for a in rows if a.kind == "bookmark"],
    )
