"""fleet: officers' cards, pool cameras, assignment history, roll-out phases

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26 10:12:00.000000

Cameras issued before this migration get their issue written into the history: an
open personal assignment from their registration, so that the officer behind their
recordings can still be established. Their borough is their officer's unit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("ended_at IS NULL")


def upgrade() -> None:
    # Only ADD COLUMN and CREATE INDEX on existing tables: SQLite does both in place, so
    # batch mode never has to copy the cameras table that recordings refer to.
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_officers_card_id"), ["card_id"], unique=True)

    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pool", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("borough", sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column(
                "status_changed_at", custody.db.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index("ix_cameras_borough_status", ["borough", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cameras_last_docked_at"), ["last_docked_at"], unique=False
        )

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
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_camera_assignments_officer_id_officers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_assignments")),
    )
    with op.batch_alter_table("camera_assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_camera_assignments_camera_started", ["camera_id", "started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_camera_assignments_officer_id"), ["officer_id"], unique=False
        )
        # At most one open assignment per camera: two docks checking out one camera at
        # once cannot both win.
        batch_op.create_index(
            "uq_camera_assignments_open",
            ["camera_id"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )

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

    op.execute("UPDATE cameras SET status_changed_at = registered_at")
    op.execute(
        "UPDATE cameras SET borough = "
        "(SELECT officers.unit FROM officers WHERE officers.id = cameras.officer_id) "
        "WHERE officer_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO camera_assignments (camera_id, officer_id, kind, started_at, started_by) "
        "SELECT id, officer_id, 'personal', registered_at, 'system:migration' "
        "FROM cameras WHERE officer_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("rollout_phases")
    with op.batch_alter_table("camera_assignments", schema=None) as batch_op:
        batch_op.drop_index("uq_camera_assignments_open")
        batch_op.drop_index(batch_op.f("ix_camera_assignments_officer_id"))
        batch_op.drop_index("ix_camera_assignments_camera_started")
    op.drop_table("camera_assignments")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameras_last_docked_at"))
        batch_op.drop_index("ix_cameras_borough_status")
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("borough")
        batch_op.drop_column("pool")
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officers_card_id"))
        batch_op.drop_column("card_id")
