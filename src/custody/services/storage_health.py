"""What `custody doctor` and the server's start-up say about the object store.

A store without Object Lock leaves Custody's retention rules as the only guard between
footage and a bug, or anyone holding the store's credentials: say so, loudly, every time
(docs/storage.md). A store that does not answer is a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from custody.domain.errors import CustodyError
from custody.services.system import System

NO_OBJECT_LOCK = (
    "the object store has no Object Lock: footage is protected by Custody's retention rules "
    "alone, not by the store (anyone with the store's credentials or the data dir can delete "
    "it early). Use an S3 bucket made with Object Lock for evidence (docs/storage.md)."
)


@dataclass(frozen=True)
class StoreCheck:
    store: str
    reachable: bool
    object_lock: bool
    problems: list[str]
    warnings: list[str]


def check_store(system: System) -> StoreCheck:
    """Can the store be reached, and does it refuse early deletes itself?"""
    problems: list[str] = []
    warnings: list[str] = []
    reachable, lock = True, False
    try:
        next(iter(system.store.iter_objects()), None)
        lock = system.store.object_lock
    except CustodyError as exc:
        reachable = False
        problems.append(exc.message)
    if reachable and not lock:
        warnings.append(NO_OBJECT_LOCK)
    return StoreCheck(system.settings.resolved_storage_url, reachable, lock, problems, warnings)


def object_lock_warning(system: System) -> str | None:
    """The start-up warning, or None where the store has Object Lock (or cannot say)."""
    try:
        return None if system.store.object_lock else NO_OBJECT_LOCK
    except CustodyError as exc:
        return f"the object store did not answer: {exc.message}"
