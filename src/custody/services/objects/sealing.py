"""Sealing in place the objects stored before encryption at rest (`custody store seal`).

Each object stored in plaintext is given a data key and replaced by its sealed form, safely:

1. its key row gets a new wrapped key and the flag `resealing` (one commit): from then a
   reader opens the bytes with that key if its first segment's tag passes, and reads them as
   plaintext otherwise, so every read works whichever bytes lie there;
2. the store seals the plaintext as it reads it (hashing it: bytes that are not the
   object's own are refused), stages the sealed copy apart, opens it whole and hashes it,
   and only then puts it in the object's place atomically (rename(2); on S3 a new current
   version, server-side copy);
3. the object is read back through the store and proven intact; the flag is cleared.

Killed anywhere, nothing is lost: before the swap the plaintext is in place, after it the
sealed copy, and either reads. The next run finds the flagged row and finishes it (an
object already sealed is only proven and its flag cleared). A changed or missing object is
reported and its row put back as it was: nothing is sealed over evidence that is not right.

Object Lock (S3): a new version has no retention of its own, so the object's lock state is
forgotten and the store told again (`locks.lock_objects`). The older plaintext version is
deleted where the store allows; while COMPLIANCE retention or a legal hold covers it, the
store keeps it (the run names it), until the object is deleted when due (every version
goes then). Until then that object's deletion cannot claim crypto-shredding of the copy.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from sqlalchemy import delete, func, or_, select

from custody.db.models import Recording
from custody.db.models.storage import ObjectKey, ObjectLockState
from custody.domain.actor import Actor
from custody.domain.errors import ContentMismatch, InvalidInput, NotFound, ObjectCorrupt
from custody.domain.retention import DELETED
from custody.services.objects.answers import ObjectProblem, SealReport
from custody.services.objects.fixity import INTACT, check_object
from custody.services.retention import locks
from custody.services.system import System
from custody.storage import segments
from custody.storage.encryption import PLAINTEXT, EncryptedStore

SEAL_TAG = "system:store:seal"
BATCH = 100
SEALED = "sealed"
SKIPPED = "skipped"

Step = Callable[[str, str], None]


def plaintext_left(system: System) -> int:
    with system.unit_of_work() as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(ObjectKey)
                .where(or_(ObjectKey.kek_id == PLAINTEXT, ObjectKey.resealing.is_(True)))
            )
            or 0
        )


def seal_plaintext_objects(
    system: System,
    *,
    progress: Step | None = None,
    planned: Callable[[int], None] | None = None,
    fault: Callable[[str, str], None] | None = None,
) -> SealReport:
    """Seal in place every object stored before encryption at rest; resumable, audited.
    `fault(sha, stage)` is called between the steps (tests kill the run there)."""
    store = system.store
    if not isinstance(store, EncryptedStore):
        raise InvalidInput("encryption at rest is off (CUSTODY_STORAGE_ENCRYPTION): nothing seals")
    if planned is not None:
        planned(plaintext_left(system))
    sealed = 0
    kept_versions: list[str] = []
    problems: list[ObjectProblem] = []
    after = ""
    while True:
        with system.unit_of_work() as uow:
            batch = list(
                uow.session.scalars(
                    select(ObjectKey.sha256)
                    .where(
                        or_(ObjectKey.kek_id == PLAINTEXT, ObjectKey.resealing.is_(True)),
                        ObjectKey.sha256 > after,
                    )
                    .order_by(ObjectKey.sha256)
                    .limit(BATCH)
                )
            )
        if not batch:
            break
        for sha in batch:
            outcome, detail, older = _seal_one(system, store, sha, fault)
            if outcome == SEALED:
                sealed += 1
                if older:
                    kept_versions.append(sha)
            elif outcome != SKIPPED:
                problems.append(ObjectProblem(sha256=sha, outcome=outcome, detail=detail))
            if progress is not None:
                progress(sha, outcome)
        after = batch[-1]
    report = SealReport(
        sealed=sealed,
        plaintext_versions_kept=kept_versions,
        problems=problems,
        remaining=plaintext_left(system),
    )
    with system.unit_of_work() as uow:
        uow.audit(
            SEAL_TAG,
            Actor.system(),
            object_type="store",
            object_id=system.settings.resolved_storage_url[:80],
            details={
                "sealed": sealed,
                "plaintext_versions_kept": len(kept_versions),
                "problems": [p.sha256 for p in problems[:100]],
                "remaining": report.remaining,
            },
        )
        uow.commit()
    return report


def _seal_one(
    system: System, store: EncryptedStore, sha: str, fault: Callable[[str, str], None] | None
) -> tuple[str, str, int]:
    with system.unit_of_work() as uow:
        row = uow.session.get(ObjectKey, sha, with_for_update=True)
        if row is None:
            return SKIPPED, "deleted meanwhile", 0
        if row.kek_id == PLAINTEXT:
            data_key = os.urandom(segments.KEY_BYTES)
            wrapped = store.wrap(data_key)
            row.kek_id, row.wrapped = wrapped.kek_id, wrapped.wrapped
            row.resealing = True
        else:
            data_key = store.unwrap(row.kek_id, row.wrapped)  # a killed run's: finish it
        uow.commit()
    if fault is not None:
        fault(sha, "key kept")
    older = 0
    try:
        size = store.inner.size(sha)
        if not store.opens(sha, data_key, size):
            older = store.seal_in_place(sha, data_key).older_kept
        if fault is not None:
            fault(sha, "swapped")
    except NotFound:
        _put_back(system, sha)
        return "missing", "the object is not in the store", 0
    except (ContentMismatch, ObjectCorrupt) as exc:
        _put_back(system, sha)
        return "changed", exc.message, 0
    proof = check_object(store, sha)
    if proof.outcome != INTACT:
        # The swap happened and the bytes do not prove: leave the flag (reads still tell
        # sealed from plaintext) and say so; a person decides (fixity says the same).
        return proof.outcome, proof.detail, older
    with system.unit_of_work() as uow:
        row = uow.session.get(ObjectKey, sha, with_for_update=True)
        if row is not None:
            row.resealing = False
        # A new version on S3 carries no lock of its own: tell the store again.
        uow.session.execute(delete(ObjectLockState).where(ObjectLockState.sha256 == sha))
        recordings = list(
            uow.session.scalars(
                select(Recording.id).where(Recording.sha256 == sha, Recording.state != DELETED)
            )
        )
        uow.commit()
    if recordings:
        locks.lock_objects(system, recordings)
    return SEALED, "", older


def _put_back(system: System, sha: str) -> None:
    """An object that could not be sealed keeps its row as it was: plaintext at rest."""
    with system.unit_of_work() as uow:
        row = uow.session.get(ObjectKey, sha, with_for_update=True)
        if row is not None:
            row.kek_id, row.wrapped, row.resealing = PLAINTEXT, b"", False
        uow.commit()
