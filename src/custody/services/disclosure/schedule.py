"""A case's disclosure schedule: each recording and clip of the case marked as an exhibit
(with a reference such as ``LJ/1``, unique in the case) or as unused material, sensitive or
not; shown on the case page and printed (PDF, CSV) like the schedules the prosecution gets.

Only those whose role may mark the schedule (`SystemAction.MARK_SCHEDULE`) and who work on
the case mark it; a case they do not work on is "no case N", as for an id never used. Every
marking and every change of one is audited on the recording it concerns (who, when, what it
was before), so the recording's own trail tells its disclosure history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from custody.db.models import Officer, Recording
from custody.db.models.disclosure import Clip, ScheduleItem
from custody.db.models.lifecycle import Case, CaseRecording
from custody.db.models.redaction import Redaction
from custody.domain.access import Action, SystemAction, may
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.disclosure import (
    USE_LABELS,
    Use,
    initials_of,
    next_reference,
    normalise_reference,
    reference_sort_key,
)
from custody.domain.errors import Conflict, InvalidInput, NotFound
from custody.domain.principal import Principal
from custody.services.access import (
    open_case,
    open_recording,
    require_role,
    viewer_for,
    visible_cases,
    visible_recordings,
)
from custody.services.disclosure import printing
from custody.services.disclosure.answers import CaseToMark, Schedule, ScheduleLine
from custody.services.disclosure.clips import clips_of
from custody.services.disclosure.redacted import copies_of, require_released
from custody.services.system import System, UnitOfWork

MARK = "user:schedule:mark"
PRINT = "user:schedule:print"
DESCRIPTION_LIMIT = 1000
NOT_MARKED = "Not marked yet"
# Exhibits first, by reference; then unused material; then what nobody has marked.
GROUPS = {Use.EXHIBIT.value: 0, Use.UNUSED_NOT_SENSITIVE.value: 1, Use.UNUSED_SENSITIVE.value: 2}


def parse_use(text: str) -> Use:
    """A schedule use from its wire name; InvalidInput naming the three otherwise."""
    try:
        return Use(text)
    except ValueError:
        names = ", ".join(use.value for use in Use)
        raise InvalidInput(f"use must be one of {names}") from None


@dataclass(frozen=True)
class _Material:
    """One recording, clip or redacted copy of the case, with what the schedule says of it."""

    recording: Recording
    clip: Clip | None
    officer: Officer | None
    redaction: Redaction | None = None

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return (
            self.recording.id,
            self.clip.id if self.clip else None,
            self.redaction.id if self.redaction else None,
        )


def _material(uow: UnitOfWork, principal: Principal, case: Case) -> list[_Material]:
    """The case's recordings this person may see, each followed by its clips and its
    approved redacted copies."""
    recordings = list(
        uow.session.scalars(
            select(Recording)
            .join(CaseRecording, CaseRecording.recording_id == Recording.id)
            .where(CaseRecording.case_id == case.id, visible_recordings(uow, principal))
            .order_by(Recording.started_at, Recording.id)
        )
    )
    officer_ids = sorted({r.officer_id for r in recordings if r.officer_id is not None})
    officers = {
        o.id: o for o in uow.session.scalars(select(Officer).where(Officer.id.in_(officer_ids)))
    }
    clips = clips_of(uow, [r.id for r in recordings])
    copies = copies_of(uow, [r.id for r in recordings])
    found: list[_Material] = []
    for recording in recordings:
        officer = officers.get(recording.officer_id) if recording.officer_id else None
        found.append(_Material(recording, None, officer))
        found.extend(_Material(recording, clip, officer) for clip in clips[recording.id])
        found.extend(_Material(recording, None, officer, row) for row in copies[recording.id])
    return found


def _description(material: _Material) -> str:
    recording, clip = material.recording, material.clip
    what = recording.title or "Body-worn video"
    if material.redaction is not None:
        return f"Redacted copy of {what.lower() if not recording.title else what}"
    if clip is None:
        return what
    return clip.title or f"Clip of {what.lower() if not recording.title else what}"


def _officer(officer: Officer | None) -> str | None:
    return f"{officer.name} ({officer.warrant_number})" if officer else None


def _lines(
    uow: UnitOfWork, principal: Principal, case: Case, *, reserve: bool = True
) -> list[ScheduleLine]:
    """The schedule's lines, in order. With `reserve`, each unmarked line is offered the next
    reference after those offered to the lines before it (a table marked row by row);
    without, every line is offered its producer's first free one."""
    materials = _material(uow, principal, case)
    items = {
        (item.recording_id, item.clip_id, item.redaction_id): item
        for item in uow.session.scalars(select(ScheduleItem).where(ScheduleItem.case_id == case.id))
    }
    # Every reference in the case is taken, whether or not this person sees its item.
    taken = [item.reference for item in items.values() if item.reference]
    lines: list[ScheduleLine] = []
    for material in materials:
        item = items.get(material.key)
        if item is not None and item.reference:
            suggested = item.reference
        else:
            producer = material.officer.name if material.officer else principal.username
            suggested = next_reference(initials_of(producer), taken)
            if reserve:
                taken.append(suggested)
        recording, clip, copy = material.recording, material.clip, material.redaction
        use = item.use if item else None
        sha256 = clip.sha256 if clip else recording.sha256
        if copy is not None and copy.sha256:
            sha256 = copy.sha256
        lines.append(
            ScheduleLine(
                item_id=item.id if item else None,
                kind="redaction" if copy else "clip" if clip else "recording",
                recording_id=recording.id,
                clip_id=clip.id if clip else None,
                redaction_id=copy.id if copy else None,
                use=use,
                use_label=USE_LABELS[Use(use)] if use else NOT_MARKED,
                reference=item.reference if item else None,
                suggested_reference=suggested,
                description=(item.description if item and item.description else "")
                or _description(material),
                officer=_officer(material.officer),
                started_at=isoformat(recording.started_at),
                ended_at=isoformat(recording.ended_at),
                in_seconds=clip.in_seconds if clip else None,
                out_seconds=clip.out_seconds if clip else None,
                sha256=sha256,
                marked_by=item.marked_by if item else None,
                marked_at=isoformat(item.marked_at) if item else None,
            )
        )
    lines.sort(key=_order)
    return lines


