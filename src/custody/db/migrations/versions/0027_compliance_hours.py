"""the force's compliance figures per team and hour, kept by triggers and backfilled

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 13:20:00.000000

The force-wide compliance page sums whole days from `compliance_days` (0025); what falls
between whole days was counted from the recordings: the month's first part-day (from a
time of day 31 days ago to midnight, up to a day of the force's footage) and the footage
falling due on the last due day (up to a day of due dates). This summary counts the same
footage by the hour (hours since 1970, UTC) it started and the hours its deletion is due
(true, and as seen by those who may not know of complaint holds; NEVER for footage that is
evidential or reviewed, which is never due soon on the page), per team, with the counts
the force's page shows as columns: recordings, uncategorised, doubtful (to a reader who may
list every class: categorised, not evidential, with a note or evidential footage of any
class nearby), signed off. What is left to count from the recordings is an hour at each
edge. Readers who list some classes only never read it.

And a partial index of the doubtful alone (to a reader of every class; any reader's doubtful
are among them), by officer and time: a team's oldest doubtful of the month are found among
its officers' few entries there, not among every recording of their month.

It is kept like 0025's summary, by triggers that only add and take (+1, -1, as columns),
and on PostgreSQL under the same locks: a recording's change reads its officer's unit FOR
KEY SHARE (its triggers fire after 0025's, which lock the officer first where they do), a
move takes the officer FOR UPDATE (0025's trigger already has).

A later migration that rebuilds `recordings` or `officers` on SQLite must create these
triggers again (`triggers`), as 0025's.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ("hour", "unit", "due_hour", "seen_due_hour")
COUNTS = ("recordings", "uncategorised", "doubtful", "signed_off")
# The due hour of footage never due soon, and of footage with no deletion date.
NEVER = 2**31 - 1
# The recording's columns its row and counts depend on (0025's, less the access class).
COUNTED = (
    "officer_id",
    "started_at",
    "state",
    "categorised",
    "evidential",
    "annotated",
    "last_reviewed_at",
    "signed_off_at",
    "delete_due_at",
    "seen_delete_due_at",
    "nearby_evidential_normal",
    "nearby_evidential_restricted",
    "nearby_evidential_confidential",
)
NEARBY = (
    "nearby_evidential_normal",
    "nearby_evidential_restricted",
    "nearby_evidential_confidential",
)

# The doubtful alone (`custody.db.models.ingest.DOUBTFUL`, as it is when this runs).
DOUBTFUL = {
    dialect: f"categorised IS {yes} AND evidential IS NOT {yes} AND (annotated IS {yes}"
    " OR nearby_evidential_normal > 0 OR nearby_evidential_restricted > 0"
    " OR nearby_evidential_confidential > 0)"
    for dialect, yes in (("sqlite", "1"), ("postgresql", "true"))
}


def hour(dialect: str, column: str) -> str:
    """The whole hours from 1970 to a time, UTC (`custody.db.models.compliance.hour_of`)."""
    if dialect == "postgresql":
        return f"floor(extract(epoch FROM {column}) / 3600)::integer"
    return f"(CAST(strftime('%s', {column}) AS INTEGER) / 3600)"


def _values(dialect: str, r: str, unit: str) -> list[str]:
    """The key's values and the counts of one recording named `r` (NEW, OLD or a table)."""
    reviewed = f"({r}.last_reviewed_at IS NOT NULL OR {r}.signed_off_at IS NOT NULL)"
    settled = f"({r}.evidential OR {reviewed})"

    def due(column: str) -> str:
        return (
            f"CASE WHEN {settled} THEN {NEVER} ELSE coalesce({hour(dialect, column)}, {NEVER}) END"
        )

    nearby = " OR ".join(f"{r}.{column} > 0" for column in NEARBY)
    return [
        hour(dialect, f"{r}.started_at"),
        unit,
        due(f"{r}.delete_due_at"),
        due(f"{r}.seen_delete_due_at"),
        "1",
        f"CASE WHEN {r}.categorised THEN 0 ELSE 1 END",
        f"CASE WHEN {r}.categorised THEN (CASE WHEN {r}.evidential THEN 0"
        f" WHEN {r}.annotated OR {nearby} THEN 1 ELSE 0 END) ELSE 0 END",
        f"CASE WHEN {r}.signed_off_at IS NOT NULL THEN 1 ELSE 0 END",
    ]


