"""password resets and role requests: nobody acts as another

password_resets: one-time codes a person completes to set their own password.
role_requests: a role that sees footage force-wide, granted only when a second
administrator approves.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 17:00:00.000000

An administrator no longer sets another person's password; they issue a reset code (kept
only as its hash, expiring, single use) that the person completes themselves. Nor do they
alone give anyone a role that sees footage force-wide: a second administrator approves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_resets_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_password_resets_code_hash")),
    )
    op.create_index(
        op.f("ix_password_resets_user_id"), "password_resets", ["user_id"], unique=False
    )
    op.create_table(
        "role_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("requested_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decided_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_role_requests_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_requests")),
    )
    op.create_index(op.f("ix_role_requests_user_id"), "role_requests", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_role_requests_user_id"), table_name="role_requests")
    op.drop_table("role_requests")
    op.drop_index(op.f("ix_password_resets_user_id"), table_name="password_resets")
    op.drop_table("password_resets")