def _order(line: ScheduleLine) -> tuple[int, tuple[str, int, str], str, str, float]:
    group = GROUPS.get(line.use or "", 3)
    return (
        group,
        reference_sort_key(line.reference),
        line.started_at,
        line.recording_id,
        -1.0 if line.in_seconds is None else line.in_seconds,
    )


def _schedule(uow: UnitOfWork, principal: Principal, case: Case) -> Schedule:
    return Schedule(
        case_id=case.id,
        case_reference=case.reference,
        case_title=case.title,
        lines=_lines(uow, principal, case),
        printed_at=isoformat(uow.now()),
    )


def get_schedule(system: System, principal: Principal, case_id: int, actor: Actor) -> Schedule:
    """The case's schedule as this person may see it (its recordings they may see)."""
    with system.unit_of_work() as uow:
        require_role(
            uow, principal, SystemAction.VIEW_CASES, actor, "user:case:view", "case", str(case_id)
        )
        return _schedule(uow, principal, open_case(uow, principal, case_id))


def mark(
    system: System,
    principal: Principal,
    case_id: int,
    actor: Actor,
    *,
    use: str,
    recording_id: str | None = None,
    clip_id: str | None = None,
    reference: str | None = None,
    description: str | None = None,
    redaction_id: str | None = None,
) -> ScheduleLine:
    """Mark a recording (or a clip of it, or an approved redacted copy of it) of the case: an
    exhibit with its reference, or unused material, sensitive or not. Marking again changes
    the marking; each change is audited.

    A clip is named by its id alone (`clip_id`), a redacted copy by `redaction_id`; a
    recording by `recording_id`."""
    if sum(x is not None for x in (recording_id, clip_id, redaction_id)) != 1:
        raise InvalidInput("name one recording, clip or redacted copy to mark")
    chosen = parse_use(use)
    if chosen is Use.EXHIBIT:
        if not reference or not reference.strip():
            raise InvalidInput("an exhibit needs a reference, such as LJ/1")
        reference = normalise_reference(reference)
    elif reference:
        raise InvalidInput("only an exhibit has a reference: unused material has none")
    else:
        reference = None
    text = (description or "").strip()
    if len(text) > DESCRIPTION_LIMIT:
        raise InvalidInput(f"a description is at most {DESCRIPTION_LIMIT} characters")
    with system.unit_of_work() as uow:
        # The role first: its refusal reads the same whatever case is named.
        require_role(uow, principal, SystemAction.MARK_SCHEDULE, actor, MARK, "case", str(case_id))
        # Locked, so two markings of one case take their turns (references stay unique).
        case = open_case(uow, principal, case_id, lock=True)
        if case.status != "open":
            raise Conflict(f"case {case.reference} is closed: reopen it first")
        recording_id = _material_of(
            uow, principal, case, recording_id, clip_id, actor, redaction_id
        )
        item = _item(uow, case_id, recording_id, clip_id, redaction_id)
        if reference is not None:
            _check_free(uow, case, reference, item)
        before = None if item is None else {"use": item.use, "reference": item.reference}
        if item is None:
            item = ScheduleItem(
                case_id=case_id,
                recording_id=recording_id,
                clip_id=clip_id,
                redaction_id=redaction_id,
            )
            uow.session.add(item)
        item.use = chosen.value
        item.reference = reference
        item.description = text
        item.marked_by = actor.name
        item.marked_at = uow.now()
        uow.session.flush()
        uow.audit(
            MARK,
            actor,
            object_type="recording",
            object_id=recording_id,
            details={
                "case": case_id,
                "case_reference": case.reference,
                "clip": clip_id,
                "redaction": redaction_id,
                "use": chosen.value,
                "reference": reference,
                "description": text,
                "before": before,
            },
        )
        uow.commit()
        schedule = _schedule(uow, principal, case)
    line = next((line for line in schedule.lines if line.item_id == item.id), None)
    if line is None:  # pragma: no cover - the door let the person list the recording
        raise NotFound(f"no recording {recording_id}")
    return line


