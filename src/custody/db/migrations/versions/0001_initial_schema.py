"""initial schema: every table of custody.db.models, the audit chain's head, default categories

Revision ID: 0001
Revises:
Create Date: 2026-12-01 15:20:00.000000

One migration for the whole schema, squashed before anything was deployed. From here on
each change is one new revision on a single line: `custody.db.migrate.upgrade` targets
`head`, so a second branch fails loudly instead of being merged in silence.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("signed_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(length=120), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("size", name=op.f("uq_audit_checkpoints_size")),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tag", sa.String(length=120), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=True),
        sa.Column("object_id", sa.String(length=80), nullable=True),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"], unique=False)
    op.create_index(op.f("ix_audit_events_object_id"), "audit_events", ["object_id"], unique=False)
    op.create_index(op.f("ix_audit_events_tag"), "audit_events", ["tag"], unique=False)
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The chain's head exists from the start, so that appending only ever locks and updates it.
    op.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')")
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("review_days", sa.Integer(), nullable=True),
        sa.Column("access_class", sa.String(length=16), nullable=False),
        sa.Column("evidential", sa.Boolean(), nullable=False),
        sa.Column("assignable", sa.Boolean(), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_categories_name")),
    )
    _seed_categories()
    op.create_table(
        "docks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("station", sa.String(length=120), nullable=False),
        sa.Column("bays", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_docks")),
        sa.UniqueConstraint("name", name=op.f("uq_docks_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_docks_token_hash")),
    )
    op.create_table(
        "officers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warrant_number", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rank", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=120), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("card_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officers")),
        sa.UniqueConstraint("warrant_number", name=op.f("uq_officers_warrant_number")),
    )
    op.create_index(op.f("ix_officers_card_id"), "officers", ["card_id"], unique=True)
    op.create_index(op.f("ix_officers_unit"), "officers", ["unit"], unique=False)
    op.create_table(
        "rollout_phases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borough", sa.String(length=120), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_phases")),
        sa.UniqueConstraint("borough", name=op.f("uq_rollout_phases_borough")),
    )
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
    )
    op.create_index(
        "ix_sign_in_attempts_address_at", "sign_in_attempts", ["address", "at"], unique=False
    )
    op.create_index(op.f("ix_sign_in_attempts_at"), "sign_in_attempts", ["at"], unique=False)
    op.create_index(
        "ix_sign_in_attempts_username_at", "sign_in_attempts", ["username", "at"], unique=False
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("firmware", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("registered_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_docked_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_dock_id", sa.Integer(), nullable=True),
        sa.Column("battery_percent", sa.Integer(), nullable=True),
        sa.Column("free_bytes", sa.BigInteger(), nullable=True),
        sa.Column("pool", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("borough", sa.String(length=120), nullable=True),
        sa.Column("status_changed_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_dock_id"], ["docks.id"], name=op.f("fk_cameras_last_dock_id_docks")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_cameras_officer_id_officers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("serial", name=op.f("uq_cameras_serial")),
    )
    op.create_index("ix_cameras_borough_status", "cameras", ["borough", "status"], unique=False)
    op.create_index(op.f("ix_cameras_last_docked_at"), "cameras", ["last_docked_at"], unique=False)
    op.create_index(op.f("ix_cameras_officer_id"), "cameras", ["officer_id"], unique=False)
    op.create_table(
        "ingest_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=True),
        sa.Column("camera_serial", sa.String(length=64), nullable=True),
        sa.Column("dock_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raised_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dock_id"], ["docks.id"], name=op.f("fk_ingest_flags_dock_id_docks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_flags")),
    )
    op.create_index(op.f("ix_ingest_flags_kind"), "ingest_flags", ["kind"], unique=False)
    op.create_index(
        op.f("ix_ingest_flags_recording_id"), "ingest_flags", ["recording_id"], unique=False
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("unit", sa.String(length=120), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("external_issuer", sa.String(length=300), nullable=True),
        sa.Column("external_subject", sa.String(length=300), nullable=True),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_users_officer_id_officers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint(
            "external_issuer", "external_subject", name=op.f("uq_users_external_issuer")
        ),
        sa.UniqueConstraint("officer_id", name=op.f("uq_users_officer_id")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "camera_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=160), nullable=False),
        sa.Column("dock_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=160), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_camera_assignments_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(
            ["dock_id"], ["docks.id"], name=op.f("fk_camera_assignments_dock_id_docks")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_camera_assignments_officer_id_officers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_assignments")),
    )
    op.create_index(
        "ix_camera_assignments_camera_started",
        "camera_assignments",
        ["camera_id", "started_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_camera_assignments_officer_id"), "camera_assignments", ["officer_id"], unique=False
    )
    # At most one open assignment per camera: two docks checking out one camera at once
    # cannot both win.
    op.create_index(
        "uq_camera_assignments_open",
        "camera_assignments",
        ["camera_id"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "camera_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("dock_id", sa.Integer(), nullable=False),
        sa.Column("bay", sa.String(length=200), nullable=False),
        sa.Column("battery_percent", sa.Integer(), nullable=True),
        sa.Column("free_bytes", sa.BigInteger(), nullable=True),
        sa.Column("firmware", sa.String(length=64), nullable=True),
        sa.Column("recordings_waiting", sa.Integer(), nullable=False),
        sa.Column("reported_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_camera_reports_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(
            ["dock_id"], ["docks.id"], name=op.f("fk_camera_reports_dock_id_docks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_reports")),
    )
    op.create_index(
        op.f("ix_camera_reports_camera_id"), "camera_reports", ["camera_id"], unique=False
    )
    op.create_index(
        op.f("ix_camera_reports_reported_at"), "camera_reports", ["reported_at"], unique=False
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("officer_in_case_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disposal_days", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=160), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["officer_in_case_id"], ["users.id"], name=op.f("fk_cases_officer_in_case_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_cases_reference")),
    )
    op.create_index(
        op.f("ix_cases_officer_in_case_id"), "cases", ["officer_in_case_id"], unique=False
    )
    op.create_index(op.f("ix_cases_status"), "cases", ["status"], unique=False)
    op.create_table(
        "manifests",
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("received_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dock_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_manifests_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(["dock_id"], ["docks.id"], name=op.f("fk_manifests_dock_id_docks")),
        sa.PrimaryKeyConstraint("recording_id", name=op.f("pk_manifests")),
    )
    op.create_index(op.f("ix_manifests_camera_id"), "manifests", ["camera_id"], unique=False)
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("dock_id", sa.Integer(), nullable=True),
        sa.Column("started_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pre_event_seconds", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("stored_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("manifest_document", sa.Text(), nullable=False),
        sa.Column("receipt_document", sa.Text(), nullable=False),
        sa.Column("gps_track", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("media_error", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("video_codec", sa.String(length=32), nullable=True),
        sa.Column("audio_codec", sa.String(length=32), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("thumbnail_sha256", sa.String(length=64), nullable=True),
        sa.Column("preview_sha256", sa.String(length=64), nullable=True),
        sa.Column("probed_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("access_class", sa.String(length=16), server_default="normal", nullable=False),
        sa.Column("delete_due_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_due_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retention_rule", sa.String(length=160), nullable=True),
        sa.Column(
            "deletion_not_before", custody.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("seen_delete_due_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("seen_review_due_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("seen_not_before", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_reviewed_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deletion_certificate", sa.Text(), nullable=True),
        sa.Column("purged_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_recordings_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(
            ["dock_id"], ["docks.id"], name=op.f("fk_recordings_dock_id_docks")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_recordings_officer_id_officers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
    )
    op.create_index(
        "ix_recordings_camera_started", "recordings", ["camera_id", "started_at"], unique=False
    )
    op.create_index(
        op.f("ix_recordings_delete_due_at"), "recordings", ["delete_due_at"], unique=False
    )
    op.create_index(
        "ix_recordings_officer_started", "recordings", ["officer_id", "started_at"], unique=False
    )
    op.create_index(
        op.f("ix_recordings_preview_sha256"), "recordings", ["preview_sha256"], unique=False
    )
    op.create_index(op.f("ix_recordings_reference"), "recordings", ["reference"], unique=False)
    op.create_index(
        op.f("ix_recordings_retention_rule"), "recordings", ["retention_rule"], unique=False
    )
    op.create_index(
        op.f("ix_recordings_review_due_at"), "recordings", ["review_due_at"], unique=False
    )
    op.create_index(
        op.f("ix_recordings_seen_delete_due_at"), "recordings", ["seen_delete_due_at"], unique=False
    )
    op.create_index(
        op.f("ix_recordings_seen_review_due_at"), "recordings", ["seen_review_due_at"], unique=False
    )
    op.create_index(op.f("ix_recordings_sha256"), "recordings", ["sha256"], unique=False)
    op.create_index(op.f("ix_recordings_started_at"), "recordings", ["started_at"], unique=False)
    op.create_index(op.f("ix_recordings_state"), "recordings", ["state"], unique=False)
    op.create_index(
        "ix_recordings_state_purged", "recordings", ["state", "purged_at"], unique=False
    )
    op.create_index(
        op.f("ix_recordings_thumbnail_sha256"), "recordings", ["thumbnail_sha256"], unique=False
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"], unique=False)
    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at_seconds", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=160), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=160), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_annotations_recording_id_recordings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotations")),
    )
    op.create_index(
        op.f("ix_annotations_recording_id"), "annotations", ["recording_id"], unique=False
    )
    op.create_table(
        "case_members",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(length=160), nullable=False),
        sa.Column("added_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_members_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_case_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("case_id", "user_id", name=op.f("pk_case_members")),
    )
    op.create_index(op.f("ix_case_members_user_id"), "case_members", ["user_id"], unique=False)
    op.create_table(
        "case_recordings",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("added_by", sa.String(length=160), nullable=False),
        sa.Column("added_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_recordings_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_case_recordings_recording_id_recordings"),
        ),
        sa.PrimaryKeyConstraint("case_id", "recording_id", name=op.f("pk_case_recordings")),
    )
    op.create_index(
        op.f("ix_case_recordings_recording_id"), "case_recordings", ["recording_id"], unique=False
    )
    op.create_table(
        "evidence_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("flagged_by", sa.String(length=160), nullable=False),
        sa.Column("flagged_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=160), nullable=True),
        sa.Column("clear_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_evidence_flags_recording_id_recordings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_flags")),
    )
    op.create_index(
        "ix_evidence_flags_recording_cleared",
        "evidence_flags",
        ["recording_id", "cleared_at"],
        unique=False,
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("concerns_officer_id", sa.Integer(), nullable=True),
        sa.Column("placed_by", sa.String(length=160), nullable=False),
        sa.Column("placed_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=160), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["concerns_officer_id"],
            ["officers.id"],
            name=op.f("fk_holds_concerns_officer_id_officers"),
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_holds_recording_id_recordings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    op.create_index(
        op.f("ix_holds_concerns_officer_id"), "holds", ["concerns_officer_id"], unique=False
    )
    op.create_index(
        "ix_holds_recording_lifted", "holds", ["recording_id", "lifted_at"], unique=False
    )
    op.create_table(
        "recording_categories",
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.String(length=160), nullable=False),
        sa.Column("assigned_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_recording_categories_category_id_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_recording_categories_recording_id_recordings"),
        ),
        sa.PrimaryKeyConstraint(
            "recording_id", "category_id", name=op.f("pk_recording_categories")
        ),
    )
    op.create_index(
        op.f("ix_recording_categories_category_id"),
        "recording_categories",
        ["category_id"],
        unique=False,
    )
    op.create_table(
        "recording_tags",
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_recording_tags_recording_id_recordings"),
        ),
        sa.PrimaryKeyConstraint("recording_id", "tag", name=op.f("pk_recording_tags")),
    )
    op.create_index(op.f("ix_recording_tags_tag"), "recording_tags", ["tag"], unique=False)
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("dock_id", sa.Integer(), nullable=True),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("metadata_text", sa.Text(), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["dock_id"], ["docks.id"], name=op.f("fk_uploads_dock_id_docks")),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["manifests.recording_id"],
            name=op.f("fk_uploads_recording_id_manifests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    op.create_index(op.f("ix_uploads_recording_id"), "uploads", ["recording_id"], unique=False)
    op.create_index(op.f("ix_uploads_state"), "uploads", ["state"], unique=False)


# The categories a force starts with, frozen as of this revision (docs/retention.md): a later
# change to custody.domain.categories must not rewrite what this migration did. A test checks
# that they still match custody.domain.categories.DEFAULT_CATEGORIES.
DEFAULT_CATEGORIES = [
    # name, retention_days, review_days, access_class, evidential, assignable, description
    (
        "Uncategorised",
        31,
        None,
        "normal",
        False,
        False,
        "Footage nobody has categorised yet; deleted within 31 days of recording.",
    ),
    (
        "Non-evidential",
        31,
        None,
        "normal",
        False,
        True,
        "Not needed for evidence or a policing purpose; deleted within 31 days.",
    ),
    (
        "Stop and search",
        365,
        180,
        "normal",
        True,
        True,
        "A stop or a stop and search with no further action; open to scrutiny panels for a year.",
    ),
    (
        "Road traffic",
        3 * 365,
        365,
        "normal",
        True,
        True,
        "Collisions and traffic offences: long enough for prosecutions and civil claims.",
    ),
    (
        "Public order",
        6 * 365,
        2 * 365,
        "normal",
        True,
        True,
        "Public order incidents and offences.",
    ),
    (
        "Arrest",
        7 * 365,
        2 * 365,
        "normal",
        True,
        True,
        "An arrest: kept through charge, trial and appeal.",
    ),
    (
        "Use of force",
        None,
        2 * 365,
        "restricted",
        True,
        True,
        "Any use of force: kept until a reviewer decides, restricted.",
    ),
    (
        "Domestic abuse",
        None,
        2 * 365,
        "restricted",
        True,
        True,
        "Domestic abuse incidents: victims' footage, restricted, reviewed.",
    ),
    (
        "Complaint",
        None,
        365,
        "confidential",
        True,
        True,
        "Footage a complaint concerns: for professional standards and its case team only.",
    ),
]


def _seed_categories() -> None:
    table = sa.table(
        "categories",
        sa.column("name", sa.String()),
        sa.column("description", sa.Text()),
        sa.column("retention_days", sa.Integer()),
        sa.column("review_days", sa.Integer()),
        sa.column("access_class", sa.String()),
        sa.column("evidential", sa.Boolean()),
        sa.column("assignable", sa.Boolean()),
        sa.column("created_at", custody.db.types.UTCDateTime()),
        sa.column("updated_at", custody.db.types.UTCDateTime()),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {
                "name": name,
                "description": description,
                "retention_days": retention,
                "review_days": review,
                "access_class": access,
                "evidential": evidential,
                "assignable": assignable,
                "created_at": now,
                "updated_at": now,
            }
            for (name, retention, review, access, evidential, assignable, description) in (
                DEFAULT_CATEGORIES
            )
        ],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_uploads_state"), table_name="uploads")
    op.drop_index(op.f("ix_uploads_recording_id"), table_name="uploads")
    op.drop_table("uploads")
    op.drop_index(op.f("ix_recording_tags_tag"), table_name="recording_tags")
    op.drop_table("recording_tags")
    op.drop_index(op.f("ix_recording_categories_category_id"), table_name="recording_categories")
    op.drop_table("recording_categories")
    op.drop_index("ix_holds_recording_lifted", table_name="holds")
    op.drop_index(op.f("ix_holds_concerns_officer_id"), table_name="holds")
    op.drop_table("holds")
    op.drop_index("ix_evidence_flags_recording_cleared", table_name="evidence_flags")
    op.drop_table("evidence_flags")
    op.drop_index(op.f("ix_case_recordings_recording_id"), table_name="case_recordings")
    op.drop_table("case_recordings")
    op.drop_index(op.f("ix_case_members_user_id"), table_name="case_members")
    op.drop_table("case_members")
    op.drop_index(op.f("ix_annotations_recording_id"), table_name="annotations")
    op.drop_table("annotations")
    op.drop_index(op.f("ix_user_sessions_user_id"), table_name="user_sessions")
    op.drop_table("user_sessions")
    op.drop_index(op.f("ix_recordings_thumbnail_sha256"), table_name="recordings")
    op.drop_index("ix_recordings_state_purged", table_name="recordings")
    op.drop_index(op.f("ix_recordings_state"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_started_at"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_sha256"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_seen_review_due_at"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_seen_delete_due_at"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_review_due_at"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_retention_rule"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_reference"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_preview_sha256"), table_name="recordings")
    op.drop_index("ix_recordings_officer_started", table_name="recordings")
    op.drop_index(op.f("ix_recordings_delete_due_at"), table_name="recordings")
    op.drop_index("ix_recordings_camera_started", table_name="recordings")
    op.drop_table("recordings")
    op.drop_index(op.f("ix_manifests_camera_id"), table_name="manifests")
    op.drop_table("manifests")
    op.drop_index(op.f("ix_cases_status"), table_name="cases")
    op.drop_index(op.f("ix_cases_officer_in_case_id"), table_name="cases")
    op.drop_table("cases")
    op.drop_index(op.f("ix_camera_reports_reported_at"), table_name="camera_reports")
    op.drop_index(op.f("ix_camera_reports_camera_id"), table_name="camera_reports")
    op.drop_table("camera_reports")
    op.drop_index(
        "uq_camera_assignments_open",
        table_name="camera_assignments",
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.drop_index(op.f("ix_camera_assignments_officer_id"), table_name="camera_assignments")
    op.drop_index("ix_camera_assignments_camera_started", table_name="camera_assignments")
    op.drop_table("camera_assignments")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_index(op.f("ix_ingest_flags_recording_id"), table_name="ingest_flags")
    op.drop_index(op.f("ix_ingest_flags_kind"), table_name="ingest_flags")
    op.drop_table("ingest_flags")
    op.drop_index(op.f("ix_cameras_officer_id"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_last_docked_at"), table_name="cameras")
    op.drop_index("ix_cameras_borough_status", table_name="cameras")
    op.drop_table("cameras")
    op.drop_index("ix_sign_in_attempts_username_at", table_name="sign_in_attempts")
    op.drop_index(op.f("ix_sign_in_attempts_at"), table_name="sign_in_attempts")
    op.drop_index("ix_sign_in_attempts_address_at", table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
    op.drop_table("rollout_phases")
    op.drop_index(op.f("ix_officers_unit"), table_name="officers")
    op.drop_index(op.f("ix_officers_card_id"), table_name="officers")
    op.drop_table("officers")
    op.drop_table("docks")
    op.drop_table("categories")
    op.drop_table("audit_head")
    op.drop_index(op.f("ix_audit_events_tag"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_object_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_at"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("audit_checkpoints")
