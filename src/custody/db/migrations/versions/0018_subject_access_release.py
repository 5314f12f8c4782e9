"""subject access release: a share's source is a case's schedule or a subject access request

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 23:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("subject_access_request_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_shares_subject_access_request_id_subject_access_requests"),
            "subject_access_requests",
            ["subject_access_request_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_shares_subject_access_request_id"),
            ["subject_access_request_id"],
            unique=False,
        )
    with op.batch_alter_table("share_items", schema=None) as batch_op:
        batch_op.alter_column("schedule_item_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("delivery_receipts", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("subject_access_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redaction_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_subject_access_items_redaction_id_redactions"),
            "redactions",
            ["redaction_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("subject_access_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_subject_access_items_redaction_id_redactions"), type_="foreignkey"
        )
        batch_op.drop_column("redaction_id")
    with op.batch_alter_table("delivery_receipts", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("share_items", schema=None) as batch_op:
        batch_op.alter_column("schedule_item_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shares_subject_access_request_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_shares_subject_access_request_id_subject_access_requests"),
            type_="foreignkey",
        )
        batch_op.drop_column("subject_access_request_id")
        batch_op.alter_column("case_id", existing_type=sa.Integer(), nullable=False)
