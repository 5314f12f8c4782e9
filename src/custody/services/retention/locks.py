"""The object store's own guard over footage: Object Lock set from retention decisions.

Custody's rules decide when footage goes (`custody.domain.retention`); where the store has
Object Lock, it is also asked to refuse any earlier delete, even one made with Custody's
own credentials (`domain.retention.store_protection`, docs/storage.md). The store is told
after each change of a recording's retention has committed, and a daily renewal rolls
COMPLIANCE retention forward for what is kept and lifts legal holds on what falls due, so
a change that reached the database but not the store (a crash, a store that was down)
is put right within a day. What the store acknowledged is kept per object
(`object_locks`), so that only what is due or changed is told again. Deletion that is
due is never blocked: the purge lifts the hold itself before it deletes, and COMPLIANCE
retention never outlasts the due date.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, delete, func, select, true, update
from sqlalchemy.exc import IntegrityError

from custody.db.models import Recording
from custody.db.models.storage import ObjectLockState
from custody.domain.actor import Actor
from custody.domain.clock import as_utc
from custody.domain.errors import NotFound, StoreUnavailable
from custody.domain.retention import (
    DELETED,
    PENDING_NOTICE,
    StoreProtection,
    planned_limit,
    store_protection,
)
from custody.services.system import System

logger = logging.getLogger(__name__)

LOCK_BATCH = 500
LOCK_REQUESTS = 8
# COMPLIANCE retention is rolled forward once it runs out within this: the daily renewal
# then tells a kept object's store every few days, not daily, and two missed runs still
# leave it covered (the legal hold covers what is kept beyond retention anyway).
RENEW_WITHIN = timedelta(days=3)
RELOCK_TAG = "system:store:relock"


def protection_of(recording: Recording, now: datetime) -> StoreProtection:
    # Undecided (just ingested): the 31-day baseline is its date until the sweep decides.
    delete_at = (
        recording.delete_due_at
        if recording.retention_rule is not None
        else planned_limit(recording.started_at)
    )
    return store_protection(delete_at, recording.started_at, now)


def lock_objects(system: System, recording_ids: Iterable[str]) -> int:
    """Ask the store to protect these recordings' footage as their retention now says,
    where that differs from what the store was last told (`object_locks`): a legal hold
    placed or lifted, a first lock, or COMPLIANCE retention that runs out within
    `RENEW_WITHIN`. Everything else the store has already.

    Footage that two live recordings share gets the stronger of their protections. A
    store that is down is logged, not raised: the change it follows has committed, and
    the daily renewal tells the store again (nothing is recorded as told until the store
    acknowledged it). Returns how many objects were told.
    """
    try:
        if not system.store.object_lock:
            return 0
    except StoreUnavailable:
        logger.warning("the store did not say whether it has Object Lock; the renewal will")
        return 0
    ids = sorted(set(recording_ids))
    told = 0
    for start in range(0, len(ids), LOCK_BATCH):
        told += _lock_batch(system, ids[start : start + LOCK_BATCH])
    return told


def _lock_batch(system: System, ids: list[str]) -> int:
    wanted: dict[str, StoreProtection] = {}
    with system.unit_of_work() as uow:
        now = uow.now()
        rows = uow.session.scalars(
            select(Recording).where(Recording.id.in_(ids), Recording.state != DELETED)
        ).all()
        shas = {r.sha256 for r in rows}
        sharing = uow.session.scalars(
            select(Recording).where(Recording.sha256.in_(shas), Recording.state != DELETED)
        ).all()
        # Read with the facts: a change committed after this read bumps the version, and
        # its recording stays pending for the renewal (`_settle`).
        versions = [(row.id, row.sha256, row.locks_version) for row in sharing]
        for row in sharing:
            wanted[row.sha256] = _stronger(wanted.get(row.sha256), protection_of(row, now))
        known = {
            state.sha256: state
            for state in uow.session.scalars(
                select(ObjectLockState).where(ObjectLockState.sha256.in_(sorted(wanted)))
            )
        }
        due = {
            sha: protection
            for sha, protection in wanted.items()
            if lock_due(known.get(sha), protection, now)
        }

    def tell(item: tuple[str, StoreProtection]) -> str | None:
        sha, protection = item
        try:
            system.store.protect(sha, protection.keep_for, protection.hold)
        except StoreUnavailable:
            logger.warning("could not set Object Lock on %s now; the daily renewal will", sha)
            return None
        except NotFound:
            return None  # deleted meanwhile (a purge): nothing to protect
        return sha

    acknowledged: list[str] = []
    if due:
        # A few requests each, waiting on the network: several at once (a category changed
        # on thousands of recordings tells the store about all of them after its commit).
        with ThreadPoolExecutor(
            max_workers=LOCK_REQUESTS, thread_name_prefix="object-lock"
        ) as pool:
            acknowledged = [sha for sha in pool.map(tell, due.items()) if sha is not None]
        _record(system, {sha: due[sha] for sha in acknowledged}, now)
    settled = (set(wanted) - set(due)) | set(acknowledged)
    _settle(system, [(rid, version) for rid, sha, version in versions if sha in settled])
    return len(acknowledged)


def _settle(system: System, recordings: list[tuple[str, int]]) -> None:
    """The store has what these recordings' retention asks: no longer pending, unless a
    change came since their facts were read (its version is newer)."""
    if not recordings:
        return
    table = cast(Table, Recording.__table__)
    with system.unit_of_work() as uow:
        uow.session.execute(
            update(table)
            .where(
                table.c.id == bindparam("rid"),
                table.c.locks_version == bindparam("version"),
                table.c.locks_pending.is_(true()),
            )
            .values(locks_pending=False),
            [{"rid": rid, "version": version} for rid, version in recordings],
        )
        uow.commit()


def mark_pending(recording: Recording) -> None:
    """The recording's retention changed: the store's Object Lock must follow it. Called in
    the change's own transaction, so a crash before the store is told loses nothing."""
    recording.locks_pending = True
    recording.locks_version = (recording.locks_version or 0) + 1


