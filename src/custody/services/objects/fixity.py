"""Fixity: read every object back whole, at a bounded rate, and check its SHA-256.

A change, a missing object or one that no longer opens is recorded, shown on the
administration page and written to the audit trail, and never "repaired": the fix (a
restore from a verified copy) is a person's decision. Each object's last good check is kept
(`fixity_checks`), so the page can say when every object was last proven intact.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Subquery, func, or_, select, union

from custody.db.models import Recording
from custody.db.models.disclosure import Clip
from custody.db.models.redaction import Redaction
from custody.db.models.storage import FixityCheck, FixityCursor
from custody.domain.access import SystemAction
from custody.domain.actor import Actor
from custody.domain.clock import as_utc, isoformat
from custody.domain.errors import KeyDestroyed, NotFound, ObjectCorrupt, WrongKeyEncryptionKey
from custody.domain.principal import Principal
from custody.domain.retention import DELETED
from custody.services.access import require_role
from custody.services.objects.answers import FixityReport, FixityStanding, ObjectProblem
from custody.services.retention.derived import live_copy_objects
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
# A run's report names at most this many problems (every one is recorded and audited).
REPORTED_PROBLEMS = 10_000

Progress = Callable[[str, int], None]


RECORDINGS = "recordings"
CLIPS = "clips"
COPIES = "copies"
DONE = "done"
# Rows read from the database at a time: memory stays bounded whatever the store's size.
WALK_BATCH = 500
PERIODIC = "periodic"
# Each slice first checks up to this many objects never checked yet (new footage).
FRESH_FIRST = 200


@dataclass(frozen=True)
class Position:
    """Where a walk over the live objects stands: every object of the rows of `phase` up
    to and including id `after` is done (recordings first, then clips, then the objects
    made from recordings, by name)."""

    phase: str = RECORDINGS
    after: str = ""


@dataclass(frozen=True)
class Walked:
    sha256: str
    size: int | None
    # Set on the last object of a row: resuming from here skips nothing.
    done: Position | None


def walk_objects(
    system: System, start: Position = Position(), batch: int = WALK_BATCH
) -> Iterator[Walked]:
    """Every object the database says must be in the store, in a fixed order (keyset over
    recording ids, then clip ids, then redacted copies' and face thumbnails' names), a batch
    of rows per short transaction. An object shared
    by two rows comes twice; a caller that minds skips what it has seen this cycle."""
    columns = [c for c in Recording.__table__.columns if c.name.endswith("sha256")]
    phase, after = start.phase, start.after
    while phase == RECORDINGS:
        with system.unit_of_work() as uow:
            rows = uow.session.execute(
                select(Recording.id, Recording.size, *columns)
                .where(Recording.state != DELETED, Recording.id > after)
                .order_by(Recording.id)
                .limit(batch)
            ).all()
        for rid, size, original, *derived in rows:
            names = [(original, size)] + [(sha, None) for sha in derived if sha and sha != original]
            for index, (sha, known) in enumerate(names):
                last = index == len(names) - 1
                yield Walked(sha, known, Position(RECORDINGS, rid) if last else None)
        if len(rows) < batch:
            phase, after = CLIPS, ""
            yield Walked("", None, Position(CLIPS, ""))
        else:
            after = rows[-1][0]
    while phase == CLIPS:
        with system.unit_of_work() as uow:
            clips = uow.session.execute(
                select(Clip.id, Clip.sha256, Clip.size)
                .where(Clip.deleted_at.is_(None), Clip.id > after)
                .order_by(Clip.id)
                .limit(batch)
            ).all()
        for cid, sha, size in clips:
            yield Walked(sha, size, Position(CLIPS, cid))
        if len(clips) < batch:
            phase, after = COPIES, ""
            yield Walked("", None, Position(COPIES, ""))
        else:
            after = clips[-1][0]
    if phase == COPIES:
        # Redacted copies, their records and face thumbnails: few beside the footage (a
        # handful per request or case), so their names are read at once, in name order.
        with system.unit_of_work() as uow:
            names = sorted(live_copy_objects(uow))
        for sha in names:
            if sha > after:
                yield Walked(sha, None, Position(COPIES, sha))
        yield Walked("", None, Position(DONE, ""))


def live_names() -> Subquery:
    """The names of every live object, as one SQL set (the database dedupes them)."""
    columns = [c for c in Recording.__table__.columns if c.name.endswith("sha256")]
    parts = [
        select(column.label("sha256")).where(Recording.state != DELETED, column.is_not(None))
        for column in columns
    ]
    parts.append(select(Clip.sha256.label("sha256")).where(Clip.deleted_at.is_(None)))
    # A redacted copy and the record it names (the record stored before an approval and
    # face thumbnails live in JSON: the walks add them, `listing.count_live` counts them).
    for column in (Redaction.sha256, Redaction.record_sha256):
        parts.append(
            select(column.label("sha256")).where(
                Redaction.deleted_at.is_(None), column.is_not(None)
            )
        )
    return union(*parts).subquery("live")


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
    resume: bool = False,
) -> FixityReport:
    """Check the live objects in a fixed order, for at most `seconds` (all of them when None).
    Records each outcome; audits each new problem. With `resume` (the periodic job), the
    walk starts where the last one stopped (`fixity_cursors`), and the run after the one
    that reached the end starts the next cycle: slices of any length, killed or not, cover
    every object, cycle after cycle."""
    store = store or system.store
    started = time.monotonic()
    with system.unit_of_work() as uow:
        cycle_start = uow.now()
        position = Position()
        if resume:
            cursor = _cursor(uow)
            position = Position(cursor.phase, cursor.after)
            cycle_start = cursor.cycle_started_at
            uow.commit()
        if planned is not None:
            planned(*_planned(uow))
    throttle = Throttle(bytes_per_second)
    problems: list[ObjectProblem] = []
    checked = intact = read = 0
    # New footage first (never checked yet: it waits for no cycle), a bounded batch.
    fresh = _never_checked(system) if resume else []
    walk = itertools.chain(
        (Walked(sha, size, None) for sha, size in fresh), walk_objects(system, position)
    )
    for item in walk:
        if seconds is not None and time.monotonic() - started >= seconds:
            break
        if item.sha256 and not _checked_since(system, item.sha256, cycle_start, resume):
            outcome = check_object(store, item.sha256, throttle, progress)
            _record(system, item.sha256, outcome, item.size)
            checked += 1
            read += outcome.bytes_read
            if outcome.outcome == INTACT:
                intact += 1
            elif len(problems) < REPORTED_PROBLEMS:
                problems.append(
                    ObjectProblem(
                        sha256=item.sha256, outcome=outcome.outcome, detail=outcome.detail
                    )
                )
        if item.done is not None and resume:
            _advance(system, item.done)
    return FixityReport(
        checked=checked,
        intact=intact,
        bytes_read=read,
        seconds=round(time.monotonic() - started, 3),
        problems=problems,
    )


def _never_checked(system: System) -> list[tuple[str, int | None]]:
    """Live originals never checked at all (footage ingested since the walk passed)."""
    with system.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Recording.sha256, Recording.size)
            .outerjoin(FixityCheck, FixityCheck.sha256 == Recording.sha256)
            .where(Recording.state != DELETED, FixityCheck.sha256.is_(None))
            .order_by(Recording.sha256)
            .limit(FRESH_FIRST)
        ).all()
    return list(dict.fromkeys((sha, size) for sha, size in rows))


def _cursor(uow: UnitOfWork) -> FixityCursor:
    cursor = uow.session.get(FixityCursor, PERIODIC, with_for_update=True)
    if cursor is None:
        cursor = FixityCursor(
            name=PERIODIC, phase=RECORDINGS, after="", cycle_started_at=uow.now(), cycles_done=0
        )
        uow.session.add(cursor)
        uow.session.flush()
    if cursor.phase == DONE:
        cursor.phase, cursor.after = RECORDINGS, ""
        cursor.cycle_started_at = uow.now()
    return cursor


def _advance(system: System, position: Position) -> None:
    """Keep where the periodic walk stands; at the end of a cycle, count it."""
    with system.unit_of_work() as uow:
        cursor = _cursor(uow)
        cursor.phase, cursor.after = position.phase, position.after
        if position.phase == DONE:
            cursor.cycles_done += 1
            cursor.last_cycle_at = uow.now()
        uow.commit()


def _checked_since(system: System, sha: str, since: datetime, cycle: bool) -> bool:
    """Already checked in this cycle (bytes two rows share, or a full run meanwhile), or
    in this run (a full run: strictly after it began, so a run never trusts the last)."""
    with system.unit_of_work() as uow:
        at = uow.session.scalar(select(FixityCheck.checked_at).where(FixityCheck.sha256 == sha))
    if at is None:
        return False
    return as_utc(at) >= as_utc(since) if cycle else as_utc(at) > as_utc(since)


def _planned(uow: UnitOfWork) -> tuple[int, int]:
    """How many objects and bytes a whole walk reads (derived objects' sizes are unknown)."""
    live = live_names()
    count = uow.session.scalar(select(func.count()).select_from(live)) or 0
    size = (
        uow.session.scalar(
            select(func.coalesce(func.sum(Recording.size), 0)).where(Recording.state != DELETED)
        )
        or 0
    )
    size += (
        uow.session.scalar(
            select(func.coalesce(func.sum(Clip.size), 0)).where(Clip.deleted_at.is_(None))
        )
        or 0
    )
    return int(count), int(size)


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
    """When every object was last proven intact, and what is wrong now; for the storage page.
    Counted by the database over the live objects' names: nothing is loaded whole."""
    with system.unit_of_work() as uow:
        require_role(uow, principal, SystemAction.VERIFY_AUDIT, actor, "user:system:fixity")
        live = live_names()
        objects = uow.session.scalar(select(func.count()).select_from(live)) or 0
        joined = live.join(FixityCheck, FixityCheck.sha256 == live.c.sha256)
        proven, oldest, newest = uow.session.execute(
            select(
                func.count(FixityCheck.intact_at),
                func.min(FixityCheck.intact_at),
                func.max(FixityCheck.intact_at),
            ).select_from(joined)
        ).one()
        problems = uow.session.execute(
            select(FixityCheck.sha256, FixityCheck.outcome, FixityCheck.detail)
            .select_from(joined)
            .where(FixityCheck.outcome != INTACT)
            .order_by(FixityCheck.checked_at.desc(), FixityCheck.sha256)
            .limit(SHOWN_PROBLEMS)
        ).all()
        failing = uow.session.scalar(
            select(func.count()).select_from(joined).where(FixityCheck.outcome != INTACT)
        )
        cursor = uow.session.get(FixityCursor, PERIODIC)
        uow.commit()
    return FixityStanding(
        objects=objects,
        proven=proven,
        never_proven=objects - proven,
        oldest_proof_at=(
            isoformat(as_utc(oldest)) if oldest is not None and proven == objects else None
        ),
        newest_proof_at=isoformat(as_utc(newest)) if newest is not None else None,
        problems=[
            ObjectProblem(sha256=sha, outcome=outcome, detail=detail)
            for sha, outcome, detail in problems
        ],
        problems_total=failing or 0,
        cycles_done=0 if cursor is None else cursor.cycles_done,
        cycle_started_at=None if cursor is None else isoformat(as_utc(cursor.cycle_started_at)),
        last_cycle_at=(
            isoformat(as_utc(cursor.last_cycle_at))
            if cursor is not None and cursor.last_cycle_at is not None
            else None
        ),
    )
