"""the compliance page's per-team, per-day summary, kept by triggers and backfilled

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 08:00:00.000000

A live recording with an officer is counted once, in the row of its officer's unit, the UTC
day it started, its access class and its facts (`custody.db.models.compliance`). Triggers
keep the rows: on a recording added, changed in a counted column, or removed, one is taken
from its old row and one added to its new; on an officer moving team, their recordings move
between the teams' rows. On PostgreSQL the recording's trigger reads its officer's unit
FOR SHARE, so that a move and a change of that officer's footage wait for one another and
neither counts the other's footage in the wrong team.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = (
    "day",
    "unit",
    "access_class",
    "categorised",
    "evidential",
    "annotated",
    "reviewed",
    "signed_off",
    "due_day",
    "seen_due_day",
)
# The recording's columns its row depends on: an update of any other changes no count.
COUNTED = (
    "officer_id",
    "started_at",
    "state",
    "access_class",
    "categorised",
    "evidential",
    "annotated",
    "last_reviewed_at",
    "signed_off_at",
    "delete_due_at",
    "seen_delete_due_at",
)
NEVER = "9999-12-31"


def _day(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"(({column}) AT TIME ZONE 'UTC')::date"
    return f"date({column})"


def _facts(dialect: str, r: str) -> list[str]:
    """The key's values after the unit, for a recording named `r` (NEW, OLD or a table)."""
    never = f"DATE '{NEVER}'" if dialect == "postgresql" else f"'{NEVER}'"
    reviewed = f"({r}.last_reviewed_at IS NOT NULL OR {r}.signed_off_at IS NOT NULL)"
    # Only footage neither evidential nor reviewed is ever due soon on the page: the rest
    # shares one due day, NEVER, and so a few rows a day.
    settled = f"({r}.evidential OR {reviewed})"
    return [
        f"{r}.access_class",
        f"{r}.categorised",
        f"{r}.evidential",
        f"{r}.annotated",
        reviewed,
        f"({r}.signed_off_at IS NOT NULL)",
        f"CASE WHEN {settled} THEN {never}"
        f" ELSE coalesce({_day(dialect, f'{r}.delete_due_at')}, {never}) END",
        f"CASE WHEN {settled} THEN {never}"
        f" ELSE coalesce({_day(dialect, f'{r}.seen_delete_due_at')}, {never}) END",
    ]


def _key(dialect: str, r: str, unit: str) -> list[str]:
    return [_day(dialect, f"{r}.started_at"), unit, *_facts(dialect, r)]


def _counted(r: str) -> str:
    return f"{r}.state <> 'deleted' AND {r}.officer_id IS NOT NULL"


def _matches(dialect: str, r: str, unit: str, row: str = "compliance_days") -> str:
    return " AND ".join(
        f"{row}.{name} = {value}" for name, value in zip(KEY, _key(dialect, r, unit), strict=True)
    )


def _key_moved(dialect: str) -> str:
    """Whether an update moved the recording to another row (or in or out of counting)."""
    old, new = _key(dialect, "OLD", "OLD.officer_id"), _key(dialect, "NEW", "NEW.officer_id")
    return " OR ".join(
        [f"({_counted('OLD')}) IS DISTINCT FROM ({_counted('NEW')})"]
        + [f"{a} IS DISTINCT FROM {b}" for a, b in zip(old, new, strict=True)]
    ).replace("IS DISTINCT FROM", "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM")


def _add(dialect: str, r: str, unit: str, source: str, count: str, group: bool) -> str:
    """Add `count` recordings of `source` (aliased `r`) to their rows, made when missing."""
    values = ", ".join(_key(dialect, r, unit))
    grouped = f" GROUP BY {', '.join(str(n) for n in range(1, len(KEY) + 1))}" if group else ""
    return (
        f"INSERT INTO compliance_days ({', '.join(KEY)}, recordings)"
        f" SELECT {values}, {count} FROM {source}{grouped}"
        f" ON CONFLICT ({', '.join(KEY)})"
        " DO UPDATE SET recordings = compliance_days.recordings + excluded.recordings"
    )


def _moved_officer(dialect: str, officer: str) -> str:
    """An officer's live recordings, counted per row of the key (their unit left out)."""
    key = [v for k, v in zip(KEY, _key(dialect, "r", ""), strict=True) if k != "unit"]
    named = ", ".join(f"{v} AS {k}" for k, v in zip(_BUT_UNIT, key, strict=True))
    ordinals = ", ".join(str(n) for n in range(1, len(key) + 1))
    return (
        f"(SELECT {named}, count(*) AS n FROM recordings r"
        f" WHERE r.officer_id = {officer} AND r.state <> 'deleted' GROUP BY {ordinals}) AS moved"
    )


_BUT_UNIT = tuple(k for k in KEY if k != "unit")


def _take_officer(dialect: str, officer: str, unit: str) -> str:
    where = " AND ".join(f"compliance_days.{k} = moved.{k}" for k in _BUT_UNIT)
    return (
        "UPDATE compliance_days SET recordings = compliance_days.recordings - moved.n"
        f" FROM {_moved_officer(dialect, officer)}"
        f" WHERE compliance_days.unit = {unit} AND {where}"
    )


def _give_officer(dialect: str, officer: str, unit: str) -> str:
    return _add(
        dialect,
        "r",
        unit,
        f"recordings r WHERE r.officer_id = {officer} AND r.state <> 'deleted'",
        "count(*)",
        group=True,
    )


