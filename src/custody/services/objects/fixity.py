"""Fixity: read every object back whole, at a bounded rate, and check its SHA-256.

A change, a missing object or one that no longer opens is recorded, shown on the
administration page and written to the audit trail, and never "repaired": the fix (a
restore from a verified copy) is a person's decision. Each object's last good check is kept
(`fixity_checks`), so the page can say when every object was last proven intact.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import or_, select

from custody.db.models import Recording
from custody.db.models.disclosure import Clip
from custody.db.models.storage import FixityCheck
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.domain.errors import KeyDestroyed, NotFound, ObjectCorrupt, WrongKeyEncryptionKey
from custody.domain.principal import Principal
from custody.domain.retention import DELETED
from custody.services.access import require
from custody.services.objects.answers import FixityReport, FixityStanding, ObjectProblem
from custody.services.system import System, UnitOfWork
from custody.storage import BlobStore

INTACT = "intact"
CHANGED = "changed"
MISSING = "missing"
UNREADABLE = "unreadable"
FAILED_TAG = "system:object:fixity_failed"
RESTORED_TAG = "system:object:fixity_restored"
# The page lists at most this many problems (the report of `custody fixity` lists all).
SHOWN_PROBLEMS = 50

Progress = Callable[[str, int], None]


def live_objects(uow: UnitOfWork) -> dict[str, int | None]:
    """Every object the database says must be in the store, with its size where known:
    each live recording's original and derivatives, and every clip not deleted."""
    columns = [c for c in Recording.__table__.columns if c.name.endswith("sha256")]
    found: dict[str, int | None] = {}
    rows = uow.session.execute(select(Recording.size, *columns).where(Recording.state != DELETED))
    for size, original, *derived in rows:
        found[original] = size
        for sha in derived:
            if sha and sha not in found:
                found[sha] = None
    clips = uow.session.execute(select(Clip.sha256, Clip.size).where(Clip.deleted_at.is_(None)))
    for sha, size in clips:
        found.setdefault(sha, size)
    return found


@dataclass(frozen=True)
class Outcome:
    outcome: str
    detail: str
    bytes_read: int


class Throttle:
    """Keeps reading at or under a rate, so that fixity never starves playback."""

    def __init__(self, bytes_per_second: float | None) -> None:
        self.rate = bytes_per_second
        self.started = time.monotonic()
        self.done = 0

    def spent(self, count: int) -> None:
        self.done += count
        if self.rate is None:
            return
        ahead = self.done / self.rate - (time.monotonic() - self.started)
        if ahead > 0:
            time.sleep(ahead)


