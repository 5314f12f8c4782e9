"""a change of a recording holds its officer's advisory lock shared (PostgreSQL)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 19:45:00.000000

Before a recording is inserted, deleted, or changed in a column the compliance summaries
count or its neighbours' counts follow, its officer's advisory lock is taken shared for
the rest of the transaction; a move of the officer takes it exclusive before touching
the officer's row (`custody.db.officer_locks`, where the reason is). The triggers are
named to fire before every other BEFORE trigger on recordings (PostgreSQL fires them in
order of name), so the lock is held before the officer is read or locked by any of them.

SQLite has one writer at a time: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# `custody.db.officer_locks.KEY` and `BUCKETS` as they are when this migration runs.
KEY = 0x6F666669
BUCKETS = 256
# 0025's counted and neighbourly columns and 0027's counted ones, together.
WATCHED = (
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


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION compliance_officer_held() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN"
        " IF TG_OP <> 'INSERT' AND OLD.officer_id IS NOT NULL THEN"
        f"  PERFORM pg_advisory_xact_lock_shared({KEY}, OLD.officer_id % {BUCKETS});"
        " END IF;"
        " IF TG_OP <> 'DELETE' AND NEW.officer_id IS NOT NULL THEN"
        f"  PERFORM pg_advisory_xact_lock_shared({KEY}, NEW.officer_id % {BUCKETS});"
        " END IF;"
        " IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;"
        " RETURN NEW;"
        " END $$"
    )
    op.execute(
        "CREATE TRIGGER compliance_a_officer_held BEFORE INSERT OR DELETE ON recordings"
        " FOR EACH ROW EXECUTE FUNCTION compliance_officer_held()"
    )
    op.execute(
        f"CREATE TRIGGER compliance_a_officer_held_changed BEFORE UPDATE OF {', '.join(WATCHED)}"
        " ON recordings FOR EACH ROW EXECUTE FUNCTION compliance_officer_held()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER compliance_a_officer_held_changed ON recordings")
    op.execute("DROP TRIGGER compliance_a_officer_held ON recordings")
    op.execute("DROP FUNCTION compliance_officer_held()")
