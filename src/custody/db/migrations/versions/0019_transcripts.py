"""transcripts: what was said in a recording, versions kept, searchable

transcripts: the machine's transcript (version 1) and each person's correction (the next).
The full-text index: an FTS5 table on SQLite, a generated tsvector column with a GIN index
over current versions on PostgreSQL (custody.db.search_index).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types
from custody.db import search_index

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transcripts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("corrects", sa.Integer(), nullable=True),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("original_sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("silent_until", sa.Float(), nullable=False),
        sa.Column("model_name", sa.String(length=120), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("made_by", sa.String(length=160), nullable=False),
        sa.Column("made_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("audio_seconds", sa.Float(), nullable=True),
        sa.Column("compute_seconds", sa.Float(), nullable=True),
        sa.Column("words", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_transcripts_recording_id_recordings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcripts")),
        sa.UniqueConstraint("recording_id", "version", name=op.f("uq_transcripts_recording_id")),
    )
    op.create_index("ix_transcripts_recording_current", "transcripts", ["recording_id", "current"])
    search_index.create(op.get_bind())


def downgrade() -> None:
    search_index.drop(op.get_bind())
    op.drop_index("ix_transcripts_recording_current", table_name="transcripts")
    op.drop_table("transcripts")
