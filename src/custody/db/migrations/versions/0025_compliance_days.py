"""the compliance page's per-team, per-day summary, kept by triggers and backfilled

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 08:00:00.000000

A live recording with an officer is counted once, in the row of its officer's unit, the UTC
day it started, its access class and its facts (`custody.db.models.compliance`). Triggers
keep the rows: on a recording added, changed in a counted column, or removed, one is taken
from its old row and one added to its new; on an officer moving team, their recordings move
between the teams' rows. Rows are only added to (+1, -1), so concurrent changes never lose
one another's counts. On PostgreSQL the recording's trigger reads its officer's unit FOR
KEY SHARE and a move takes the officer FOR UPDATE, so that a move and a change of that
officer's footage wait for one another and neither counts the other's footage in the wrong
team.

Each recording also keeps, per access class, how many of its officer's live evidential
recordings began within two hours of it (itself included), kept by triggers too.

A later migration that rebuilds `recordings` or `officers` on SQLite (batch mode copies the
table) drops their triggers with the old table: it must create them again (`_sqlite_triggers`).
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
    "nearby",
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
    "nearby_evidential_normal",
    "nearby_evidential_restricted",
    "nearby_evidential_confidential",
)
NEVER = "9999-12-31"
CLASSES = ("normal", "restricted", "confidential")
# `custody.domain.compliance.INCIDENT`, as it is when this migration runs: a later change of
# the rule needs a migration of its own to count the recordings' neighbours again.
INCIDENT_SECONDS = 7200
# The recording's columns that move its neighbours' counts.
NEIGHBOURLY = ("officer_id", "started_at", "state", "access_class", "evidential")
COVER = (
    "officer_id",
    "started_at",
    "state",
    "access_class",
    "categorised",
    "evidential",
    "annotated",
    "signed_off_at",
    "last_reviewed_at",
    "seen_delete_due_at",
    "delete_due_at",
)
NEARBY = tuple(f"nearby_evidential_{c}" for c in CLASSES)


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
        # Which classes of evidential neighbour a candidate for doubt has (1 normal, 2
        # restricted, 4 confidential): 0 for the rest, whose doubt no neighbour decides.
        f"CASE WHEN {r}.categorised AND NOT {r}.evidential AND NOT {r}.annotated THEN "
        + " + ".join(
            f"(CASE WHEN {r}.{column} > 0 THEN {1 << n} ELSE 0 END)"
            for n, column in enumerate(NEARBY)
        )
        + " ELSE 0 END",
    ]


def _key(dialect: str, r: str, unit: str) -> list[str]:
    return [_day(dialect, f"{r}.started_at"), unit, *_facts(dialect, r)]


def _counted(r: str) -> str:
    return f"{r}.state <> 'deleted' AND {r}.officer_id IS NOT NULL"


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


def _shifted(dialect: str, column: str, seconds: int) -> str:
    """`column` moved by whole seconds, comparable with the column (`custody.db.types`)."""
    if dialect == "postgresql":
        return f"({column} + interval '{seconds} seconds')"
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {column}, '{seconds:+d} seconds') || substr({column}, 20))"
    )


def _around(dialect: str, r: str, o: str = "recordings") -> str:
    """`o` is of the same officer as `r` and began within the incident's time of it."""
    return (
        f"{o}.officer_id = {r}.officer_id"
        f" AND {o}.started_at >= {_shifted(dialect, f'{r}.started_at', -INCIDENT_SECONDS)}"
        f" AND {o}.started_at <= {_shifted(dialect, f'{r}.started_at', INCIDENT_SECONDS)}"
    )


def _evidential(r: str) -> str:
    return f"({r}.evidential AND {r}.state <> 'deleted' AND {r}.officer_id IS NOT NULL)"


def _own_nearby(dialect: str, r: str) -> str:
    """Set the neighbours' counts of the recording `r` is (itself counted if evidential)."""
    counted = ", ".join(f"count(CASE WHEN o.access_class = '{c}' THEN 1 END)" for c in CLASSES)
    return (
        f"UPDATE recordings SET ({', '.join(NEARBY)}) = (SELECT {counted} FROM recordings o"
        f" WHERE {_around(dialect, r, 'o')} AND {_evidential('o')})"
        f" WHERE id = {r}.id"
    )


def _tell_neighbours(dialect: str, r: str, sign: str) -> str:
    """Add (or take) the evidential recording `r` to (from) its neighbours' counts."""
    as_int = "::int" if dialect == "postgresql" else ""
    moved = ", ".join(
        f"{column} = {column} {sign} ({r}.access_class = '{c}'){as_int}"
        for c, column in zip(CLASSES, NEARBY, strict=True)
    )
    return (
        f"UPDATE recordings SET {moved}"
        f" WHERE {_evidential(r)} AND {_around(dialect, r)} AND recordings.id <> {r}.id"
    )


