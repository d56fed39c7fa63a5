"""Operations: the run lock, per-shard progress of a sharded scan, scans.shards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the locks and scan_shards tables, scans.shards and an index on scans.started_at."""
    op.create_table(
        "locks",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("command", sa.String(64), nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "scan_shards",
        sa.Column("scan_id", sa.String(64), primary_key=True),
        sa.Column("shard", sa.Integer, primary_key=True),
        sa.Column("shards", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("targets", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
    )
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("shards", sa.Integer))
    op.create_index("ix_scans_started", "scans", ["started_at"])


def downgrade() -> None:
    """Remove what upgrade added."""
    op.drop_index("ix_scans_started", table_name="scans")
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("shards")
    op.drop_table("scan_shards")
    op.drop_table("locks")
