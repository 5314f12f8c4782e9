"""redacted copies disclosed: a schedule line and a share item may name a redacted copy

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-02 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("schedule_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redaction_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_schedule_items_redaction_id_redactions"),
            "redactions",
            ["redaction_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_schedule_items_redaction_id"), ["redaction_id"], unique=False
        )
    with op.batch_alter_table("share_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redaction_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_share_items_redaction_id_redactions"),
            "redactions",
            ["redaction_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("share_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_share_items_redaction_id_redactions"), type_="foreignkey"
        )
        batch_op.drop_column("redaction_id")
    with op.batch_alter_table("schedule_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_items_redaction_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_schedule_items_redaction_id_redactions"), type_="foreignkey"
        )
        batch_op.drop_column("redaction_id")