def _neighbourly_change(dialect: str) -> str:
    distinct = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    return " OR ".join(
        [f"{_evidential('OLD')} {distinct} {_evidential('NEW')}"]
        + [f"OLD.{c} {distinct} NEW.{c}" for c in ("officer_id", "started_at", "access_class")]
    )


def _sqlite_triggers() -> list[str]:
    take = _add(
        "sqlite",
        "OLD",
        "o.unit",
        f"officers o WHERE o.id = OLD.officer_id AND {_counted('OLD')}",
        "-1",
        group=False,
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
        "CREATE TRIGGER compliance_days_neighbours_added AFTER INSERT ON recordings"
        " WHEN NEW.officer_id IS NOT NULL BEGIN"
        f" {_own_nearby('sqlite', 'NEW')}; {_tell_neighbours('sqlite', 'NEW', '+')}; END",
        f"CREATE TRIGGER compliance_days_neighbours_changed AFTER UPDATE OF"
        f" {', '.join(NEIGHBOURLY)} ON recordings WHEN {_neighbourly_change('sqlite')} BEGIN"
        f" {_tell_neighbours('sqlite', 'OLD', '-')}; {_tell_neighbours('sqlite', 'NEW', '+')};"
        f" {_own_nearby('sqlite', 'NEW')}; END",
        "CREATE TRIGGER compliance_days_neighbours_removed AFTER DELETE ON recordings"
        f" WHEN {_evidential('OLD')} BEGIN {_tell_neighbours('sqlite', 'OLD', '-')}; END",
        f"CREATE TRIGGER compliance_days_recording_added AFTER INSERT ON recordings"
        f" WHEN {_counted('NEW')} BEGIN {add}; END",
        f"CREATE TRIGGER compliance_days_recording_changed AFTER UPDATE OF {', '.join(COUNTED)}"
        f" ON recordings WHEN {_key_moved('sqlite')} BEGIN {take}; {add}; END",
        f"CREATE TRIGGER compliance_days_recording_removed AFTER DELETE ON recordings"
        f" WHEN {_counted('OLD')} BEGIN {take}; END",
        "CREATE TRIGGER compliance_days_officer_moved AFTER UPDATE OF unit ON officers"
        " WHEN OLD.unit IS NOT NEW.unit BEGIN"
        f" {_take_officer('sqlite', 'NEW.id', 'OLD.unit')};"
        f" {_give_officer('sqlite', 'NEW.id', 'NEW.unit')}; END",
    ]


def _own_delta(r_old: str, r_new: str) -> str:
    """A recording's own counts moved by its own change of class or evidential (it counts
    itself), added rather than counted again: rows of one statement change together."""
    moved = ", ".join(
        f"{column} = {column} - ({_evidential(r_old)} AND {r_old}.access_class = '{c}')::int"
        f" + ({_evidential(r_new)} AND {r_new}.access_class = '{c}')::int"
        for c, column in zip(CLASSES, NEARBY, strict=True)
    )
    return f"UPDATE recordings SET {moved} WHERE id = {r_new}.id"


