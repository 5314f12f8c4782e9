"""Migration you can prove: copy every object to another store, verify each copy, sign a report.

The target store is its own journal: a run killed half-way is run again, and each object
already there is read back and verified instead of copied twice. Sealed stores copy sealed
bytes as they lie (the same data key serves both copies), then prove the copy by opening it
through the target and hashing the plaintext.

Memory is bounded whatever the number of objects: names come from the database a page at a
time (`listing.live_names_in_order`), and the outcome of each object is written as it is
known, one JSON line per object, to a listing file beside the report. The report, signed
with the server key, commits to that listing by its SHA-256 and line count, so anyone with
the public key and `sha256sum` can check both later; it names the problems itself too (up
to `REPORTED_PROBLEMS`; the listing has every one).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from custody.domain import signing
from custody.domain.actor import Actor
from custody.domain.clock import isoformat
from custody.private import open_private, private_dir
from custody.services.objects.fixity import INTACT, MISSING, check_object
from custody.services.objects.listing import PAGE, count_live, live_names_in_order
from custody.services.system import System
from custody.storage import BlobStore
from custody.storage.encryption import EncryptedStore

REPORT_FORMAT = "custody-store-migration/2"
COPIED = "copied"
VERIFIED = "verified"
# The source's copy no longer matches its name: never copied on, always reported.
CHANGED_AT_SOURCE = "changed_at_source"
FAILED = "failed"
OUTCOMES = (COPIED, VERIFIED, MISSING, CHANGED_AT_SOURCE, FAILED)
MIGRATE_TAG = "system:store:migrate"
# The signed report names at most this many problems itself (the listing names them all).
REPORTED_PROBLEMS = 10_000

Step = Callable[[str, str], None]


def migrate_store(
    system: System,
    target: BlobStore,
    *,
    source_name: str,
    target_name: str,
    listing: Path,
    progress: Step | None = None,
    planned: Callable[[int], None] | None = None,
    page: int = PAGE,
) -> dict[str, Any]:
    """Copy every object the database keeps to `target`, verifying each; the signed report.
    Each object's outcome goes to `listing` (JSON Lines, name order) as it is known."""
    source = system.store
    started = system.clock.now()
    # A target that cannot be listed (no such bucket, wrong keys, down) is refused before
    # anything is read, with the store's own words, rather than at the first copy.
    next(iter(target.iter_objects()), None)
    if planned is not None:
        planned(count_live(system))
    counts = dict.fromkeys(OUTCOMES, 0)
    problems: list[dict[str, str]] = []
    digest = hashlib.sha256()
    private_dir(listing.parent)
    with os.fdopen(open_private(listing, os.O_WRONLY | os.O_TRUNC), "wb") as out:
        for sha in live_names_in_order(system, page):
            outcome, detail = _migrate_one(source, target, sha)
            entry = {"sha256": sha, "outcome": outcome, "detail": detail}
            line = (json.dumps(entry, sort_keys=True) + "\n").encode()
            out.write(line)
            digest.update(line)
            counts[outcome] += 1
            if outcome not in (COPIED, VERIFIED) and len(problems) < REPORTED_PROBLEMS:
                problems.append(entry)
            if progress is not None:
                progress(sha, outcome)
        out.flush()
        os.fsync(out.fileno())
    total = sum(counts.values())
    document = {
        "format": REPORT_FORMAT,
        "from": source_name,
        "to": target_name,
        "started_at": isoformat(started),
        "finished_at": isoformat(system.clock.now()),
        "listing": {"file": listing.name, "sha256": digest.hexdigest(), "objects": total},
        "problems": problems,
        "counts": counts,
        "complete": counts[COPIED] + counts[VERIFIED] == total,
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
