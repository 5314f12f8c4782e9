"""Migration you can prove: copy every object to another store, verify each copy, sign a report.

The target store is its own journal: a run killed half-way is run again, and each object
already there is read back and verified instead of copied twice. Sealed stores copy sealed
bytes as they lie (the same data key serves both copies), then prove the copy by opening it
through the target and hashing the plaintext. The report lists every object the database
says must be kept, copied, verified (already there) or missing, and is signed with the
server key, so that anyone with its public key can check it later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from custody.domain import signing
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.services.objects.fixity import INTACT, MISSING, check_object, live_objects
from custody.services.system import System
from custody.storage import BlobStore
from custody.storage.encryption import EncryptedStore

REPORT_FORMAT = "custody-store-migration/1"
COPIED = "copied"
VERIFIED = "verified"
# The source's copy no longer matches its name: never copied on, always reported.
CHANGED_AT_SOURCE = "changed_at_source"
FAILED = "failed"
MIGRATE_TAG = "system:store:migrate"

Step = Callable[[str, str], None]


def migrate_store(
    system: System,
    target: BlobStore,
    *,
    source_name: str,
    target_name: str,
    progress: Step | None = None,
    planned: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Copy every object the database keeps to `target`, verifying each; the signed report."""
    source = system.store
    started = system.clock.now()
    with system.unit_of_work() as uow:
        expected = live_objects(uow)
    names = sorted(expected)
    if planned is not None:
        planned(len(names))
    entries = []
    for sha in names:
        outcome, detail = _migrate_one(source, target, sha)
        entries.append({"sha256": sha, "outcome": outcome, "detail": detail})
        if progress is not None:
            progress(sha, outcome)
    counts = {
        name: sum(1 for e in entries if e["outcome"] == name)
        for name in (COPIED, VERIFIED, MISSING, CHANGED_AT_SOURCE, FAILED)
    }
    document = {
        "format": REPORT_FORMAT,
        "from": source_name,
        "to": target_name,
        "started_at": isoformat(started),
        "finished_at": isoformat(system.clock.now()),
        "objects": entries,
        "counts": counts,
        "complete": counts[COPIED] + counts[VERIFIED] == len(entries),
    }
    report = signing.sign(document, system.server_key)
    with system.unit_of_work() as uow:
        uow.audit(
            MIGRATE_TAG,
            Actor.system(),
            object_type="store",
            object_id=target_name[:80],
            details={
                "from": source_name,
                "counts": counts,
                "report_signature": report[signing.SIGNATURE_FIELD],
            },
        )
        uow.commit()
    return report


def _migrate_one(source: BlobStore, target: BlobStore, sha: str) -> tuple[str, str]:
    if target.exists(sha):
        there = check_object(target, sha)
        if there.outcome == INTACT:
            return VERIFIED, ""
        # A half-made or damaged copy from an earlier run: replace it from the source.
        target.delete(sha)
    if not source.exists(sha):
        return MISSING, "not in the source store"
    # Prove the source first: a changed object must not travel on as if it were evidence.
    at_source = check_object(source, sha)
    if at_source.outcome == MISSING:
        return MISSING, at_source.detail
    if at_source.outcome != INTACT:
        return CHANGED_AT_SOURCE, at_source.detail
    try:
        if isinstance(source, EncryptedStore) and isinstance(target, EncryptedStore):
            target.put_named(sha, source.read_sealed(sha))
        else:
            target.put_stream(source.read(sha), sha)
    except OSError as exc:
        return FAILED, f"the copy failed: {exc}"
    copy = check_object(target, sha)
    if copy.outcome != INTACT:
        target.delete(sha)
        return FAILED, f"the copy did not verify: {copy.outcome} {copy.detail}".strip()
    return COPIED, ""
