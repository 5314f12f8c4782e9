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
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from custody.db.models import Recording
from custody.db.models.storage import ObjectLockState
from custody.domain.clock import as_utc
from custody.domain.errors import NotFound, StoreUnavailable
from custody.domain.retention import DELETED, StoreProtection, planned_limit, store_protection
from custody.services.system import System

logger = logging.getLogger(__name__)

LOCK_BATCH = 500
LOCK_REQUESTS = 8
# COMPLIANCE retention is rolled forward once it runs out within this: the daily renewal
# then tells a kept object's store every few days, not daily, and two missed runs still
# leave it covered (the legal hold covers what is kept beyond retention anyway).
RENEW_WITHIN = timedelta(days=3)


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
    if not due:
        return 0

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

    # A few requests each, waiting on the network: several at once (a category changed on
    # thousands of recordings tells the store about all of them after its commit).
    with ThreadPoolExecutor(max_workers=LOCK_REQUESTS, thread_name_prefix="object-lock") as pool:
        acknowledged = [sha for sha in pool.map(tell, due.items()) if sha is not None]
    _record(system, {sha: due[sha] for sha in acknowledged}, now)
    return len(acknowledged)


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


def renew_locks(system: System) -> int:
    """The daily job: tell the store what is due or changed among every live recording's
    footage (read from the database a batch at a time; the store is asked only about the
    objects `lock_due` names). Returns how many objects were told."""
    try:
        if not system.store.object_lock:
            return 0
    except StoreUnavailable:
        logger.warning("the store did not say whether it has Object Lock; renewal next time")
        return 0
    told = 0
    after = ""
    while True:
        with system.unit_of_work() as uow:
            ids = list(
                uow.session.scalars(
                    select(Recording.id)
                    .where(Recording.state != DELETED, Recording.id > after)
                    .order_by(Recording.id)
                    .limit(LOCK_BATCH)
                )
            )
        if not ids:
            return told
        told += _lock_batch(system, ids)
        after = ids[-1]


def release_for_deletion(system: System, sha256: str) -> None:
    """Lift the legal hold on footage the sweep is deleting now (it is due); an object a
    crashed run deleted already has none."""
    with contextlib.suppress(NotFound):
        system.store.protect(sha256, timedelta(0), hold=False)
