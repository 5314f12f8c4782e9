"""the roll-out's figures per borough are read from indexes alone

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 08:10:00.000000

The roll-out counts, per borough, the officers whose footage has uploaded (the officer's
earliest recording, kept on their row) and the issued cameras idle since a date (the
camera's latest recording, likewise): read by unit and by borough and status, each row was
then looked up for its date, 22,000 of each at the Met's size. With the dates in the index
the counts never read a row. The cameras' index takes the place of (borough, status), of
which it is a longer form.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
# On the branch that merges after 0025, this follows it (a straight line of migrations).
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cameras_borough_recorded",
        "cameras",
        ["borough", "status", "last_recorded_at"],
        unique=False,
    )
    op.drop_index("ix_cameras_borough_status", table_name="cameras")
    op.create_index(
        "ix_officers_unit_recorded", "officers", ["unit", "first_recorded_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_officers_unit_recorded", table_name="officers")
    op.create_index("ix_cameras_borough_status", "cameras", ["borough", "status"], unique=False)
    op.drop_index("ix_cameras_borough_recorded", table_name="cameras")
