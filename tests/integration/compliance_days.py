"""The compliance summaries and each recording's evidential neighbours recounted from
scratch, in Python, from the recordings and their officers' units: what the triggers of
migrations 0025 (per day) and 0027 (per hour) must have kept."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime

from sqlalchemy import Connection, select

from custody.db.models import Officer, Recording
from custody.db.models.compliance import (
    NEVER,
    NEVER_HOUR,
    ComplianceDay,
    ComplianceHour,
    hour_of,
)
from custody.domain.compliance import INCIDENT
from custody.domain.retention import DELETED

Key = tuple[object, ...]
CLASSES = ("normal", "restricted", "confidential")


def _live(connection: Connection) -> list[dict[str, object]]:
    return [
        dict(row._mapping)
        for row in connection.execute(
            select(*Recording.__table__.c, Officer.unit)
            .join(Officer, Officer.id == Recording.officer_id)
            .where(Recording.state != DELETED)
        )
    ]


def nearby(connection: Connection) -> dict[str, tuple[int, int, int]]:
    """Each live recording's count of the officer's live evidential footage, per class,
    begun within the incident's time of it (itself included)."""
    rows = _live(connection)
    evidential: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for row in rows:
        if row["evidential"]:
            evidential[row["officer_id"]].append((row["started_at"], row["access_class"]))  # type: ignore[index]
    found = {}
    for row in rows:
        started = row["started_at"]
        near = Counter(
            access
            for at, access in evidential[row["officer_id"]]  # type: ignore[index]
            if abs(at - started) <= INCIDENT  # type: ignore[operator]
        )
        found[str(row["id"])] = tuple(near[c] for c in CLASSES)
    return found  # type: ignore[return-value]


def nearby_wrong(connection: Connection) -> dict[str, tuple[object, object]]:
    """The live recordings whose kept counts differ from the recount: kept, recounted."""
    truth = nearby(connection)
    kept = {
        rid: tuple(counts)
        for rid, *counts in connection.execute(
            select(
                Recording.id,
                Recording.nearby_evidential_normal,
                Recording.nearby_evidential_restricted,
                Recording.nearby_evidential_confidential,
            ).where(Recording.state != DELETED, Recording.officer_id.is_not(None))
        )
    }
    return {rid: (kept.get(rid), truth[rid]) for rid in truth if kept.get(rid) != truth[rid]}


def recount(connection: Connection) -> Counter[Key]:
    counted: Counter[Key] = Counter()
    near = nearby(connection)
    for row in _live(connection):
        signed, looked = row["signed_off_at"], row["last_reviewed_at"]
        reviewed = looked is not None or signed is not None
        settled = bool(row["evidential"]) or reviewed

        def day(at: object, settled: bool = settled) -> date:
            return NEVER if settled or at is None else at.date()  # type: ignore[attr-defined]

        candidate = row["categorised"] and not row["evidential"] and not row["annotated"]
        mask = sum(1 << n for n, count in enumerate(near[str(row["id"])]) if count)
        counted[
            (
                row["started_at"].date(),  # type: ignore[attr-defined]
                row["unit"],
                row["access_class"],
                bool(row["categorised"]),
                bool(row["evidential"]),
                bool(row["annotated"]),
                reviewed,
                signed is not None,
                day(row["delete_due_at"]),
                day(row["seen_delete_due_at"]),
                mask if candidate else 0,
            )
        ] += 1
    return counted


def kept(connection: Connection) -> Counter[Key]:
    table = ComplianceDay.__table__
    found: Counter[Key] = Counter()
    booleans = {"categorised", "evidential", "annotated", "reviewed", "signed_off"}
    for row in connection.execute(select(table).where(table.c.recordings != 0)):
        values = row._mapping
        key = tuple(
            bool(values[c.name]) if c.name in booleans else values[c.name]
            for c in table.c
            if c.name != "recordings"
        )
        found[key] = values["recordings"]
    return found


def summary_wrong(connection: Connection) -> dict[Key, tuple[int, int]]:
    """The rows whose kept count differs from the recount: kept, recounted."""
    now, truth = kept(connection), recount(connection)
    return {k: (now[k], truth[k]) for k in set(now) | set(truth) if now[k] != truth[k]}


def recount_hours(connection: Connection) -> Counter[Key]:
    """Per team, hour started and due hours (true, seen): recordings, uncategorised,
    doubtful to a reader of every class, signed off; each count a key of its own."""
    counted: Counter[Key] = Counter()
    near = nearby(connection)
    for row in _live(connection):
        signed = row["signed_off_at"]
        settled = bool(row["evidential"]) or row["last_reviewed_at"] is not None or bool(signed)

        def due(at: object, settled: bool = settled) -> int:
            return NEVER_HOUR if settled or at is None else hour_of(at)  # type: ignore[arg-type]

        key = (
            hour_of(row["started_at"]),  # type: ignore[arg-type]
            row["unit"],
            due(row["delete_due_at"]),
            due(row["seen_delete_due_at"]),
        )
        doubtful = (
            row["categorised"]
            and not row["evidential"]
            and (row["annotated"] or any(near[str(row["id"])]))
        )
        counted[(*key, "recordings")] += 1
        counted[(*key, "uncategorised")] += 0 if row["categorised"] else 1
        counted[(*key, "doubtful")] += 1 if doubtful else 0
        counted[(*key, "signed_off")] += 0 if signed is None else 1
    return +counted


def kept_hours(connection: Connection) -> Counter[Key]:
    table = ComplianceHour.__table__
    found: Counter[Key] = Counter()
    for row in connection.execute(select(table)):
        values = row._mapping
        key = tuple(values[c] for c in ("hour", "unit", "due_hour", "seen_due_hour"))
        for count in ("recordings", "uncategorised", "doubtful", "signed_off"):
            found[(*key, count)] = values[count]
    return found


def hours_wrong(connection: Connection) -> dict[Key, tuple[int, int]]:
    """The hourly summary's counts that differ from the recount: kept, recounted."""
    now, truth = kept_hours(connection), recount_hours(connection)
    return {k: (now[k], truth[k]) for k in set(now) | set(truth) if now[k] != truth[k]}
