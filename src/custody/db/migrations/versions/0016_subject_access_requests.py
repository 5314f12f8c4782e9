"""subject access requests: a person's request for their footage, and what it holds

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 22:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subject_access_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("requester_name", sa.String(length=200), nullable=False),
        sa.Column("requester_email", sa.String(length=254), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("extension_months", sa.Integer(), nullable=False),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("registered_by", sa.String(length=160), nullable=False),
        sa.Column("registered_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=160), nullable=True),
        sa.Column("approved_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("share_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=160), nullable=True),
        sa.Column("close_record", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_access_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_subject_access_requests_reference")),
    )
    op.create_index(
        op.f("ix_subject_access_requests_closed_at"),
        "subject_access_requests",
        ["closed_at"],
        unique=False,
    )
    op.create_table(
        "subject_access_items",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("redaction", sa.String(length=32), nullable=False),
        sa.Column("redacted_sha256", sa.String(length=64), nullable=True),
        sa.Column("marked_by", sa.String(length=160), nullable=True),
        sa.Column("attached_by", sa.String(length=160), nullable=False),
        sa.Column("attached_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["subject_access_requests.id"],
            name=op.f("fk_subject_access_items_request_id_subject_access_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_subject_access_items_recording_id_recordings"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["holds.id"], name=op.f("fk_subject_access_items_hold_id_holds")
        ),
        sa.PrimaryKeyConstraint("request_id", "recording_id", name=op.f("pk_subject_access_items")),
    )


def downgrade() -> None:
    op.drop_table("subject_access_items")
    op.drop_index(
        op.f("ix_subject_access_requests_closed_at"), table_name="subject_access_requests"
    )
    op.drop_table("subject_access_requests")
