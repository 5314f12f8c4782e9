"""users.password_from: who issued the code a person's password descends from

Approvals of wide roles need two administrators neither of whom could be acting as the
other; one who issued the reset code that set another's password could be. Existing
passwords were set before anyone recorded this: null, as for those set at installation.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_from", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_from")
