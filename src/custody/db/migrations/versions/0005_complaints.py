"""complaints: professional standards' complaints, which hold footage docked later too

complaints and complaint_officers; holds.complaint_id names the complaint that placed a
hold, so that closing the complaint lifts exactly its holds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("since", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("until", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=160), nullable=False),
        sa.Column("registered_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=160), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("reference", name=op.f("uq_complaints_reference")),
    )
    op.create_index(op.f("ix_complaints_closed_at"), "complaints", ["closed_at"], unique=False)
    op.create_table(
        "complaint_officers",
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_officers_complaint_id_complaints"),
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_complaint_officers_officer_id_officers")
        ),
        sa.PrimaryKeyConstraint("complaint_id", "officer_id", name=op.f("pk_complaint_officers")),
    )
    op.create_index(
        op.f("ix_complaint_officers_officer_id"),
        "complaint_officers",
        ["officer_id"],
        unique=False,
    )
    # Batch: SQLite adds a column with a foreign key only by rebuilding the table.
    with op.batch_alter_table("holds") as batch:
        batch.add_column(sa.Column("complaint_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_holds_complaint_id_complaints"), "complaints", ["complaint_id"], ["id"]
        )
        batch.create_index(op.f("ix_holds_complaint_id"), ["complaint_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("holds") as batch:
        batch.drop_index(op.f("ix_holds_complaint_id"))
        batch.drop_constraint(op.f("fk_holds_complaint_id_complaints"), type_="foreignkey")
        batch.drop_column("complaint_id")
    op.drop_index(op.f("ix_complaint_officers_officer_id"), table_name="complaint_officers")
    op.drop_table("complaint_officers")
    op.drop_index(op.f("ix_complaints_closed_at"), table_name="complaints")
    op.drop_table("complaints")