def lock_due(state: ObjectLockState | None, wanted: StoreProtection, now: datetime) -> bool:
    """Whether the store must be told `wanted`, given what it was told last (`state`)."""
    if state is None or state.hold != wanted.hold:
        return True
    if wanted.keep_for <= timedelta(0):
        return False  # nothing to extend: it falls due, and its hold is as wanted
    until = as_utc(now) + wanted.keep_for
    held = as_utc(state.retain_until)
    return until > held and held < as_utc(now) + RENEW_WITHIN


def _record(system: System, told: dict[str, StoreProtection], now: datetime) -> None:
    """Keep what the store acknowledged. Retention only ever grows, as in the store."""
    if not told:
        return
    with system.unit_of_work() as uow:
        known = {
            state.sha256: state
            for state in uow.session.scalars(
                select(ObjectLockState)
                .where(ObjectLockState.sha256.in_(sorted(told)))
                .with_for_update()
            )
        }
        for sha, protection in told.items():
            until = as_utc(now) + max(protection.keep_for, timedelta(0))
            state = known.get(sha)
            if state is None:
                uow.session.add(
                    ObjectLockState(
                        sha256=sha, retain_until=until, hold=protection.hold, set_at=now
                    )
                )
            else:
                state.retain_until = max(as_utc(state.retain_until), until)
                state.hold = protection.hold
                state.set_at = now
        try:
            uow.commit()
        except IntegrityError:
            # Another node recorded one first; what is recorded is at most out of date, and
            # out of date only ever means the store is told again.
            logger.info("object lock state recorded concurrently; the renewal settles it")


def follow(system: System, recording_ids: Iterable[str]) -> None:
    """`lock_objects`, for a unit of work's after-commit hook."""
    lock_objects(system, recording_ids)


def _stronger(a: StoreProtection | None, b: StoreProtection) -> StoreProtection:
    if a is None:
        return b
    return StoreProtection(max(a.keep_for, b.keep_for), a.hold or b.hold)


@dataclass(frozen=True)
class Renewal:
    """What a renewal did: recordings it read (each source's page; one may count twice), and
    objects whose lock the store was told."""

    considered: int = 0
    told: int = 0


