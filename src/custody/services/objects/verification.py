"""`custody store verify`: does a store (a restored backup, say) hold what the database says?

Every live recording's objects must be present and intact; every deleted recording's
objects must be gone (a backup taken before a deletion still holds them: that is named,
with whether its data key is gone, which makes those bytes unreadable). Objects nobody
names are listed too, without failing the check: a crash between a put and its commit
leaves such leftovers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from sqlalchemy import select

from custody.db.models.storage import ObjectKey
from custody.domain.actor import Actor
from custody.services.answers import Answer
from custody.services.objects.answers import ObjectProblem
from custody.services.objects.fixity import INTACT, check_object
from custody.services.objects.listing import (
    PAGE,
    copy_names,
    count_deleted_recordings,
    count_live,
    deleted_recording_pages,
    live_names_in_order,
    which_live,
)
from custody.services.system import System
from custody.storage import BlobStore

PRESENT_AFTER_DELETION = "present_after_deletion"
VERIFY_TAG = "system:store:verify"
# The answer names at most this many objects nobody names (it counts them all).
LISTED_UNREFERENCED = 10_000


class StoreVerification(Answer):
    store: str
    live: int
    intact: int
    deleted_checked: int
    differences: list[ObjectProblem]
    unreferenced: list[str]
    unreferenced_total: int

    @property
    def matches(self) -> bool:
        return not self.differences


def verify_store(
    system: System,
    store: BlobStore,
    store_name: str,
    *,
    progress: Callable[[str], None] | None = None,
    planned: Callable[[int], None] | None = None,
    page: int = PAGE,
) -> StoreVerification:
    """Check `store` against the database, a page of names at a time: memory holds a page
    and the differences found, whatever the number of objects."""
    if planned is not None:
        planned(count_live(system) + count_deleted_recordings(system))
    differences: list[ObjectProblem] = []
    live = intact = deleted_checked = 0
    for sha in live_names_in_order(system, page):
        live += 1
        outcome = check_object(store, sha)
        if outcome.outcome == INTACT:
            intact += 1
        else:
            differences.append(
                ObjectProblem(sha256=sha, outcome=outcome.outcome, detail=outcome.detail)
            )
        if progress is not None:
            progress(sha)
    # Bytes that two deleted recordings shared are named once (every such name is a
    # difference, so this set is no larger than the differences themselves).
    told: set[str] = set()
    for recordings, names in deleted_recording_pages(system, page):
        keyed = _keyed(system, names)
        for sha in names:
            deleted_checked += 1
            if sha not in told and store.exists(sha):
                told.add(sha)
                shredded = (
                    "its data key is destroyed: the bytes are unreadable"
                    if sha not in keyed
                    else "its data key is still kept: READABLE"
                )
                differences.append(
                    ObjectProblem(
                        sha256=sha,
                        outcome=PRESENT_AFTER_DELETION,
                        detail=f"its recording was deleted, yet the object is here; {shredded}",
                    )
                )
        if progress is not None:
            for _ in range(recordings):
                progress("")
    # What the store holds that nobody names: its listing a page at a time, asked of the
    # database by the page. A deleted recording's object there is a difference already.
    unreferenced: list[str] = []
    unreferenced_total = 0
    listed = store.iter_objects()
    copies = copy_names(system)
    while batch := list(itertools.islice(listed, page)):
        named = which_live(system, batch, copies)
        for sha in batch:
            if sha not in named and sha not in told:
                unreferenced_total += 1
                if len(unreferenced) < LISTED_UNREFERENCED:
                    unreferenced.append(sha)
    result = StoreVerification(
        store=store_name,
        live=live,
        intact=intact,
        deleted_checked=deleted_checked,
        differences=differences,
        unreferenced=sorted(unreferenced),
        unreferenced_total=unreferenced_total,
    )
    with system.unit_of_work() as uow:
        uow.audit(
            VERIFY_TAG,
            Actor.system(),
            object_type="store",
            object_id=store_name[:80],
            allowed=True,
            details={
                "live": result.live,
                "intact": intact,
                "differences": len(differences),
                "unreferenced": unreferenced_total,
            },
        )
        uow.commit()
    return result


def _keyed(system: System, names: list[str]) -> set[str]:
    """Those of `names` whose data key is still kept."""
    if not names:
        return set()
    with system.unit_of_work() as uow:
        return set(uow.session.scalars(select(ObjectKey.sha256).where(ObjectKey.sha256.in_(names))))
