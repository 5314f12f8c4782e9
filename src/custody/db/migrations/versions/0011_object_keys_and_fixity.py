"""object keys and fixity: each object's wrapped data key, and its last fixity check

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:20:00.000000

Encryption at rest keeps every object's data key, wrapped by a key-encryption key held
outside the database, in `object_keys` (deleting a row shreds every copy of the object);
fixity keeps when each object was last read back whole and matched its SHA-256.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "object_keys",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kek_id", sa.String(length=200), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(length=256), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_object_keys")),
    )
    op.create_table(
        "fixity_checks",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("checked_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("intact_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_fixity_checks")),
    )
    op.create_index(
        op.f("ix_fixity_checks_checked_at"), "fixity_checks", ["checked_at"], unique=False
    )
    op.create_index(op.f("ix_fixity_checks_outcome"), "fixity_checks", ["outcome"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_fixity_checks_outcome"), table_name="fixity_checks")
    op.drop_index(op.f("ix_fixity_checks_checked_at"), table_name="fixity_checks")
    op.drop_table("fixity_checks")
    op.drop_table("object_keys")
