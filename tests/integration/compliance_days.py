"""The compliance summary recounted from scratch, in Python, from the recordings and their
officers' units: what the triggers of migration 0025 must have kept."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from sqlalchemy import Connection, select

from custody.db.models import Officer, Recording
from custody.db.models.compliance import NEVER, ComplianceDay
from custody.domain.retention import DELETED

Key = tuple[object, ...]


def recount(connection: Connection) -> Counter[Key]:
    rows = connection.execute(
        select(
            Recording.started_at,
            Officer.unit,
            Recording.access_class,
            Recording.categorised,
            Recording.evidential,
            Recording.annotated,
            Recording.last_reviewed_at,
            Recording.signed_off_at,
            Recording.delete_due_at,
            Recording.seen_delete_due_at,
        )
        .join(Officer, Officer.id == Recording.officer_id)
        .where(Recording.state != DELETED)
    ).all()
    counted: Counter[Key] = Counter()
    for (
        started,
        unit,
        access,
        categorised,
        evidential,
        annotated,
        looked,
        signed,
        due,
        seen,
    ) in rows:
        reviewed = looked is not None or signed is not None
        settled = bool(evidential) or reviewed

        def day(at: datetime | None, settled: bool = settled) -> date:
            return NEVER if settled or at is None else at.date()

        counted[
            (
                started.date(),
                unit,
                access,
                bool(categorised),
                bool(evidential),
                bool(annotated),
                reviewed,
                signed is not None,
                day(due),
                day(seen),
            )
        ] += 1
    return counted


def kept(connection: Connection) -> Counter[Key]:
    table = ComplianceDay.__table__
    found: Counter[Key] = Counter()
    for row in connection.execute(select(table).where(table.c.recordings != 0)):
        *key, count = row
        found[tuple(bool(v) if isinstance(v, int) and i >= 3 else v for i, v in enumerate(key))] = (
            count
        )
    return found


def summary_wrong(connection: Connection) -> dict[Key, tuple[int, int]]:
    """The rows whose kept count differs from the recount: kept, recounted."""
    now, truth = kept(connection), recount(connection)
    return {k: (now[k], truth[k]) for k in set(now) | set(truth) if now[k] != truth[k]}