def _material_of(
    uow: UnitOfWork,
    principal: Principal,
    case: Case,
    recording_id: str | None,
    clip_id: str | None,
    actor: Actor,
    redaction_id: str | None = None,
) -> str:
    """The recording to mark (a clip's or a copy's own), through the door; a clip or copy of
    a recording the person may not know of is "no clip" or "no redaction", as for an id
    never used."""
    if redaction_id is not None:
        gone = NotFound(f"no redaction {redaction_id[:40]}")
        copy = uow.session.get(Redaction, redaction_id) if len(redaction_id) <= 36 else None
        if copy is None:
            raise gone
        try:
            open_recording(uow, principal, copy.recording_id, Action.LIST, actor, MARK)
        except NotFound:
            raise gone from None
        require_released(copy)
        recording_id = copy.recording_id
    elif clip_id is not None:
        missing = NotFound(f"no clip {clip_id}")
        clip = uow.session.get(Clip, clip_id) if len(clip_id) <= 36 else None
        if clip is None:
            raise missing
        try:
            open_recording(
                uow, principal, clip.recording_id, Action.LIST, actor, MARK, allow_deleted=True
            )
        except NotFound:
            raise missing from None
        if clip.deleted_at is not None:
            raise Conflict(f"clip {clip_id} was deleted")
        recording_id = clip.recording_id
    elif recording_id is not None:
        open_recording(uow, principal, recording_id, Action.LIST, actor, MARK, allow_deleted=True)
    else:  # pragma: no cover - mark() names one of the two
        raise InvalidInput("name either a recording or a clip to mark")
    if uow.session.get(CaseRecording, (case.id, recording_id)) is None:
        what = (
            f"redaction {redaction_id}"
            if redaction_id
            else f"clip {clip_id}"
            if clip_id
            else f"recording {recording_id}"
        )
        raise NotFound(f"{what} is not in case {case.reference}")
    return recording_id


