"""A force's database at scale, seeded in bulk: for the query-plan tests and the benchmark.

    seed(engine, recordings=1_000_000) -> Seeded

It writes straight into a migrated schema (executemany on SQLite, COPY on PostgreSQL), in
the spread a force like the Met has: officers in 32 boroughs (about 45 recordings each,
22,000 at most), a camera per officer, ten docks a borough, 60 days of footage of which
half is categorised (its access class and retention from its category), the uncategorised
past 31 days deleted to tombstones, cases of about twenty recordings, legal and complaint
holds, evidence flags, 2.4 audit events a recording and five dock reports a camera. Then
one user of each role, tied to that force (an officer with footage, a supervisor of a
borough, an investigator and a disclosure officer on cases), and ANALYZE.

The audit events are filler for the table's size: their hashes chain nothing and the log
of a seeded database does not verify. It is for measuring, never for a force.
"""

from __future__ import annotations

import importlib
import io
import json
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from custody.domain import merkle

# The compliance summary and each recording's evidential neighbours (migration 0025) are
# kept by triggers, a few statements for every recording written: seeding, they are made
# after the footage is loaded, by the migration's own backfill in one statement each.
_COMPLIANCE = importlib.import_module("custody.db.migrations.versions.0025_compliance_days")
# And the force's summary by the hour (migration 0027), likewise.
_HOURS = importlib.import_module("custody.db.migrations.versions.0027_compliance_hours")

BOROUGHS = (
    "Barking and Dagenham", "Barnet", "Bexley", "Brent", "Bromley", "Camden", "Croydon",
    "Ealing", "Enfield", "Greenwich", "Hackney", "Hammersmith and Fulham", "Haringey",
    "Harrow", "Havering", "Hillingdon", "Hounslow", "Islington", "Kensington and Chelsea",
    "Kingston", "Lambeth", "Lewisham", "Merton", "Newham", "Redbridge", "Richmond",
    "Southwark", "Sutton", "Tower Hamlets", "Waltham Forest", "Wandsworth", "Westminster",
)  # fmt: skip
DAYS = 60
BATCH = 50_000
# From this many recordings, PostgreSQL's recordings are indexed after the backfills.
LATE_INDEXES = 1_000_000
# The seeded force's present: its footage is the 60 days before it.
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
# The people who sign in, one per role; `Seeded.users` maps each to their username.
ROLES = (
    "officer",
    "supervisor",
    "investigator",
    "professional_standards",
    "disclosure",
    "fleet_manager",
    "administrator",
    "auditor",
)


REASON = "reason=Operation+Nightjar"
# The pages people use most and that grow with the footage: who asks for each, and its
# address ({borough} and {recording} filled in by `Seeded.address`).
HOT_PAGES = {
    "my footage": ("officer", "/footage"),
    "team footage": ("supervisor", "/footage?team=1"),
    "api recordings (officer)": ("officer", "/api/v1/recordings"),
    "api recordings (administrator)": ("administrator", "/api/v1/recordings"),
    "search: unit, 7 days, category": (
        "investigator",
        f"/search?{REASON}&unit={{borough}}&since=2027-02-22T00:00&category=Arrest",
    ),
    "search: officer, evidence, table": (
        "professional_standards",
        f"/search?{REASON}&officer=Officer+000001&evidence=yes&view=table",
    ),
    "search: uncategorised": ("administrator", "/search?category=Uncategorised"),
    "search: not evidence": ("administrator", "/search?evidence=no"),
    "retention (supervisor)": ("supervisor", "/retention"),
    "retention (administrator)": ("administrator", "/retention"),
    "retention (professional standards)": ("professional_standards", "/retention"),
    "review queue": ("administrator", "/retention/review"),
    "retention preview": ("administrator", "/api/v1/retention/preview?at=2027-03-01T12:00:00Z"),
    "fleet": ("supervisor", "/fleet"),
    "roll-out": ("fleet_manager", "/fleet/rollout"),
    "cases": ("professional_standards", "/cases"),
    "compliance (supervisor)": ("supervisor", "/compliance"),
    "compliance (force-wide)": ("administrator", "/compliance"),
    "recording (investigator)": ("investigator", "/recordings/{recording}"),
    "recording (professional standards)": ("professional_standards", "/recordings/{recording}"),
    "recording's audit trail": ("auditor", "/recordings/{recording}/audit"),
}