def _upsert(select: str) -> str:
    columns = ", ".join((*KEY, *COUNTS))
    added = ", ".join(f"{c} = compliance_hours.{c} + excluded.{c}" for c in COUNTS)
    return (
        f"INSERT INTO compliance_hours ({columns}) {select}"
        f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {added}"
    )


def _one(dialect: str, r: str, unit: str, source: str, sign: str) -> str:
    """Add (sign '') or take (sign '-') the recording `r` to (from) its row."""
    values = _values(dialect, r, unit)
    signed = [*values[: len(KEY)], *(f"{sign}({v})" for v in values[len(KEY) :])]
    return _upsert(f"SELECT {', '.join(signed)} FROM {source}")


def _grouped(dialect: str, unit: str, source: str, sign: str) -> str:
    """Add (or take) the recordings of `source` (aliased r) to (from) their rows."""
    values = _values(dialect, "r", unit)
    key = values[: len(KEY)]
    summed = [f"{sign}sum({v})" for v in values[len(KEY) :]]
    ordinals = ", ".join(str(n) for n in range(1, len(KEY) + 1))
    return _upsert(f"SELECT {', '.join((*key, *summed))} FROM {source} GROUP BY {ordinals}")


def _counted(r: str) -> str:
    return f"{r}.state <> 'deleted' AND {r}.officer_id IS NOT NULL"


def _moved(dialect: str) -> str:
    """Whether an update moved the recording to another row, in or out of counting, or
    changed one of its counts."""
    old, new = _values(dialect, "OLD", "OLD.officer_id"), _values(dialect, "NEW", "NEW.officer_id")
    distinct = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    return " OR ".join(
        [f"({_counted('OLD')}) {distinct} ({_counted('NEW')})"]
        + [f"{a} {distinct} {b}" for a, b in zip(old, new, strict=True)]
    )


def _officer(dialect: str, officer: str, unit: str, sign: str) -> str:
    """An officer's live recordings added to (taken from) the rows of `unit`."""
    return _grouped(
        dialect,
        unit,
        f"recordings r WHERE r.officer_id = {officer} AND r.state <> 'deleted'",
        sign,
    )


def _sqlite_triggers() -> list[str]:
    take = _one(
        "sqlite",
        "OLD",
        "o.unit",
        f"officers o WHERE o.id = OLD.officer_id AND {_counted('OLD')}",
        "-",
    )
    add = _one(
        "sqlite",
        "NEW",
        "o.unit",
        f"officers o WHERE o.id = NEW.officer_id AND {_counted('NEW')}",
        "",
    )
    return [
        f"CREATE TRIGGER compliance_hours_recording_added AFTER INSERT ON recordings"
        f" WHEN {_counted('NEW')} BEGIN {add}; END",
        f"CREATE TRIGGER compliance_hours_recording_changed AFTER UPDATE OF {', '.join(COUNTED)}"
        f" ON recordings WHEN {_moved('sqlite')} BEGIN {take}; {add}; END",
        f"CREATE TRIGGER compliance_hours_recording_removed AFTER DELETE ON recordings"
        f" WHEN {_counted('OLD')} BEGIN {take}; END",
        "CREATE TRIGGER compliance_hours_officer_moved AFTER UPDATE OF unit ON officers"
        " WHEN OLD.unit IS NOT NEW.unit BEGIN"
        # The officer's rows in the old team: taken as sums, the key with the old unit.
        f" {_officer('sqlite', 'NEW.id', 'OLD.unit', '-')};"
        f" {_officer('sqlite', 'NEW.id', 'NEW.unit', '')}; END",
    ]


