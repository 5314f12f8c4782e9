"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types
${imports if imports else ""}
revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}

# Migrations form one line: revise the current head, never branch (upgrade targets `head`).
# On PostgreSQL a statement may wait 4 s for a lock and run 5 s (migrations/env.py). A step
# that needs longer says so in its own transaction, on PostgreSQL only:
#     if op.get_bind().dialect.name == "postgresql":
#         op.execute("SET LOCAL statement_timeout = '60s'")


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