@dataclass
class Seeded:
    """What was seeded, for the caller to sign in as and to pick pages by."""

    recordings: int
    officers: int
    cameras: int
    docks: int
    cases: int
    audit_events: int
    now: datetime
    users: dict[str, str] = field(default_factory=dict)  # role -> username
    # The officer user's officer, the supervisor's borough, a case the investigator works on.
    officer_warrant: str = ""
    borough: str = ""
    case_reference: str = ""
    # A live recording of the officer user's, in the investigator's case too.
    recording_id: str = ""
    camera_serial: str = ""

    def address(self, template: str) -> str:
        """A page's address with the seeded force's borough and recording filled in."""
        return template.format(borough=self.borough, recording=self.recording_id)


def _hours_since_docked(rnd: random.Random) -> int:
    """Most cameras dock every shift; a few are left in lockers, lost, or off sick."""
    return rnd.randint(1, 30) if rnd.random() < 0.97 else rnd.randint(48, 24 * 20)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


class _Loader:
    """Bulk rows into one table: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.raw = engine.raw_connection()
        self.cursor = self.raw.cursor()
        if self.sqlite:
            self.cursor.execute("PRAGMA synchronous=OFF")
            self.cursor.execute("PRAGMA cache_size=-500000")
            # The seeder's rows are consistent by construction: checking each key is time.
            self.cursor.execute("PRAGMA foreign_keys=OFF")
        else:
            # As above (replica sessions fire no foreign-key triggers); and indexes are
            # built afterwards with the memory a sort of ten million keys wants.
            self.cursor.execute("SET session_replication_role = replica")
            self.cursor.execute("SET maintenance_work_mem = '1GB'")
            self.raw.commit()

    def _sqlite_value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        if isinstance(value, bool):
            return int(value)
        return value

    @staticmethod
    def _copy_value(value: Any) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        count = 0
        if self.sqlite:
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})"
            )
            batch: list[tuple[Any, ...]] = []
            # One transaction a table (the driver would otherwise commit row by row).
            self.cursor.execute("BEGIN")
            for row in rows:
                batch.append(tuple(self._sqlite_value(v) for v in row))
                if len(batch) == BATCH:
                    self.cursor.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            self.cursor.executemany(sql, batch)
            count += len(batch)
            self.cursor.execute("COMMIT")
            return count
        with self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(self._copy_value(v) for v in row) + "\n")
                count += 1
                if count % BATCH == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        self.raw.commit()
        return count

    def indexes_set_aside(self, table: str) -> list[str]:
        """Drop `table`'s indexes (not its keys) and return the statements that make them
        again: a table is loaded faster, and its indexes built smaller, in one sort each."""
        if self.sqlite:
            found = self.rows(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                f" AND tbl_name = '{table}' AND sql IS NOT NULL"
            )
        else:
            found = self.rows(
                "SELECT indexname, indexdef FROM pg_indexes"
                f" WHERE schemaname = current_schema() AND tablename = '{table}'"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            )
        for name, _ in found:
            self.execute(f'DROP INDEX "{name}"')
        return [str(statement) for _, statement in found]

    def scalar(self, sql: str) -> Any:
        self.cursor.execute(sql)
        row = self.cursor.fetchone()
        return row[0] if row else None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql)
        return [tuple(r) for r in self.cursor.fetchall()]

    def execute(self, sql: str) -> None:
        self.cursor.execute(sql)
        if not self.sqlite:
            self.raw.commit()

    def execute_all(self, statements: Iterable[str]) -> None:
        for statement in statements:
            self.execute(statement)

    def analyse(self) -> None:
        """Statistics for the planner; on PostgreSQL a VACUUM too, as autovacuum would have
        run on a force's database, so that index-only scans need not visit the rows."""
        if self.sqlite:
            self.cursor.execute("ANALYZE")
            return
        self.raw.commit()
        driver: Any = self.raw.driver_connection
        driver.autocommit = True
        try:
            driver.execute("VACUUM ANALYZE")
        finally:
            driver.autocommit = False

    def close(self) -> None:
        if self.sqlite:
            self.cursor.execute("PRAGMA synchronous=FULL")
        self.raw.close()