def _sqlite_triggers() -> list[str]:
    unit_of = "(SELECT unit FROM officers WHERE id = {r}.officer_id)"
    take = (
        "UPDATE compliance_days SET recordings = recordings - 1"
        f" WHERE {_matches('sqlite', 'OLD', unit_of.format(r='OLD'))}"
    )
    add = _add(
        "sqlite",
        "NEW",
        "o.unit",
        f"officers o WHERE o.id = NEW.officer_id AND {_counted('NEW')}",
        "1",
        group=False,
    )
    return [
        f"CREATE TRIGGER compliance_days_recording_added AFTER INSERT ON recordings"
        f" WHEN {_counted('NEW')} BEGIN {add}; END",
        f"CREATE TRIGGER compliance_days_recording_changed AFTER UPDATE OF {', '.join(COUNTED)}"
        f" ON recordings WHEN {_key_moved('sqlite')} BEGIN"
        f" {take} AND {_counted('OLD')}; {add}; END",
        f"CREATE TRIGGER compliance_days_recording_removed AFTER DELETE ON recordings"
        f" WHEN {_counted('OLD')} BEGIN {take}; END",
        "CREATE TRIGGER compliance_days_officer_moved AFTER UPDATE OF unit ON officers"
        " WHEN OLD.unit IS NOT NEW.unit BEGIN"
        f" {_take_officer('sqlite', 'NEW.id', 'OLD.unit')};"
        f" {_give_officer('sqlite', 'NEW.id', 'NEW.unit')}; END",
    ]


def _postgresql_triggers() -> list[str]:
    take = (
        "UPDATE compliance_days SET recordings = recordings - 1"
        f" WHERE {_matches('postgresql', 'OLD', 'was')}"
    )
    add = _add("postgresql", "NEW", "now_in", "(SELECT 1) AS one", "1", group=False)
    return [
        "CREATE FUNCTION compliance_days_follow_recording() RETURNS trigger"
        " LANGUAGE plpgsql AS $$"
        " DECLARE was text; now_in text;"
        " BEGIN"
        f" IF TG_OP = 'UPDATE' AND NOT ({_key_moved('postgresql')}) THEN RETURN NULL; END IF;"
        f" IF TG_OP IN ('UPDATE', 'DELETE') AND {_counted('OLD')} THEN"
        "  SELECT unit INTO was FROM officers WHERE id = OLD.officer_id FOR SHARE;"
        f"  {take};"
        " END IF;"
        f" IF TG_OP IN ('INSERT', 'UPDATE') AND {_counted('NEW')} THEN"
        "  SELECT unit INTO now_in FROM officers WHERE id = NEW.officer_id FOR SHARE;"
        f"  {add};"
        " END IF;"
        " RETURN NULL;"
        " END $$",
        "CREATE TRIGGER compliance_days_recording_added AFTER INSERT OR DELETE ON recordings"
        " FOR EACH ROW EXECUTE FUNCTION compliance_days_follow_recording()",
        f"CREATE TRIGGER compliance_days_recording_changed AFTER UPDATE OF {', '.join(COUNTED)}"
        " ON recordings FOR EACH ROW EXECUTE FUNCTION compliance_days_follow_recording()",
        "CREATE FUNCTION compliance_days_follow_officer() RETURNS trigger"
        " LANGUAGE plpgsql AS $$"
        " BEGIN"
        " IF NEW.unit IS DISTINCT FROM OLD.unit THEN"
        f"  {_take_officer('postgresql', 'NEW.id', 'OLD.unit')};"
        f"  {_give_officer('postgresql', 'NEW.id', 'NEW.unit')};"
        " END IF;"
        " RETURN NULL;"
        " END $$",
        "CREATE TRIGGER compliance_days_officer_moved AFTER UPDATE OF unit ON officers"
        " FOR EACH ROW EXECUTE FUNCTION compliance_days_follow_officer()",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # The backfill reads every recording once (a million in seconds; ten million may
        # take minutes). The 4 s lock timeout still stands: a migration waits for no one.
        op.execute("SET LOCAL statement_timeout = '60min'")
    op.create_table(
        "compliance_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit", sa.String(length=120), nullable=False),
        sa.Column("access_class", sa.String(length=16), nullable=False),
        sa.Column("categorised", sa.Boolean(), nullable=False),
        sa.Column("evidential", sa.Boolean(), nullable=False),
        sa.Column("annotated", sa.Boolean(), nullable=False),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("signed_off", sa.Boolean(), nullable=False),
        sa.Column("due_day", sa.Date(), nullable=False),
        sa.Column("seen_due_day", sa.Date(), nullable=False),
        sa.Column("recordings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_compliance_days")),
    )
    op.create_index("ix_compliance_days_unit", "compliance_days", ["unit", "day"], unique=False)
    # The backfill, before the triggers: a recording written meanwhile waits for this
    # transaction (SQLite has one writer; PostgreSQL's triggers are created in it too).
    op.execute(
        _add(
            dialect,
            "r",
            "o.unit",
            "recordings r JOIN officers o ON o.id = r.officer_id WHERE r.state <> 'deleted'",
            "count(*)",
            group=True,
        )
    )
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER compliance_days_officer_moved ON officers")
        op.execute("DROP TRIGGER compliance_days_recording_changed ON recordings")
        op.execute("DROP TRIGGER compliance_days_recording_added ON recordings")
        op.execute("DROP FUNCTION compliance_days_follow_officer()")
        op.execute("DROP FUNCTION compliance_days_follow_recording()")
    else:
        for name in ("officer_moved", "recording_removed", "recording_changed", "recording_added"):
            op.execute(f"DROP TRIGGER compliance_days_{name}")
    op.drop_index("ix_compliance_days_unit", table_name="compliance_days")
    op.drop_table("compliance_days")
