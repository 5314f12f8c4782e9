"""Merge the lifecycle, identity/audit, fleet and previews branches into one history.

Revision ID: 0005
Revises: 0003, 0004, 0004_previews
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | tuple[str, ...] | None = ("0003", "0004", "0004_previews")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