def _postgresql_triggers() -> list[str]:
    take = _add("postgresql", "OLD", "was", "(SELECT 1) AS one", "-1", group=False)
    add = _add("postgresql", "NEW", "now_in", "(SELECT 1) AS one", "1", group=False)
    counted = ", ".join(f"count(CASE WHEN o.access_class = '{c}' THEN 1 END)" for c in CLASSES)
    own = ", ".join(f"NEW.{column}" for column in NEARBY)
    itself = " ".join(
        f"NEW.{column} := NEW.{column} + ({_evidential('NEW')} AND NEW.access_class = '{c}')::int;"
        for c, column in zip(CLASSES, NEARBY, strict=True)
    )
    moved = "OLD.officer_id IS DISTINCT FROM NEW.officer_id OR OLD.started_at <> NEW.started_at"
    return [
        # A recording's own counts are taken before it is inserted, so that footage inserted
        # by one statement (the seeder's COPY) counts each neighbour once: the rows before it
        # are seen by its count, the rows after it count it. Its neighbours are told then.
        "CREATE FUNCTION compliance_days_count_neighbours() RETURNS trigger"
        " LANGUAGE plpgsql AS $$"
        " BEGIN"
        " IF NEW.officer_id IS NULL THEN RETURN NEW; END IF;"
        # One change of an officer's neighbouring footage at a time: a count read as a
        # snapshot would miss a concurrent change's additions to the rows it cannot see.
        " PERFORM 1 FROM officers WHERE id = NEW.officer_id FOR NO KEY UPDATE;"
        f" SELECT {counted} INTO {own} FROM recordings o"
        f" WHERE {_around('postgresql', 'NEW', 'o')} AND {_evidential('o')};"
        f" {itself}"
        f" {_tell_neighbours('postgresql', 'NEW', '+')};"
        " RETURN NEW;"
        " END $$",
        "CREATE TRIGGER compliance_days_neighbours_counted BEFORE INSERT ON recordings"
        " FOR EACH ROW EXECUTE FUNCTION compliance_days_count_neighbours()",
        # After a change, only additions and subtractions: the rows one UPDATE changes are
        # all changed when these run, and each one's change is added once to the others.
        "CREATE FUNCTION compliance_days_follow_neighbours() RETURNS trigger"
        " LANGUAGE plpgsql AS $$"
        " BEGIN"
        f" IF TG_OP = 'UPDATE' AND NOT ({_neighbourly_change('postgresql')}) THEN"
        "  RETURN NULL;"
        " END IF;"
        " PERFORM 1 FROM officers WHERE id IN (OLD.officer_id, NEW.officer_id)"
        " ORDER BY id FOR NO KEY UPDATE;"
        f" {_tell_neighbours('postgresql', 'OLD', '-')};"
        " IF TG_OP = 'UPDATE' THEN"
        f"  {_tell_neighbours('postgresql', 'NEW', '+')};"
        # A recording is never moved to another officer or time by the services; were one,
        # its own counts are counted again (right for a statement that moves one row).
        f"  IF {moved} THEN {_own_nearby('postgresql', 'NEW')};"
        f"  ELSE {_own_delta('OLD', 'NEW')}; END IF;"
        " END IF;"
        " RETURN NULL;"
        " END $$",
        # Named to fire before the summary's (PostgreSQL fires a row's triggers in order of
        # name): the officer's lock is taken before FOR KEY SHARE, never after it, so that a
        # move waiting for the summary's readers is not waited for by one of them.
        "CREATE TRIGGER compliance_days_neighbours_removed AFTER DELETE ON recordings"
        " FOR EACH ROW EXECUTE FUNCTION compliance_days_follow_neighbours()",
        f"CREATE TRIGGER compliance_days_neighbours_changed AFTER UPDATE OF"
        f" {', '.join(NEIGHBOURLY)} ON recordings"
        " FOR EACH ROW EXECUTE FUNCTION compliance_days_follow_neighbours()",
        "CREATE FUNCTION compliance_days_follow_recording() RETURNS trigger"
        " LANGUAGE plpgsql AS $$"
        " DECLARE was text; now_in text;"
        " BEGIN"
        f" IF TG_OP = 'UPDATE' AND NOT ({_key_moved('postgresql')}) THEN RETURN NULL; END IF;"
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
        "CREATE TRIGGER compliance_days_recording_added AFTER INSERT OR DELETE ON recordings"
        " FOR EACH ROW EXECUTE FUNCTION compliance_days_follow_recording()",
        f"CREATE TRIGGER compliance_days_recording_changed AFTER UPDATE OF {', '.join(COUNTED)}"
        " ON recordings FOR EACH ROW EXECUTE FUNCTION compliance_days_follow_recording()",
        "CREATE FUNCTION compliance_days_follow_officer() RETURNS trigger"
        " LANGUAGE plpgsql AS $$"
        " BEGIN"
        " IF NEW.unit IS DISTINCT FROM OLD.unit THEN"
        # A move waits for every change of the officer's footage under way (their summary
        # rows were read under FOR KEY SHARE), and they for it.
        "  PERFORM 1 FROM officers WHERE id = NEW.id FOR UPDATE;"
        f"  {_take_officer('postgresql', 'NEW.id', 'OLD.unit')};"
        f"  {_give_officer('postgresql', 'NEW.id', 'NEW.unit')};"
        " END IF;"
        " RETURN NULL;"
        " END $$",
        "CREATE TRIGGER compliance_days_officer_moved AFTER UPDATE OF unit ON officers"
        " FOR EACH ROW EXECUTE FUNCTION compliance_days_follow_officer()",
    ]


