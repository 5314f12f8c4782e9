"""What the object use cases answer: fixity, store verification and migration reports."""

from __future__ import annotations

from custody.services.answers import Answer, When


class ObjectProblem(Answer):
    """One object that is not as the database says it must be."""

    sha256: str
    # changed | missing | unreadable | present_after_deletion
    outcome: str
    detail: str


class FixityReport(Answer):
    checked: int
    intact: int
    bytes_read: int
    seconds: float
    problems: list[ObjectProblem]

    @property
    def all_intact(self) -> bool:
        return not self.problems


class FixityStanding(Answer):
    """When every object was last proven intact, for the administration page."""

    objects: int
    proven: int
    never_proven: int
    oldest_proof_at: When | None
    newest_proof_at: When | None
    problems: list[ObjectProblem]
    # All the objects not intact now (`problems` lists the latest few of them).
    problems_total: int = 0
    # The periodic walk: cycles over every object completed, and where this one began.
    cycles_done: int = 0
    cycle_started_at: When | None = None
    last_cycle_at: When | None = None


class SealReport(Answer):
    """What `custody store seal` did to the objects stored before encryption at rest."""

    sealed: int
    # Sealed, but Object Lock keeps the older plaintext version until the object is due.
    plaintext_versions_kept: list[str]
    problems: list[ObjectProblem]
    remaining: int

    @property
    def complete(self) -> bool:
        return not self.problems and self.remaining == 0


class RotationReport(Answer):
    """What `custody store rotate-kek` did: data keys wrapped again, and the old key's fate."""

    from_kek: str
    to_kek: str
    rewrapped: int
    finished: bool
    retired: str
