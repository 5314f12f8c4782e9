"""The object store's own guard over footage: Object Lock set from retention decisions.

Custody's rules decide when footage goes (`custody.domain.retention`); where the store has
Object Lock, it is also asked to refuse any earlier delete, even one made with Custody's
own credentials (`domain.retention.store_protection`, docs/storage.md). The store is told
after each change of a recording's retention has committed, and a daily renewal rolls
COMPLIANCE retention forward for what is kept and lifts legal holds on what falls due, so
a change that reached the database but not the store (a crash, a store that was down)
is put right within a day. Deletion that is due is never blocked: the purge lifts the
hold itself before it deletes, and COMPLIANCE retention never outlasts the due date.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import select

from custody.db.models import Recording
from custody.domain.errors import NotFound, StoreUnavailable
from custody.domain.retention import DELETED, StoreProtection, planned_limit, store_protection
from custody.services.system import System

logger = logging.getLogger(__name__)

LOCK_BATCH = 500
LOCK_REQUESTS = 8


def protection_of(recording: Recording, now: datetime) -> StoreProtection:
    # Undecided (just ingested): the 31-day baseline is its date until the sweep decides.
    delete_at = (
        recording.delete_due_at
        if recording.retention_rule is not None
        else planned_limit(recording.started_at)
    )
    return store_protection(delete_at, recording.started_at, now)


def lock_objects(system: System, recording_ids: Iterable[str]) -> int:
    """Ask the store to protect these recordings' footage as their retention now says.

    Footage that two live recordings share gets the stronger of their protections. A
    store that is down is logged, not raised: the change it follows has committed, and
    the daily renewal tells the store again. Returns how many objects were told.
    """
    try:
        if not system.store.object_lock:
            return 0
    except StoreUnavailable:
        logger.warning("the store did not say whether it has Object Lock; the renewal will")
        return 0
    ids = sorted(set(recording_ids))
    wanted: dict[str, StoreProtection] = {}
    for start in range(0, len(ids), LOCK_BATCH):
        with system.unit_of_work() as uow:
            now = uow.now()
            rows = uow.session.scalars(
                select(Recording).where(
                    Recording.id.in_(ids[start : start + LOCK_BATCH]), Recording.state != DELETED
                )
            ).all()
            shas = {r.sha256 for r in rows}
            sharing = uow.session.scalars(
                select(Recording).where(Recording.sha256.in_(shas), Recording.state != DELETED)
            ).all()
            for row in sharing:
                wanted[row.sha256] = _stronger(wanted.get(row.sha256), protection_of(row, now))

    def tell(item: tuple[str, StoreProtection]) -> bool:
        sha, protection = item
        try:
            system.store.protect(sha, protection.keep_for, protection.hold)
        except StoreUnavailable:
            logger.warning("could not set Object Lock on %s now; the daily renewal will", sha)
            return False
        return True

    # A few requests each, waiting on the network: several at once (a category changed on
    # thousands of recordings tells the store about all of them after its commit).
    with ThreadPoolExecutor(max_workers=LOCK_REQUESTS, thread_name_prefix="object-lock") as pool:
        return sum(pool.map(tell, wanted.items()))


def follow(system: System, recording_ids: Iterable[str]) -> None:
    """`lock_objects`, for a unit of work's after-commit hook."""
    lock_objects(system, recording_ids)


def _stronger(a: StoreProtection | None, b: StoreProtection) -> StoreProtection:
    if a is None:
        return b
    return StoreProtection(max(a.keep_for, b.keep_for), a.hold or b.hold)


def renew_locks(system: System) -> int:
    """Tell the store every live recording's protection again (the daily job)."""
    if not system.store.object_lock:
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
        told += lock_objects(system, ids)
        after = ids[-1]


def release_for_deletion(system: System, sha256: str) -> None:
    """Lift the legal hold on footage the sweep is deleting now (it is due); an object a
    crashed run deleted already has none."""
    with contextlib.suppress(NotFound):
        system.store.protect(sha256, timedelta(0), hold=False)
