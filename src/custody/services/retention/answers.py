"""What the retention use cases answer: a recording on a retention list, what a sweep would
delete or did, a change's effect on a deletion date, and the signed deletion certificate.

Every date is as the person asking may know it (`custody.services.access`): an answer is
built from the door's `shown_decision` and `effect_on_retention`, never from the stored truth.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from custody.services.answers import Answer, Paged, When


class RetentionEffect(Answer):
    """What a change did to the recording's deletion date (null: kept), as you may know it."""

    # Made by the door only (`custody.services.access.effect_on_retention`): those who may not
    # know of a complaint hold are told the dates as if there were none.

    delete_due_before: When | None
    delete_due_after: When | None
    rule: str

    @property
    def moved(self) -> bool:
        """Whether the deletion date this person sees moved."""
        return self.delete_due_before != self.delete_due_after


class RetentionEntry(Answer):
    """A recording on a retention list, with its deletion and review dates and the rule that
    decides them, as you may know them."""

    id: str
    officer: str | None
    recorded_at: When
    title: str | None
    reference: str | None
    categories: list[str]
    delete_due_at: When | None
    pending_deletion: bool
    review_due_at: When | None
    rule: str
    reason: str


class SweepPreview(Paged[RetentionEntry]):
    """What a sweep at `at` would delete, and why; `undecided` counts the recordings it would
    decide first (they have no deletion date yet)."""

    at: When
    undecided: int


class Reviewed(RetentionEffect):
    """A review that kept a recording: when the next one falls."""

    recording_id: str
    review_due_at: When | None


class Restored(RetentionEffect):
    """A recording pending deletion brought back under a category; `extended` says whether
    its deletion date moved (a non-evidential category never keeps footage longer)."""

    recording_id: str
    category: str
    extended: bool


class SweepFailure(Answer):
    """A recording the sweep could not delete (or whose objects it could not remove yet)."""

    recording_id: str
    error: str


class SweepResult(Answer):
    """What one sweep did: recordings it decided first, interrupted deletions it finished,
    recordings deleted, stale dates corrected (kept), objects removed from the store."""

    at: When
    decided: int
    finished: int
    deleted: list[str]
    corrected: list[str]
    objects_deleted: int
    failures: list[SweepFailure]


class DeletionCertificate(Answer):
    """The signed certificate of a deletion: what went, when, and under which rule. The
    signature (Ed25519 over the RFC 8785 form of the other fields) verifies with the server's
    public key; a field a later format adds is given back as it was signed."""

    # Extra fields are kept, never refused: dropping one would break the signature. Fields
    # are declared in the order the stored document has them (sorted), as it always read.
    model_config = ConfigDict(frozen=True, extra="allow")

    camera: str | None
    categories: list[str]
    deleted_at: When
    due_at: When | None
    format: str
    objects: list[str]
    officer: str | None
    reason: str
    recorded_at: When
    recording_id: str
    rule: str
    sha256: str
    signature: str
    size: int


class Tombstone(Answer):
    """What remains of a deleted recording: when it went, and its signed certificate."""

    state: str
    deleted_at: When | None
    objects_removed_at: When | None
    deletion_certificate: DeletionCertificate | None


# --- supervision -------------------------------------------------------------------------


class ComplianceRow(Answer):
    """One team or officer: their footage of the last 31 days, as the reader may list it."""

    name: str
    officer: str | None = Field(default=None, description="warrant number, for an officer's row")
    recordings: int
    uncategorised: int
    due_soon_unreviewed: int = Field(
        description="non-evidential, due for deletion within 7 days, not reviewed or signed off"
    )
    doubtful: int
    signed_off: int
    categorised_rate: float | None


class WeekRate(Answer):
    """One week of recordings: how many were categorised, and reviewed or signed off."""

    week_starting: When
    recorded: int
    categorised: int
    reviewed: int


class DoubtfulItem(Answer):
    recording_id: str
    officer: str | None
    started_at: When
    why: str


class Compliance(Answer):
    """The compliance page: per team (force-wide readers) or per officer (a team)."""

    scope: str = Field(description='"force" or the team (unit) it covers')
    generated_at: When
    teams: list[ComplianceRow]
    officers: list[ComplianceRow]
    weeks: list[WeekRate]
    doubtful: list[DoubtfulItem] = Field(description="the first 50, oldest first")
    unsigned_due_soon: int = Field(
        description="footage the sweep takes within 7 days that nobody has signed off"
    )


class SignedOff(Answer):
    signed_off: int
    doubtful_left: int = Field(description="doubtful footage left for a person to look at")
