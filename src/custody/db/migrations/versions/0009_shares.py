"""disclosure: shares with people outside the force

shares: a case's exhibits sent to a named recipient by a link whose token is kept hashed,
with its expiry, revocation, download rules and the one-time code last sent.
share_items: what each share holds, with the SHA-256 of the bytes shared.
share_sessions: a recipient's session, for one share only.
delivery_receipts: the recipient's signed acknowledgement, kept on the case.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 18:56:27.706407
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations form one line: revise the current head, never branch (upgrade targets `head`).
# On PostgreSQL a statement may wait 4 s for a lock and run 5 s (migrations/env.py). A step
# that needs longer says so in its own transaction, on PostgreSQL only:
#     if op.get_bind().dialect.name == "postgresql":
#         op.execute("SET LOCAL statement_timeout = '60s'")


def upgrade() -> None:
    op.create_table(
        "shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("recipient_email", sa.String(length=254), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("downloads_allowed", sa.Boolean(), nullable=False),
        sa.Column("download_limit", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expired_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=160), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_sent_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("code_expires_at", custody.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("code_failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_shares_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shares")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_shares_token_hash")),
    )
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shares_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_shares_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "delivery_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("share_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_delivery_receipts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["share_id"], ["shares.id"], name=op.f("fk_delivery_receipts_share_id_shares")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_receipts")),
    )
    with op.batch_alter_table("delivery_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_receipts_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_delivery_receipts_share_id"), ["share_id"], unique=False
        )

    op.create_table(
        "share_sessions",
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("share_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", custody.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["share_id"], ["shares.id"], name=op.f("fk_share_sessions_share_id_shares")
        ),
        sa.PrimaryKeyConstraint("secret_hash", name=op.f("pk_share_sessions")),
    )
    with op.batch_alter_table("share_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_sessions_share_id"), ["share_id"], unique=False)

    op.create_table(
        "share_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("share_id", sa.Integer(), nullable=False),
        sa.Column("schedule_item_id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("clip_id", sa.String(length=36), nullable=True),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clip_id"], ["clips.id"], name=op.f("fk_share_items_clip_id_clips")
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_share_items_recording_id_recordings")
        ),
        sa.ForeignKeyConstraint(
            ["schedule_item_id"],
            ["schedule_items.id"],
            name=op.f("fk_share_items_schedule_item_id_schedule_items"),
        ),
        sa.ForeignKeyConstraint(
            ["share_id"], ["shares.id"], name=op.f("fk_share_items_share_id_shares")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_items")),
    )
    with op.batch_alter_table("share_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_share_items_recording_id"), ["recording_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_share_items_share_id"), ["share_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("share_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_items_share_id"))
        batch_op.drop_index(batch_op.f("ix_share_items_recording_id"))

    op.drop_table("share_items")
    with op.batch_alter_table("share_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_sessions_share_id"))

    op.drop_table("share_sessions")
    with op.batch_alter_table("delivery_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_receipts_share_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_receipts_case_id"))

    op.drop_table("delivery_receipts")
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shares_expires_at"))
        batch_op.drop_index(batch_op.f("ix_shares_case_id"))

    op.drop_table("shares")
