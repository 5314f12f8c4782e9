"""audit log that scales: pending events, a stored Merkle tree, incremental verification

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 22:00:00.000000

Writers now commit audited events as `audit_pending` rows, with no shared lock; the
sequencer chains them into `audit_events` and stores the complete subtrees of the RFC 6962
tree in `audit_tree_nodes`, so that proofs read O(log n) nodes instead of every leaf.
The events already in the log keep their sequence numbers and hashes (the chain and every
signed checkpoint stay valid); their tree nodes are computed here from their chain hashes.
A verification records how far it got, so that the next can start there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import custody.db.types
from custody.domain import merkle

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVEL_SHIFT = 48  # custody.audit.sequencer.LEVEL_SHIFT, fixed by the stored ids
PAGE = 10_000


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
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
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_pending")),
    )
    nodes = op.create_table(
        "audit_tree_nodes",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_tree_nodes")),
    )
    op.add_column("audit_events", sa.Column("entry_id", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_audit_events_entry_id"), "audit_events", ["entry_id"], unique=False)
    op.add_column("audit_verifications", sa.Column("size", sa.BigInteger(), nullable=True))
    op.add_column(
        "audit_verifications", sa.Column("head_hash", sa.String(length=64), nullable=True)
    )
    op.add_column("audit_verifications", sa.Column("checkpoint_id", sa.Integer(), nullable=True))
    _store_tree(nodes)


def _store_tree(nodes: sa.Table) -> None:
    """The tree nodes of the events already chained, from their hashes, a page at a time."""
    connection = op.get_bind()
    events = sa.table("audit_events", sa.column("seq", sa.BigInteger), sa.column("hash"))
    head = sa.table("audit_head", sa.column("id"), sa.column("seq", sa.BigInteger))
    size = connection.execute(sa.select(head.c.seq).where(head.c.id == 1)).scalar() or 0
    tree = merkle.Accumulator()
    low = 0
    while low < size:
        high = min(size, low + PAGE)
        hashes = connection.execute(
            sa.select(events.c.hash)
            .where(events.c.seq > low, events.c.seq <= high)
            .order_by(events.c.seq)
        ).scalars()
        made = [
            {"id": level << LEVEL_SHIFT | index, "hash": node}
            for digest in list(hashes)
            for level, index, node in tree.add_recording(merkle.leaf_hash(bytes.fromhex(digest)))
        ]
        if made:
            connection.execute(sa.insert(nodes), made)
        low = high
    # A log whose events do not reach its head is left for `custody audit verify` to name;
    # the tree then stops where the events do, and the sequencer refuses to go on.


def downgrade() -> None:
    op.drop_column("audit_verifications", "checkpoint_id")
    op.drop_column("audit_verifications", "head_hash")
    op.drop_column("audit_verifications", "size")
    op.drop_table("audit_tree_nodes")
    op.drop_index(op.f("ix_audit_events_entry_id"), table_name="audit_events")
    op.drop_column("audit_events", "entry_id")
    op.drop_table("audit_pending")
