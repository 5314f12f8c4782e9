"""disclosure: clips and the case's disclosure schedule

clips: new objects cut from a recording, linked to the original by its SHA-256.
schedule_items: each recording or clip of a case marked as an exhibit (with a
reference unique in the case) or as unused material, sensitive or not.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clips",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("original_sha256", sa.String(length=64), nullable=False),
        sa.Column("in_seconds", sa.Float(), nullable=False),
        sa.Column("out_seconds", sa.Float(), nullable=False),
        sa.Column("cut_start_seconds", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("made_by", sa.String(length=160), nullable=False),
        sa.Column("made_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_clips_recording_id_recordings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clips")),
    )
    op.create_index(op.f("ix_clips_recording_id"), "clips", ["recording_id"], unique=False)
    op.create_index(op.f("ix_clips_sha256"), "clips", ["sha256"], unique=False)
    op.create_table(
        "schedule_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("clip_id", sa.String(length=36), nullable=True),
        sa.Column("use", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("marked_by", sa.String(length=160), nullable=False),
        sa.Column("marked_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_schedule_items_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["clip_id"], ["clips.id"], name=op.f("fk_schedule_items_clip_id_clips")
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_schedule_items_recording_id_recordings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_items")),
        sa.UniqueConstraint("case_id", "reference", name="uq_schedule_items_case_reference"),
    )
    op.create_index(op.f("ix_schedule_items_clip_id"), "schedule_items", ["clip_id"], unique=False)
    op.create_index(
        "ix_schedule_items_case_recording",
        "schedule_items",
        ["case_id", "recording_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_schedule_items_case_recording", table_name="schedule_items")
    op.drop_index(op.f("ix_schedule_items_clip_id"), table_name="schedule_items")
    op.drop_table("schedule_items")
    op.drop_index(op.f("ix_clips_sha256"), table_name="clips")
    op.drop_index(op.f("ix_clips_recording_id"), table_name="clips")
    op.drop_table("clips")
