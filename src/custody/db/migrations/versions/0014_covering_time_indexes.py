"""the time indexes a team's footage walks cover the officer, state and access class

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 22:00:00.000000

A large team's footage is the newest of the force's, walked backwards along the time it
reached the server and filtered on the team: with the officer, state and access class in
the index, the rows of other teams are passed over without reading them. A small team's
or an officer's counts are read from (officer, stored) alone in the same way.

The due dates' single-column indexes go: the covering indexes begin with the same column
and serve every range they served, and SQLite, offered both, took the narrow one and read
a row for each of a force's hundred thousand pending recordings to count a team's.

An officer's earliest and a camera's latest footage are kept on their rows (every insert of
a recording keeps them, models/ingest.py): the roll-out counts officers who have uploaded
and idle cameras from these, instead of looking for a recording of each of 22,000.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from custody.db.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = {
    "ix_recordings_officer_stored": (["officer_id", "stored_at"], ["state", "access_class"]),
    "ix_recordings_stored": (["stored_at"], ["officer_id", "state", "access_class"]),
}


# Beginning the covering indexes (ix_recordings_due_cover, ix_recordings_seen_due_cover).
REDUNDANT = {
    "ix_recordings_delete_due_at": "delete_due_at",
    "ix_recordings_seen_delete_due_at": "seen_delete_due_at",
}


def upgrade() -> None:
    for name, (columns, covered) in WIDENED.items():
        op.drop_index(name, table_name="recordings")
        op.create_index(name, "recordings", [*columns, *covered], unique=False)
    for name in REDUNDANT:
        op.drop_index(name, table_name="recordings")
    with op.batch_alter_table("officers") as batch:
        batch.add_column(sa.Column("first_recorded_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("last_recorded_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE officers SET first_recorded_at = (SELECT min(started_at) FROM recordings"
        " WHERE recordings.officer_id = officers.id)"
    )
    op.execute(
        "UPDATE cameras SET last_recorded_at = (SELECT max(started_at) FROM recordings"
        " WHERE recordings.camera_id = cameras.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("last_recorded_at")
    with op.batch_alter_table("officers") as batch:
        batch.drop_column("first_recorded_at")
    for name, column in REDUNDANT.items():
        op.create_index(name, "recordings", [column], unique=False)
    for name, (columns, _) in WIDENED.items():
        op.drop_index(name, table_name="recordings")
        op.create_index(name, "recordings", columns, unique=False)