def _postgresql_triggers() -> list[str]:
    take = _one("postgresql", "OLD", "was", "(SELECT 1) AS one", "-")
    add = _one("postgresql", "NEW", "now_in", "(SELECT 1) AS one", "")
    return [
        "CREATE FUNCTION compliance_hours_follow_recording() RETURNS trigger"
        " LANGUAGE plpgsql AS $$"
        " DECLARE was text; now_in text;"
        " BEGIN"
        f" IF TG_OP = 'UPDATE' AND NOT ({_moved('postgresql')}) THEN RETURN NULL; END IF;"
        f" IF TG_OP IN ('UPDATE', 'DELETE') AND {_counted('OLD')} THEN"
        "  SELECT unit INTO was FROM officers WHERE id = OLD.officer_id FOR KEY SHARE;"
        f"  {take};"
        " END IF;"
        f" IF TG_OP IN ('INSERT', 'UPDATE') AND {_counted('NEW')} THEN"
        "  SELECT unit INTO now_in FROM officers WHERE id = NEW.officer_id FOR KEY SHARE;"
        f"  {add};"
        " END IF;"
        " RETURN NULL;"
        " END $$",
        # Named after 0025's (PostgreSQL fires a row's triggers in order of name): the
        # officer's locks are taken in the order 0025's take them.
        "CREATE TRIGGER compliance_hours_recording_added AFTER INSERT OR DELETE ON recordings"
        " FOR EACH ROW EXECUTE FUNCTION compliance_hours_follow_recording()",
        f"CREATE TRIGGER compliance_hours_recording_changed AFTER UPDATE OF {', '.join(COUNTED)}"
        " ON recordings FOR EACH ROW EXECUTE FUNCTION compliance_hours_follow_recording()",
        "CREATE FUNCTION compliance_hours_follow_officer() RETURNS trigger"
        " LANGUAGE plpgsql AS $$"
        " BEGIN"
        " IF NEW.unit IS DISTINCT FROM OLD.unit THEN"
        "  PERFORM 1 FROM officers WHERE id = NEW.id FOR UPDATE;"
        f"  {_officer('postgresql', 'NEW.id', 'OLD.unit', '-')};"
        f"  {_officer('postgresql', 'NEW.id', 'NEW.unit', '')};"
        " END IF;"
        " RETURN NULL;"
        " END $$",
        "CREATE TRIGGER compliance_hours_officer_moved AFTER UPDATE OF unit ON officers"
        " FOR EACH ROW EXECUTE FUNCTION compliance_hours_follow_officer()",
    ]


def backfill(dialect: str) -> str:
    """Count the live recordings into an empty summary (after 0025's `backfill_nearby`)."""
    return _grouped(
        dialect,
        "o.unit",
        "recordings r JOIN officers o ON o.id = r.officer_id WHERE r.state <> 'deleted'",
        "",
    )


def triggers(dialect: str) -> list[str]:
    """The statements that make the triggers (and on PostgreSQL their functions)."""
    return _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers()


def triggers_dropped(dialect: str) -> list[str]:
    """The statements that drop what `triggers` makes."""
    if dialect == "postgresql":
        return [
            "DROP TRIGGER compliance_hours_officer_moved ON officers",
            "DROP TRIGGER compliance_hours_recording_changed ON recordings",
            "DROP TRIGGER compliance_hours_recording_added ON recordings",
            "DROP FUNCTION compliance_hours_follow_officer()",
            "DROP FUNCTION compliance_hours_follow_recording()",
        ]
    return [
        f"DROP TRIGGER compliance_hours_{name}"
        for name in ("officer_moved", "recording_removed", "recording_changed", "recording_added")
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # The backfill reads every live recording once (seconds at a million). The 4 s lock
        # timeout still stands: a migration waits for no one.
        op.execute("SET LOCAL statement_timeout = '60min'")
    op.create_table(
        "compliance_hours",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=120), nullable=False),
        sa.Column("due_hour", sa.Integer(), nullable=False),
        sa.Column("seen_due_hour", sa.Integer(), nullable=False),
        sa.Column("recordings", sa.Integer(), nullable=False),
        sa.Column("uncategorised", sa.Integer(), nullable=False),
        sa.Column("doubtful", sa.Integer(), nullable=False),
        sa.Column("signed_off", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_compliance_hours")),
    )
    # The footage falling due within an hour range, true or as seen, started from an hour.
    for column in ("due_hour", "seen_due_hour"):
        op.create_index(
            f"ix_compliance_hours_{column}",
            "compliance_hours",
            [column, "hour", "unit", "recordings"],
            unique=False,
        )
    # A team's doubtful of the month, found among its officers' few (a partial index).
    op.create_index(
        "ix_recordings_doubtful",
        "recordings",
        ["officer_id", "started_at"],
        unique=False,
        sqlite_where=sa.text(DOUBTFUL["sqlite"]),
        postgresql_where=sa.text(DOUBTFUL["postgresql"]),
    )
    # The backfill, before the triggers: a recording written meanwhile waits for this
    # transaction (SQLite has one writer; PostgreSQL's triggers are created in it too).
    op.execute(backfill(dialect))
    for statement in triggers(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in triggers_dropped(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_index("ix_recordings_doubtful", table_name="recordings")
    for column in ("seen_due_hour", "due_hour"):
        op.drop_index(f"ix_compliance_hours_{column}", table_name="compliance_hours")
    op.drop_table("compliance_hours")