def backfill_nearby(dialect: str) -> str:
    """Count every live recording's evidential neighbours. Only the recordings with one are
    written (most have none).

    On PostgreSQL in one pass over each officer's recordings in time order (a window
    reaching the incident's time either side): asked as a join, PostgreSQL matched every
    recording against all of its officer's evidential ones, which at 450 recordings an
    officer (ten million) would have taken hours. SQLite has no window over a time range
    of text: it walks the (officer, time) index for each recording, as the join says."""
    if dialect == "postgresql":
        return _nearby_in_one_pass()
    near = f"SELECT 1 FROM recordings o WHERE {_around(dialect, 'recordings', 'o')}"
    return _own_nearby(dialect, "recordings").replace(
        "WHERE id = recordings.id",
        f"WHERE recordings.officer_id IS NOT NULL AND EXISTS ({near} AND {_evidential('o')})",
    )


def _nearby_in_one_pass() -> str:
    window = (
        "OVER (PARTITION BY officer_id ORDER BY started_at RANGE BETWEEN"
        f" interval '{INCIDENT_SECONDS} seconds' PRECEDING"
        f" AND interval '{INCIDENT_SECONDS} seconds' FOLLOWING)"
    )
    counts = ", ".join(
        f"count(*) FILTER (WHERE {_evidential('r')} AND r.access_class = '{c}') {window} AS {n}"
        for c, n in zip(CLASSES, NEARBY, strict=True)
    )
    return (
        f"UPDATE recordings SET ({', '.join(NEARBY)}) = ({', '.join(f'w.{n}' for n in NEARBY)})"
        f" FROM (SELECT r.id, {counts} FROM recordings r WHERE r.officer_id IS NOT NULL) w"
        f" WHERE recordings.id = w.id AND {' + '.join(f'w.{n}' for n in NEARBY)} > 0"
    )


def backfill_summary(dialect: str) -> str:
    """Count the live recordings into an empty summary, after `backfill_nearby`."""
    return _add(
        dialect,
        "r",
        "o.unit",
        "recordings r JOIN officers o ON o.id = r.officer_id WHERE r.state <> 'deleted'",
        "count(*)",
        group=True,
    )


def triggers(dialect: str) -> list[str]:
    """The statements that make the triggers (and on PostgreSQL their functions)."""
    return _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers()


def triggers_dropped(dialect: str) -> list[str]:
    """The statements that drop what `triggers` makes."""
    if dialect == "postgresql":
        return [
            "DROP TRIGGER compliance_days_neighbours_changed ON recordings",
            "DROP TRIGGER compliance_days_neighbours_removed ON recordings",
            "DROP TRIGGER compliance_days_neighbours_counted ON recordings",
            "DROP FUNCTION compliance_days_follow_neighbours()",
            "DROP FUNCTION compliance_days_count_neighbours()",
            "DROP TRIGGER compliance_days_officer_moved ON officers",
            "DROP TRIGGER compliance_days_recording_changed ON recordings",
            "DROP TRIGGER compliance_days_recording_added ON recordings",
            "DROP FUNCTION compliance_days_follow_officer()",
            "DROP FUNCTION compliance_days_follow_recording()",
        ]
    return [
        *(
            f"DROP TRIGGER compliance_days_{name}"
            for name in (
                "officer_moved",
                "recording_removed",
                "recording_changed",
                "recording_added",
            )
        ),
        *(
            f"DROP TRIGGER compliance_days_neighbours_{name}"
            for name in ("removed", "changed", "added")
        ),
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # The backfill reads every recording once (a million in seconds; ten million may
        # take minutes). The 4 s lock timeout still stands: a migration waits for no one.
        op.execute("SET LOCAL statement_timeout = '60min'")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        for name in NEARBY:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    op.execute(backfill_nearby(dialect))
    op.drop_index("ix_recordings_compliance", table_name="recordings")
    op.create_index("ix_recordings_compliance", "recordings", [*COVER, *NEARBY], unique=False)
    op.create_index(
        "ix_recordings_doubt_candidates",
        "recordings",
        ["categorised", "evidential", "started_at"],
        unique=False,
    )
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
        sa.Column("nearby", sa.Integer(), nullable=False),
        sa.Column("recordings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_compliance_days")),
    )
    op.create_index("ix_compliance_days_unit", "compliance_days", ["unit", "day"], unique=False)
    # The backfill, before the triggers: a recording written meanwhile waits for this
    # transaction (SQLite has one writer; PostgreSQL's triggers are created in it too).
    op.execute(backfill_summary(dialect))
    for statement in triggers(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in triggers_dropped(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_index("ix_compliance_days_unit", table_name="compliance_days")
    op.drop_table("compliance_days")
    op.drop_index("ix_recordings_doubt_candidates", table_name="recordings")
    op.drop_index("ix_recordings_compliance", table_name="recordings")
    op.create_index("ix_recordings_compliance", "recordings", list(COVER), unique=False)
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        for name in NEARBY[::-1]:
            batch_op.drop_column(name)