def check_object(
    store: BlobStore,
    sha256: str,
    throttle: Throttle | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Read one object whole through the store and compare its SHA-256 with its name."""
    digest = hashlib.sha256()
    read = 0
    try:
        for block in store.read(sha256):
            digest.update(block)
            read += len(block)
            if throttle is not None:
                throttle.spent(len(block))
            if progress is not None:
                progress(sha256, len(block))
    except KeyDestroyed as exc:
        return Outcome(UNREADABLE, exc.message, read)
    except NotFound:
        return Outcome(MISSING, "the object is not in the store", read)
    except ObjectCorrupt as exc:
        return Outcome(CHANGED, exc.message, read)
    except (WrongKeyEncryptionKey, OSError) as exc:
        return Outcome(UNREADABLE, str(exc), read)
    if digest.hexdigest() != sha256:
        return Outcome(CHANGED, f"its bytes hash to {digest.hexdigest()}", read)
    return Outcome(INTACT, "", read)


def run_fixity(
    system: System,
    *,
    store: BlobStore | None = None,
    bytes_per_second: float | None = None,
    seconds: float | None = None,
    progress: Progress | None = None,
    planned: Callable[[int, int], None] | None = None,
) -> FixityReport:
    """Check objects, those never checked and then the longest unchecked first, for at most
    `seconds` (all of them when None). Records each outcome; audits each new problem."""
    store = store or system.store
    started = time.monotonic()
    with system.unit_of_work() as uow:
        expected = live_objects(uow)
        last = dict(uow.session.execute(select(FixityCheck.sha256, FixityCheck.checked_at)).all())
    order = sorted(expected, key=lambda sha: (sha in last, last.get(sha) or 0, sha))
    if planned is not None:
        planned(len(order), sum(size or 0 for size in expected.values()))
    throttle = Throttle(bytes_per_second)
    problems: list[ObjectProblem] = []
    checked = intact = read = 0
    for sha in order:
        if seconds is not None and time.monotonic() - started >= seconds:
            break
        outcome = check_object(store, sha, throttle, progress)
        _record(system, sha, outcome, expected[sha])
        checked += 1
        read += outcome.bytes_read
        if outcome.outcome == INTACT:
            intact += 1
        else:
            problems.append(
                ObjectProblem(sha256=sha, outcome=outcome.outcome, detail=outcome.detail)
            )
    return FixityReport(
        checked=checked,
        intact=intact,
        bytes_read=read,
        seconds=round(time.monotonic() - started, 3),
        problems=problems,
    )


def _record(system: System, sha: str, outcome: Outcome, size: int | None) -> None:
    with system.unit_of_work() as uow:
        now = uow.now()
        row = uow.session.get(FixityCheck, sha, with_for_update=True)
        before = None if row is None else row.outcome
        if row is None:
            row = FixityCheck(sha256=sha, intact_at=None, detail="")
            uow.session.add(row)
        row.checked_at = now
        row.outcome = outcome.outcome
        row.detail = outcome.detail[:2000]
        row.size = size
        if outcome.outcome == INTACT:
            row.intact_at = now
        # A problem is told once, when it appears (the page keeps showing it until it ends).
        if outcome.outcome != INTACT and before != outcome.outcome:
            uow.audit(
                FAILED_TAG,
                Actor.system(),
                object_type="object",
                object_id=sha,
                allowed=True,
                reason=f"fixity: {outcome.outcome}",
                details={
                    "outcome": outcome.outcome,
                    "detail": outcome.detail[:500],
                    "recordings": _recordings_of(uow, sha),
                    "intact_last": isoformat(row.intact_at) if row.intact_at else None,
                },
            )
        elif outcome.outcome == INTACT and before not in (None, INTACT):
            # Someone put the right bytes back: that is news for the audit trail too.
            uow.audit(
                RESTORED_TAG,
                Actor.system(),
                object_type="object",
                object_id=sha,
                details={"was": before},
            )
        uow.commit()


def _recordings_of(uow: UnitOfWork, sha: str) -> list[str]:
    columns = [c for c in Recording.__table__.columns if c.name.endswith("sha256")]
    found = uow.session.scalars(
        select(Recording.id).where(or_(*[column == sha for column in columns])).limit(20)
    )
    return sorted(found)


def standing(system: System, principal: Principal, actor: Actor) -> FixityStanding:
    """When every object was last proven intact, and what is wrong now; for the storage page."""
    with system.unit_of_work() as uow:
        require(uow, principal, SystemAction.VERIFY_AUDIT, actor, "user:system:fixity")
        expected = live_objects(uow)
        checks = {
            row.sha256: row
            for row in uow.session.scalars(select(FixityCheck))
            if row.sha256 in expected
        }
        proofs = [row.intact_at for row in checks.values() if row.intact_at is not None]
        problems = sorted(
            (row for row in checks.values() if row.outcome != INTACT),
            key=lambda row: row.checked_at,
            reverse=True,
        )
        uow.commit()
    return FixityStanding(
        objects=len(expected),
        proven=len(proofs),
        never_proven=len(expected) - len(proofs),
        oldest_proof_at=isoformat(min(proofs)) if len(proofs) == len(expected) and proofs else None,
        newest_proof_at=isoformat(max(proofs)) if proofs else None,
        problems=[
            ObjectProblem(sha256=row.sha256, outcome=row.outcome, detail=row.detail)
            for row in problems[:SHOWN_PROBLEMS]
        ],
    )
