"""auditor tools: verifications run from the portal, and the search by person

audit_verifications: a check of the whole log asked for in the portal, with progress.
ix_audit_events_actor_seq: the auditor's search by person, newest first.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=160), nullable=False),
        sa.Column("requested_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("checkpoints", sa.Integer(), nullable=False),
        sa.Column("intact", sa.Boolean(), nullable=True),
        sa.Column("fault", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verifications")),
    )
    op.create_index("ix_audit_events_actor_seq", "audit_events", ["actor", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_events_actor_seq", table_name="audit_events")
    op.drop_table("audit_verifications")
