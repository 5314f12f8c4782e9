"""object locks, fixity cursor, sealing, key rotations: what the store work keeps

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:50:00.000000

The Object Lock Custody last set on each object (so the daily renewal tells the store only
what is due or changed), where the periodic fixity walk stands (so it resumes), the flag
of an object whose sealing in place has begun, and the rotations of the key-encryption key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "object_locks",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("retain_until", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hold", sa.Boolean(), nullable=False),
        sa.Column("set_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_object_locks")),
    )
    op.create_index(
        op.f("ix_object_locks_retain_until"), "object_locks", ["retain_until"], unique=False
    )
    op.create_table(
        "fixity_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("after", sa.String(length=64), nullable=False),
        sa.Column("cycle_started_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cycles_done", sa.BigInteger(), nullable=False),
        sa.Column("last_cycle_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_fixity_cursors")),
    )
    op.create_table(
        "kek_rotations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("from_kek", sa.String(length=200), nullable=False),
        sa.Column("to_kek", sa.String(length=200), nullable=False),
        sa.Column("started_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rewrapped", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kek_rotations")),
    )
    with op.batch_alter_table("object_keys") as batch:
        batch.add_column(
            sa.Column("resealing", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("object_keys") as batch:
        batch.drop_column("resealing")
    op.drop_table("kek_rotations")
    op.drop_table("fixity_cursors")
    op.drop_index(op.f("ix_object_locks_retain_until"), table_name="object_locks")
    op.drop_table("object_locks")