def seed(
    engine: Engine,
    recordings: int = 1_000_000,
    *,
    now: datetime = NOW,
    password_hash: str = "!",
    random_seed: int = 2027,
    cases: int | None = None,
    docks_per_borough: int | None = None,
) -> Seeded:
    """Seed a force of `recordings` into a migrated, empty database (see the module's doc);
    the numbers of cases and docks follow from it unless given."""
    rnd = random.Random(random_seed)
    loader = _Loader(engine)
    dialect = engine.dialect.name
    try:
        for statement in (
            *_COMPLIANCE.triggers_dropped(dialect),
            *_HOURS.triggers_dropped(dialect),
        ):
            loader.execute(statement)
        return _seed(loader, rnd, recordings, now, password_hash, cases, docks_per_borough)
    finally:
        loader.close()


def _seed(
    loader: _Loader,
    rnd: random.Random,
    count: int,
    now: datetime,
    password_hash: str,
    cases_given: int | None,
    docks_given: int | None,
) -> Seeded:
    officers = _clamp(count // 45, 64, 22_000)
    docks_per_borough = docks_given or _clamp(officers // (70 * len(BOROUGHS)), 1, 10)
    docks = docks_per_borough * len(BOROUGHS)
    cases = cases_given or _clamp(count // 500, 20, 2_000)
    created = now - timedelta(days=400)

    # Officers and their boroughs; officer 1 is the officer user, in borough 0.
    unit_of = {o: BOROUGHS[(o - 1) % len(BOROUGHS)] for o in range(1, officers + 1)}
    loader.load(
        "officers",
        ("id", "warrant_number", "name", "rank", "unit", "created_at"),
        ((o, f"{o:06d}MP", f"Officer {o:06d}", "PC", unit_of[o], created) for o in unit_of),
    )
    loader.load(
        "docks",
        ("id", "name", "station", "bays", "token_hash", "created_at", "last_seen_at"),
        (
            (
                d,
                f"{BOROUGHS[(d - 1) % len(BOROUGHS)]} dock {(d - 1) // len(BOROUGHS) + 1}",
                BOROUGHS[(d - 1) % len(BOROUGHS)],
                8,
                uuid.UUID(int=rnd.getrandbits(128)).hex * 2,
                created,
                now - timedelta(minutes=rnd.randint(1, 600)),
            )
            for d in range(1, docks + 1)
        ),
    )

    def dock_of(officer: int) -> int:
        borough = (officer - 1) % len(BOROUGHS)
        return borough + 1 + len(BOROUGHS) * rnd.randrange(docks_per_borough)

    last_dock = {o: dock_of(o) for o in unit_of}
    loader.load(
        "cameras",
        (
            "id", "serial", "model", "firmware", "public_key", "status", "officer_id",
            "registered_at", "last_docked_at", "last_dock_id", "battery_percent", "free_bytes",
            "pool", "borough", "status_changed_at",
        ),
        (
            (
                o, f"MP-{o:06d}", "Axon Body 3", "1.4.2" if o % 40 else "1.3.0", "00" * 32,
                "issued", o, created, now - timedelta(hours=_hours_since_docked(rnd)),
                last_dock[o], rnd.randint(20, 100), 10**10, False, unit_of[o], created,
            )
            for o in unit_of
        ),
    )  # fmt: skip
    loader.load(
        "camera_reports",
        (
            "camera_id", "dock_id", "bay", "battery_percent", "free_bytes", "firmware",
            "recordings_waiting", "reported_at",
        ),
        (
            (o, last_dock[o], f"bay {k}", 80, 10**10, "1.4.2", 0, now - timedelta(days=4 * k))
            for o in unit_of
            for k in range(5)
        ),
    )  # fmt: skip

    categories = loader.rows(
        "SELECT id, name, retention_days, review_days, access_class, assignable, evidential"
        " FROM categories"
    )
    assignable = [c for c in categories if c[5]]
    # Most categorised footage is everyday; restricted and confidential categories are few.
    weights = [
        1 if c[4] == "confidential" else 4 if c[4] == "restricted" else 20 for c in assignable
    ]

    live: list[str] = []  # ids of live recordings, for cases, holds and flags
    by_officer_1: list[str] = []
    categorised: list[tuple[str, int, datetime]] = []

    def recording_rows() -> Iterable[tuple[Any, ...]]:
        for _ in range(count):
            rid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
            officer = 1 if rnd.random() < 45 / count else rnd.randint(1, officers)
            started = now - timedelta(seconds=rnd.randint(600, DAYS * 86400))
            duration = rnd.randint(20, 1800)
            stored = started + timedelta(hours=rnd.randint(1, 10))
            sha = f"{rnd.getrandbits(256):064x}"
            category = rnd.choices(assignable, weights)[0] if rnd.random() < 0.5 else None
            state, rule, access = "playable", "uncategorised", "normal"
            due: datetime | None = started + timedelta(days=31)
            review: datetime | None = None
            deleted_at = None
            if category is not None:
                _, name, days, review_days, access, _, _ = category
                rule = f"category:{name}"
                due = started + timedelta(days=days) if days is not None else None
                review = started + timedelta(days=review_days) if review_days else None
                categorised.append((rid, category[0], started))
            elif due is not None and due <= now:
                # A tombstone: the sweep deleted it on its date and cleared its dates.
                state, deleted_at, due = "deleted", due, None
            if state != "deleted":
                live.append(rid)
                if officer == 1:
                    by_officer_1.append(rid)
            receipt = json.dumps(
                {
                    "format": "custody-receipt/1",
                    "recording_id": rid,
                    "sha256": sha,
                    "signature": "seeded",
                    "size": duration * 1_000_000,
                    "stored_at": stored.isoformat(),
                }
            )
            yield (
                rid, officer, officer, last_dock[officer], started,
                started + timedelta(seconds=duration), 30, sha, duration * 1_000_000, stored,
                json.dumps({"recording_id": rid, "camera": f"MP-{officer:06d}"}), receipt, "[]",
                state, float(duration), access, due, review, rule, due, review, deleted_at,
                deleted_at, category is not None, bool(category and category[6]),
            )  # fmt: skip

    recording_indexes = loader.indexes_set_aside("recordings")
    loader.load(
        "recordings",
        (
            "id", "camera_id", "officer_id", "dock_id", "started_at", "ended_at",
            "pre_event_seconds", "sha256", "size", "stored_at", "manifest_document",
            "receipt_document", "gps_track", "state", "duration_seconds", "access_class",
            "delete_due_at", "review_due_at", "retention_rule", "seen_delete_due_at",
            "seen_review_due_at", "deleted_at", "purged_at", "categorised", "evidential",
        ),
        recording_rows(),
    )  # fmt: skip
    # PostgreSQL counts each recording's neighbours in one window pass and writes them into
    # the rows: at a force's size, with the indexes made afterwards rather than kept up row
    # by row (hours at ten million). Not for a small force: rows changed before an index is
    # made leave it unusable to transactions older than it (pg_index.indcheckxmin), and the
    # query-plan tests plan theirs at once, beside other tests' transactions. SQLite counts
    # the neighbours by walking the (officer, time) index.
    indexes_late = not loader.sqlite and count >= LATE_INDEXES
    if not indexes_late:
        _indexed(loader, recording_indexes)
    loader.load(
        "recording_categories",
        ("recording_id", "category_id", "assigned_by", "assigned_at"),
        ((rid, cid, "seeded", started + timedelta(hours=12)) for rid, cid, started in categorised),
    )

    # The people who sign in: users 1.. by role, then case officers.
    users = {role: f"{role.replace('_', '-')}-1" for role in ROLES}
    # Detectives who are the officers in the force's other cases (no one signs in as them).
    detectives = range(len(ROLES) + 1, len(ROLES) + 51)
    user_rows: list[tuple[Any, ...]] = [
        (d, f"detective-{d}", f"Detective {d}", "investigator", None, None, password_hash, created)
        for d in detectives
    ]
    for number, role in enumerate(ROLES, 1):
        unit = unit_of[1] if role in ("officer", "supervisor") else None
        officer_id = 1 if role == "officer" else None
        user_rows.append(
            (number, users[role], role.replace("_", " ").title(), role, unit, officer_id,
             password_hash, created)
        )  # fmt: skip
    loader.load(
        "users",
        ("id", "username", "display_name", "role", "unit", "officer_id", "password_hash",
         "created_at"),
        user_rows,
    )  # fmt: skip
    investigator = ROLES.index("investigator") + 1
    disclosure = ROLES.index("disclosure") + 1

    # Cases of about twenty live recordings; the first holds officer 1's footage. The
    # investigator is the officer in the first twenty cases, the disclosure officer a
    # member of ten; detectives run the rest.
    loader.load(
        "cases",
        ("id", "reference", "title", "officer_in_case_id", "status", "disposal_days",
         "created_by", "created_at"),
        (
            (c, f"CRIS/{c:07d}/27", f"Operation {c}",
             investigator if c <= 20 else detectives[c % len(detectives)],
             "open" if c % 5 else "closed", 365, "seeded",
             now - timedelta(days=rnd.randint(1, DAYS)))
            for c in range(1, cases + 1)
        ),
    )  # fmt: skip
    members = [(c, disclosure) for c in range(1, 11)]
    loader.load(
        "case_members",
        ("case_id", "user_id", "added_by", "added_at"),
        ((c, u, "seeded", now - timedelta(days=1)) for c, u in members),
    )
    in_cases: set[tuple[int, str]] = {(1, rid) for rid in by_officer_1}
    for case in range(1, cases + 1):
        for rid in rnd.sample(live, min(len(live), rnd.randint(5, 35))):
            in_cases.add((case, rid))
    loader.load(
        "case_recordings",
        ("case_id", "recording_id", "added_by", "added_at", "reason"),
        ((c, rid, "seeded", now - timedelta(days=1), None) for c, rid in sorted(in_cases)),
    )

    holds: list[tuple[str, str, int | None]] = [
        (rid, "legal", None) for rid in rnd.sample(live, min(len(live), count // 1000))
    ]
    holds += [
        (rid, "complaint", 2) for rid in rnd.sample(live, min(len(live), max(1, count // 5000)))
    ]
    loader.load(
        "holds",
        ("recording_id", "kind", "reason", "concerns_officer_id", "placed_by", "placed_at"),
        ((rid, kind, "seeded", who, "seeded", now - timedelta(days=2)) for rid, kind, who in holds),
    )
    loader.load(
        "evidence_flags",
        ("recording_id", "reason", "flagged_by", "flagged_at"),
        (
            (rid, "seeded", "seeded", now - timedelta(days=3))
            for rid in rnd.sample(live, min(len(live), count // 50))
        ),
    )

    events = int(count * 2.4)
    tags = ("dock:recording:upload", "user:recording:view", "user:recording:search")

    def audit_rows() -> Iterable[tuple[Any, ...]]:
        step = timedelta(days=DAYS) / max(1, events)
        at = now - timedelta(days=DAYS)
        for seq in range(1, events + 1):
            at += step
            tag = tags[seq % 3]
            target = live[rnd.randrange(len(live))] if live else None
            yield (seq, at, tag, "seeded", "recording", target, True, "{}", "0" * 64, "0" * 64)

    audit_indexes = loader.indexes_set_aside("audit_events")
    loader.load(
        "audit_events",
        ("seq", "at", "tag", "actor", "object_type", "object_id", "allowed", "details",
         "prev_hash", "hash"),
        audit_rows(),
    )  # fmt: skip
    loader.execute_all(audit_indexes)
    # The next event the server writes follows the filler (its chain starts from here), and
    # the sequencer's tree carries on from the filler's frontier (stand-in nodes: the filler
    # is no chain, and is never proved).
    loader.execute(f"UPDATE audit_head SET seq = {events}, hash = '{'0' * 64}'")
    blank: Any = b"\0" * 32 if loader.sqlite else "\\x" + "00" * 32
    loader.load(
        "audit_tree_nodes",
        ("id", "hash"),
        (
            (level << 48 | index, blank)
            for level, index in merkle.frontier_subtrees(events)
            if level > 0
        ),
    )
    # Ids given explicitly leave PostgreSQL's sequences behind: move them past the rows.
    if not loader.sqlite:
        for table in ("officers", "docks", "cameras", "users", "cases", "camera_reports"):
            loader.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    dialect = "sqlite" if loader.sqlite else "postgresql"
    if not loader.sqlite:
        loader.execute("SET session_replication_role = origin")
    for statement in (
        _COMPLIANCE.backfill_nearby(dialect),
        _COMPLIANCE.backfill_summary(dialect),
        _HOURS.backfill(dialect),
    ):
        loader.execute(statement)
    if indexes_late:
        _indexed(loader, recording_indexes)
    loader.execute_all([*_COMPLIANCE.triggers(dialect), *_HOURS.triggers(dialect)])
    if loader.sqlite:
        loader.raw.commit()
    loader.analyse()

    in_case_1 = sorted(rid for c, rid in in_cases if c == 1)
    return Seeded(
        recordings=count,
        officers=officers,
        cameras=officers,
        docks=docks,
        cases=cases,
        audit_events=events,
        now=now,
        users=users,
        officer_warrant=f"{1:06d}MP",
        borough=unit_of[1],
        case_reference="CRIS/0000001/27",
        recording_id=in_case_1[0] if in_case_1 else (live[0] if live else ""),
        camera_serial=f"MP-{1:06d}",
    )


def _indexed(loader: _Loader, recording_indexes: list[str]) -> None:
    """The recordings' indexes made, then what every insert of a recording keeps
    (models/ingest.py), in bulk."""
    loader.execute_all(recording_indexes)
    loader.execute(
        "UPDATE officers SET first_recorded_at = (SELECT min(started_at) FROM recordings"
        " WHERE recordings.officer_id = officers.id)"
    )
    loader.execute(
        "UPDATE cameras SET last_recorded_at = (SELECT max(started_at) FROM recordings"
        " WHERE recordings.camera_id = cameras.id)"
    )


# The planner's statistics of a force at scale (SQLite's sqlite_stat1: table, index, stat).
Statistic = tuple[str, str | None, str]


def planner_statistics(engine: Engine) -> list[Statistic]:
    """The statistics SQLite's planner holds of a seeded (ANALYZEd) database, to be kept
    and given to a small one (`assume_statistics`)."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql("SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY 1, 2")
        return [
            (str(tbl), None if idx is None else str(idx), str(stat)) for tbl, idx, stat in found
        ]


def assume_statistics(engine: Engine, kept: Sequence[Statistic]) -> None:
    """Have SQLite plan a small database's queries as it would a large force's: its
    statistics replaced with those kept of one (SQLite documents sqlite_stat1 as writable
    for this). A plan at a few thousand rows is then the plan at a million; the rows are
    the small force's, so the answers stay those of the small force."""
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")  # sqlite_stat1 exists from here
        connection.exec_driver_sql("DELETE FROM sqlite_stat1")
        for tbl, idx, stat in kept:
            connection.exec_driver_sql(
                "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", (tbl, idx, stat)
            )
        # The statistics are read when a connection loads the schema.
        connection.exec_driver_sql("ANALYZE sqlite_schema")
    engine.dispose()
