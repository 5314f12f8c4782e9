"""previews: a strip of frames along each recording's timeline, for the review portal

Revision ID: 0004_previews
Revises: 0002
Create Date: 2026-11-26 10:00:00.000000

The strip is an object in the store like the thumbnail; the deletion sweep removes every
`*_sha256` object of a recording, this one included. Existing recordings get their strip
when someone first opens them in the portal.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_previews"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preview_sha256", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_recordings_preview_sha256"), ["preview_sha256"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordings_preview_sha256"))
        batch_op.drop_column("preview_sha256")
