"""supervision: a supervisor's sign-off of non-evidential footage before it is deleted

recordings.signed_off_at and signed_off_by.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns without a default: no table rewrite, even with millions of rows.
    op.add_column(
        "recordings",
        sa.Column("signed_off_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("recordings", sa.Column("signed_off_by", sa.String(length=160), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("signed_off_by")
        batch.drop_column("signed_off_at")