def renew_locks(system: System, page: int = LOCK_BATCH) -> Renewal:
    """The daily job: tell the store what is due or changed, reading only the recordings
    that can need it, a page at a time (docs/storage.md):

    - those whose retention changed and the store has not followed yet (`locks_pending`:
      a crash or a store that was down after the change, and new footage);
    - those whose COMPLIANCE retention, as the store was told it, runs out within
      `RENEW_WITHIN` (an index range over `object_locks.retain_until`);
    - those under a legal hold whose due date comes within the pending notice (time alone
      turns a hold off, never on).

    Every other live recording's lock is as the store was last told, and stays right."""
    try:
        if not system.store.object_lock:
            return Renewal()
    except StoreUnavailable:
        logger.warning("the store did not say whether it has Object Lock; renewal next time")
        return Renewal()
    now = system.clock.now()
    considered = told = 0
    for ids in itertools.chain(
        _pending(system, page), _rolling(system, now, page), _lifting(system, now, page)
    ):
        considered += len(ids)
        told += _lock_batch(system, ids)
    return Renewal(considered, told)


def _pending(system: System, page: int) -> Iterator[list[str]]:
    after = ""
    while True:
        with system.unit_of_work() as uow:
            ids = list(
                uow.session.scalars(
                    select(Recording.id)
                    .where(
                        Recording.locks_pending.is_(true()),
                        Recording.state != DELETED,
                        Recording.id > after,
                    )
                    .order_by(Recording.id)
                    .limit(page)
                )
            )
        if ids:
            yield ids
        if len(ids) < page:
            return
        after = ids[-1]


def _rolling(system: System, now: datetime, page: int) -> Iterator[list[str]]:
    after = ""
    while True:
        with system.unit_of_work() as uow:
            shas = list(
                uow.session.scalars(
                    select(ObjectLockState.sha256)
                    .where(
                        ObjectLockState.retain_until < as_utc(now) + RENEW_WITHIN,
                        ObjectLockState.sha256 > after,
                    )
                    .order_by(ObjectLockState.sha256)
                    .limit(page)
                )
            )
            ids = list(
                uow.session.scalars(
                    select(Recording.id)
                    .where(Recording.sha256.in_(shas), Recording.state != DELETED)
                    .order_by(Recording.id)
                )
            )
        if ids:
            yield ids
        if len(shas) < page:
            return
        after = shas[-1]


def _lifting(system: System, now: datetime, page: int) -> Iterator[list[str]]:
    after = ""
    while True:
        with system.unit_of_work() as uow:
            ids = list(
                uow.session.scalars(
                    select(Recording.id)
                    .join(ObjectLockState, ObjectLockState.sha256 == Recording.sha256)
                    .where(
                        ObjectLockState.hold.is_(true()),
                        Recording.state != DELETED,
                        Recording.delete_due_at.is_not(None),
                        Recording.delete_due_at <= as_utc(now) + PENDING_NOTICE,
                        Recording.id > after,
                    )
                    .order_by(Recording.id)
                    .limit(page)
                )
            )
        if ids:
            yield ids
        if len(ids) < page:
            return
        after = ids[-1]


def tell_again(system: System) -> int:
    """After the store changed (a migration to another bucket): forget what any store was
    told and make every live recording pending, so that the next renewal tells the store
    now configured about every object. Returns how many recordings are pending."""
    with system.unit_of_work() as uow:
        uow.session.execute(delete(ObjectLockState))
        uow.session.execute(
            update(Recording)
            .where(Recording.state != DELETED)
            .values(locks_pending=True, locks_version=Recording.locks_version + 1)
        )
        pending = uow.session.scalar(
            select(func.count()).select_from(Recording).where(Recording.locks_pending.is_(true()))
        )
        uow.audit(
            RELOCK_TAG,
            Actor.system(),
            object_type="store",
            object_id=system.settings.resolved_storage_url[:80],
            details={"recordings": pending},
        )
        uow.commit()
    return int(pending or 0)


def release_for_deletion(system: System, sha256: str) -> None:
    """Lift the legal hold on footage the sweep is deleting now (it is due); an object a
    crashed run deleted already has none."""
    with contextlib.suppress(NotFound):
        system.store.protect(sha256, timedelta(0), hold=False)
