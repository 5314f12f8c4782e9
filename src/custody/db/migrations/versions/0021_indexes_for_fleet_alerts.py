"""the fleet's alerts find their cameras by index

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-02 01:30:00.000000

The fleet's alerts counted and ordered every camera by a scan of all of them: an issued
camera's last docking, a camera's model and firmware, and its status are indexed together,
so that those out too long, out of service or running old firmware are found by range.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CAMERA_INDEXES = {
    "ix_cameras_status_docked": ["status", "last_docked_at", "status_changed_at"],
    "ix_cameras_model_firmware": ["model", "firmware", "status"],
}


def upgrade() -> None:
    for name, columns in CAMERA_INDEXES.items():
        op.create_index(name, "cameras", columns, unique=False)


def downgrade() -> None:
    for name in CAMERA_INDEXES:
        op.drop_index(name, table_name="cameras")
