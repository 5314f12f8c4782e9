"""the compliance page reads each recording's own facts from its row: categorised,
evidential, annotated, and an index covering the team's month

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The backfill and the index read every recording: at a million recordings they took
        # longer than the migrations' 5 s bound (env.py); a force of ten million may take
        # minutes. The 4 s lock timeout still stands: a migration waits for no one.
        op.execute("SET LOCAL statement_timeout = '60min'")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        for name in ("categorised", "evidential", "annotated"):
            batch_op.add_column(
                sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)
            )
    # The backfill: what the page decided per row with EXISTS until now, decided once. Only
    # the rows it makes true are written (half the force is never categorised).
    op.execute(
        "UPDATE recordings SET categorised = true, evidential = EXISTS ("
        " SELECT 1 FROM recording_categories rc JOIN categories c ON c.id = rc.category_id"
        " WHERE rc.recording_id = recordings.id AND c.evidential)"
        " WHERE id IN (SELECT recording_id FROM recording_categories)"
    )
    op.execute(
        "UPDATE recordings SET annotated = true"
        " WHERE id IN (SELECT recording_id FROM annotations WHERE removed_at IS NULL)"
    )
    op.create_index("ix_recordings_compliance", "recordings", list(COVER), unique=False)


def downgrade() -> None:
    op.drop_index("ix_recordings_compliance", table_name="recordings")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        for name in ("annotated", "evidential", "categorised"):
            batch_op.drop_column(name)
