"""`custody store verify`: does a store (a restored backup, say) hold what the database says?

Every live recording's objects must be present and intact; every deleted recording's
objects must be gone (a backup taken before a deletion still holds them: that is named,
with whether its data key is gone, which makes those bytes unreadable). Objects nobody
names are listed too, without failing the check: a crash between a put and its commit
leaves such leftovers.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import select

from custody.db.models import Recording
from custody.db.models.storage import ObjectKey
from custody.domain.actor import Actor
from custody.domain.retention import DELETED
from custody.services.answers import Answer
from custody.services.objects.answers import ObjectProblem
from custody.services.objects.fixity import INTACT, check_object, live_objects
from custody.services.system import System
from custody.storage import BlobStore

PRESENT_AFTER_DELETION = "present_after_deletion"
VERIFY_TAG = "system:store:verify"


class StoreVerification(Answer):
    store: str
    live: int
    intact: int
    deleted_checked: int
    differences: list[ObjectProblem]
    unreferenced: list[str]

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
) -> StoreVerification:
    with system.unit_of_work() as uow:
        expected = live_objects(uow)
        deleted: set[str] = set()
        for original, certificate in uow.session.execute(
            select(Recording.sha256, Recording.deletion_certificate).where(
                Recording.state == DELETED
            )
        ):
            deleted.add(original)
            deleted.update(json.loads(certificate or "{}").get("objects", []))
        deleted -= set(expected)  # the same bytes still serve a live recording
        keyed = set(uow.session.scalars(select(ObjectKey.sha256)))
    if planned is not None:
        planned(len(expected) + len(deleted))
    differences: list[ObjectProblem] = []
    intact = 0
    for sha in sorted(expected):
        outcome = check_object(store, sha)
        if outcome.outcome == INTACT:
            intact += 1
        else:
            differences.append(
                ObjectProblem(sha256=sha, outcome=outcome.outcome, detail=outcome.detail)
            )
        if progress is not None:
            progress(sha)
    for sha in sorted(deleted):
        if store.exists(sha):
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
            progress(sha)
    known = set(expected) | deleted
    unreferenced = sorted(sha for sha in store.iter_objects() if sha not in known)
    result = StoreVerification(
        store=store_name,
        live=len(expected),
        intact=intact,
        deleted_checked=len(deleted),
        differences=differences,
        unreferenced=unreferenced,
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
                "unreferenced": len(unreferenced),
            },
        )
        uow.commit()
    return result
