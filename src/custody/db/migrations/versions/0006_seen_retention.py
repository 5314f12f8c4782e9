"""The retention decision as it is seen by those who may not know of complaint holds.

Revision ID: 0006
Revises: 0005

Lists for people who may not see complaint holds filter and sort on these columns, so that
no list's length or order tells them of one. Existing rows start equal to the real decision
(nothing deployed has complaint holds to hide); the next change to a recording decides both.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from custody.db.types import UTCDateTime

revision: str = "0006"
down_revision: str | tuple[str, ...] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("seen_delete_due_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("seen_review_due_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("seen_not_before", UTCDateTime(timezone=True), nullable=True))
        batch.create_index("ix_recordings_seen_delete_due_at", ["seen_delete_due_at"])
        batch.create_index("ix_recordings_seen_review_due_at", ["seen_review_due_at"])
    op.execute(
        "UPDATE recordings SET seen_delete_due_at = delete_due_at, "
        "seen_review_due_at = review_due_at, seen_not_before = deletion_not_before"
    )


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_index("ix_recordings_seen_review_due_at")
        batch.drop_index("ix_recordings_seen_delete_due_at")
        batch.drop_column("seen_not_before")
        batch.drop_column("seen_review_due_at")
        batch.drop_column("seen_delete_due_at")
