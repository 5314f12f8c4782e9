"""object lock renewal works on what changed: recordings.locks_pending and locks_version

Revision ID: 0022
Revises: 0018
Create Date: 2026-12-02 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every existing recording starts pending: the first renewal after the upgrade tells the
    # store about each once (as every renewal did before), and only what changed after that.
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locks_pending", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("locks_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_recordings_locks_pending"), ["locks_pending"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordings_locks_pending"))
        batch_op.drop_column("locks_version")
        batch_op.drop_column("locks_pending")
