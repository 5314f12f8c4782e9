"""indexes for a force's footage: listings, retention counts and the fleet page

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 19:10:00.000000

With a million recordings a page must be answered from an index: an officer's and a
team's footage in docking order, retention's due lists covering state, access class and
officer (so counting never reads the rows), cameras by the dock they last docked at, and a
camera's latest dock report.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDING_INDEXES = {
    "ix_recordings_officer_stored": ["officer_id", "stored_at"],
    "ix_recordings_stored": ["stored_at"],
    "ix_recordings_due_cover": ["delete_due_at", "state", "access_class", "officer_id"],
    "ix_recordings_seen_due_cover": ["seen_delete_due_at", "state", "access_class", "officer_id"],
}


# Widened to cover the state and access class that listings and their counts filter on.
OFFICER_STARTED = "ix_recordings_officer_started"


def upgrade() -> None:
    op.drop_index(OFFICER_STARTED, table_name="recordings")
    op.create_index(
        OFFICER_STARTED, "recordings", ["officer_id", "started_at", "state", "access_class"]
    )
    for name, columns in RECORDING_INDEXES.items():
        op.create_index(name, "recordings", columns, unique=False)
    op.create_index(op.f("ix_cameras_last_dock_id"), "cameras", ["last_dock_id"], unique=False)
    op.create_index(
        "ix_camera_reports_camera_reported",
        "camera_reports",
        ["camera_id", "reported_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_camera_reports_camera_reported", table_name="camera_reports")
    op.drop_index(op.f("ix_cameras_last_dock_id"), table_name="cameras")
    for name in reversed(RECORDING_INDEXES):
        op.drop_index(name, table_name="recordings")
    op.drop_index(OFFICER_STARTED, table_name="recordings")
    op.create_index(OFFICER_STARTED, "recordings", ["officer_id", "started_at"])
