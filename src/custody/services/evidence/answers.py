"""What the evidence use cases answer: categories, what people write on a recording, evidence
flags, holds and cases, and a recording's lifecycle as one person may see it.

A change that can move a deletion date answers with its `RetentionEffect` too, as the door
(`custody.services.access.audited_effect`) tells it to this person.
"""

from __future__ import annotations

from pydantic import Field

from custody.services.answers import Answer, When
from custody.services.retention.answers import RetentionEffect

# --- categories --------------------------------------------------------------------------


class CategoryView(Answer):
    """A category and its rule: how long footage is kept, who may see it, its review."""

    id: int
    name: str
    description: str
    retention_days: int | None
    retention: str  # the rule in words: "365 days from recording", "until manually deleted"
    review_days: int | None
    access_class: str
    evidential: bool
    assignable: bool  # false only for Uncategorised, the 31-day rule itself
    retired: bool


class CategoryChanged(CategoryView):
    """A changed category, how many of its recordings were decided again at once, and how
    many of their deletion dates moved (as you may know them)."""

    recordings_decided_again: int
    dates_moved: int


class CategoryPreview(Answer):
    """What saving a change to a category would do to its recordings' deletion dates, as
    you may know them. Over a large category the figures cover the first `examined` of at
    least `recordings` (`recordings_exact` false)."""

    category: CategoryView
    retention_days: int | None  # as it would be: None keeps footage until manually deleted
    recordings: int
    recordings_exact: bool
    examined: int
    unchanged: int
    earlier: int
    due_now: int  # brought within the pending notice: deleted within 7 days
    later: int
    kept_regardless: int  # a hold, an open case or an evidence flag keeps them whatever


class Categorised(RetentionEffect):
    """A recording's whole set of categories after a change, and its access class."""

    recording_id: str
    categories: list[str]
    access_class: str


# --- annotations -------------------------------------------------------------------------


class Note(Answer):
    id: int
    text: str
    author: str
    created_at: When


class Bookmark(Answer):
    id: int
    at_seconds: float | None  # seconds from the first frame
    label: str
    author: str
    created_at: When


class Annotations(Answer):
    """A recording's title, crime or incident reference, tags, notes and bookmarks."""

    title: str | None
    reference: str | None
    tags: list[str]
    notes: list[Note]
    bookmarks: list[Bookmark]


# --- evidence flags ----------------------------------------------------------------------


class Flag(Answer):
    """An active evidence flag, as a recording's page shows it."""

    id: int
    reason: str
    flagged_by: str
    flagged_at: When


class FlagChanged(RetentionEffect):
    """An evidence flag placed or cleared, and the effect on the recording's deletion date."""

    id: int
    recording_id: str
    reason: str
    flagged_by: str
    flagged_at: When
    cleared_at: When | None
    cleared_by: str | None
    clear_reason: str | None


# --- holds -------------------------------------------------------------------------------


class HoldView(Answer):
    """A legal or complaint hold on one recording; a complaint hold shows only to those who
    may see complaints, and never to the officer it concerns."""

    id: int
    recording_id: str
    kind: str
    reason: str
    concerns_officer_id: int | None
    placed_by: str
    placed_at: When
    lifted_at: When | None
    lifted_by: str | None
    lift_reason: str | None


class HoldLifted(HoldView, RetentionEffect):
    """A lifted hold, and the effect on the recording's deletion date."""


# --- cases -------------------------------------------------------------------------------


class CaseView(Answer):
    """A case: its crime reference, who works on it, its status and disposal rule."""

    id: int
    reference: str
    title: str
    officer_in_case: str | None  # username
    members: list[str]  # usernames
    status: str
    disposal_days: int | None  # kept this many days after closure; None: until deleted
    created_by: str
    created_at: When
    closed_at: When | None
    closed_by: str | None
    close_reason: str | None


class CaseEntry(Answer):
    """A recording in a case: who added it, when and why."""

    recording_id: str
    added_by: str
    added_at: When
    reason: str | None


class CaseDetail(CaseView):
    """A case with the recordings in it."""

    recordings: list[CaseEntry]


class CaseRecordingChanged(RetentionEffect):
    """A recording added to or taken out of a case, and the effect on its deletion date."""

    case_id: int
    recording_id: str


class CaseRef(Answer):
    """A case a recording is in, as its page names it."""

    id: int
    reference: str
    title: str
    status: str


# --- a recording's lifecycle -------------------------------------------------------------


class EvidenceShown(Answer):
    flagged: bool
    flags: list[Flag]


class RetentionShown(Answer):
    """A recording's retention decision as this person may know it."""

    delete_due_at: When | None
    pending_deletion: bool
    rule: str
    reason: str
    review_due_at: When | None
    last_reviewed_at: When | None


def _absent(value: object) -> bool:
    return value is None


class LifecycleView(Annotations):
    """Categories, annotations, evidence, cases, holds and retention, as you may see them.
    `cases` and `holds` are left out altogether if your role may not see cases, or this
    recording's holds."""

    categories: list[str]
    access_class: str
    evidence: EvidenceShown
    delete_due_at: When | None
    pending_deletion: bool
    retention: RetentionShown
    cases: list[CaseRef] | None = Field(default=None, exclude_if=_absent)
    holds: list[HoldView] | None = Field(default=None, exclude_if=_absent)


# --- complaints --------------------------------------------------------------------------


class ComplaintView(Answer):
    """A complaint professional standards registered: its officers, window and place, and
    how many recordings it holds now (stored already, or docked since)."""

    reference: str
    summary: str
    place: str
    officers: list[str]  # warrant numbers
    since: When
    until: When
    registered_by: str
    registered_at: When
    closed_at: When | None
    closed_by: str | None
    close_reason: str | None
    recordings_held: int


class ComplaintFootage(Answer):
    """One recording a complaint holds."""

    recording_id: str
    officer: str | None
    started_at: When
    ended_at: When
    held_since: When
    lifted_at: When | None


class ComplaintDetail(ComplaintView):
    footage: list[ComplaintFootage]
