"""redaction: face scans and redacted copies

face_scans: faces found and followed in a recording by a background job.
redactions: a redacted copy (a new object) and its record, approved by a second person.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 21:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "face_scans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("original_sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("model_name", sa.String(length=120), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=160), nullable=False),
        sa.Column("requested_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("frame_count", sa.Integer(), nullable=True),
        sa.Column("tracks", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_face_scans_recording_id_recordings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_scans")),
    )
    op.create_index(op.f("ix_face_scans_recording_id"), "face_scans", ["recording_id"])
    op.create_table(
        "redactions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("scan_id", sa.String(length=36), nullable=True),
        sa.Column("original_sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=160), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("record_sha256", sa.String(length=64), nullable=True),
        sa.Column("approved_by", sa.String(length=160), nullable=True),
        sa.Column("approved_by_user_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_redactions_recording_id_recordings")
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["face_scans.id"], name=op.f("fk_redactions_scan_id_face_scans")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["users.id"],
            name=op.f("fk_redactions_requested_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_user_id"],
            ["users.id"],
            name=op.f("fk_redactions_approved_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redactions")),
    )
    op.create_index(op.f("ix_redactions_recording_id"), "redactions", ["recording_id"])
    op.create_index(op.f("ix_redactions_sha256"), "redactions", ["sha256"])


def downgrade() -> None:
    op.drop_index(op.f("ix_redactions_sha256"), table_name="redactions")
    op.drop_index(op.f("ix_redactions_recording_id"), table_name="redactions")
    op.drop_table("redactions")
    op.drop_index(op.f("ix_face_scans_recording_id"), table_name="face_scans")
    op.drop_table("face_scans")