def _item(
    uow: UnitOfWork,
    case_id: int,
    recording_id: str,
    clip_id: str | None,
    redaction_id: str | None = None,
) -> ScheduleItem | None:
    same_clip = (
        ScheduleItem.clip_id.is_(None) if clip_id is None else ScheduleItem.clip_id == clip_id
    )
    same_copy = (
        ScheduleItem.redaction_id.is_(None)
        if redaction_id is None
        else ScheduleItem.redaction_id == redaction_id
    )
    return uow.session.scalar(
        select(ScheduleItem)
        .where(
            ScheduleItem.case_id == case_id,
            ScheduleItem.recording_id == recording_id,
            same_clip,
            same_copy,
        )
        .with_for_update()
    )


def _check_free(uow: UnitOfWork, case: Case, reference: str, item: ScheduleItem | None) -> None:
    holder = uow.session.scalar(
        select(ScheduleItem.id).where(
            ScheduleItem.case_id == case.id, ScheduleItem.reference == reference
        )
    )
    if holder is not None and (item is None or holder != item.id):
        taken = [
            r
            for r in uow.session.scalars(
                select(ScheduleItem.reference).where(
                    ScheduleItem.case_id == case.id, ScheduleItem.reference.is_not(None)
                )
            )
            if r
        ]
        prefix = reference.split("/", 1)[0]
        raise Conflict(
            f"exhibit reference {reference} is taken in case {case.reference}: "
            f"the next free one is {next_reference(prefix, taken)}"
        )


def cases_to_mark(
    system: System, principal: Principal, recording_id: str, clip_id: str
) -> list[CaseToMark]:
    """The open cases the clip's recording is in where this person may mark the schedule
    (none for a role that may not): for the clip page's "add to the schedule" form. The
    caller has let the person see the clip already."""
    with system.unit_of_work() as uow:
        viewer = viewer_for(uow, principal)
        if not may(viewer, SystemAction.MARK_SCHEDULE):
            return []
        found = uow.session.scalars(
            select(Case)
            .join(CaseRecording, CaseRecording.case_id == Case.id)
            .where(
                CaseRecording.recording_id == recording_id,
                Case.status == "open",
                visible_cases(viewer),
            )
            .order_by(Case.reference)
        )
        choices = []
        for case in found:
            lines = _lines(uow, principal, case, reserve=False)
            line = next((x for x in lines if x.clip_id == clip_id), None)
            if line is None:  # a deleted clip is on no schedule any more
                continue
            choices.append(
                CaseToMark(
                    case_id=case.id,
                    reference=case.reference,
                    title=case.title,
                    suggested_reference=line.suggested_reference,
                    use=line.use,
                )
            )
        return choices


def _printed(
    system: System, principal: Principal, case_id: int, actor: Actor, kind: str
) -> Schedule:
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VIEW_CASES, actor, PRINT, "case", str(case_id))
        case = open_case(uow, principal, case_id)
        schedule = _schedule(uow, principal, case)
        uow.audit(
            PRINT,
            actor,
            object_type="case",
            object_id=str(case_id),
            details={"format": kind, "lines": len(schedule.lines)},
        )
        uow.commit()
        return schedule


def schedule_pdf(system: System, principal: Principal, case_id: int, actor: Actor) -> bytes:
    """The schedule as a PDF, as the prosecution receives it; its printing is audited."""
    schedule = _printed(system, principal, case_id, actor, "pdf")
    return printing.render_pdf(schedule, printed_by=actor.name)


def schedule_csv(system: System, principal: Principal, case_id: int, actor: Actor) -> str:
    """The schedule as CSV (one line per item); its printing is audited."""
    return printing.render_csv(_printed(system, principal, case_id, actor, "csv"))
