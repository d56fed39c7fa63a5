"""Notifications: the per-sink ledger of announced findings, and every delivery of a scan.

Revision ID: 0008
Revises: 0009
Create Date: 2026-12-09

- notify_ledger: per ([[notify]] sink name, finding id), the scan the finding was last
  announced in and the latest scan start through which it is known unresolved since; a
  finding is announced to a sink once, and again only after it resolved and came back.
- notify_deliveries: one row per notification of a scan to a sink (sent, failed or
  skipped), with attempts and a scrubbed error; run.json's `notifications` lists them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None

_S64 = sa.String(64)


def upgrade() -> None:
    """Create notify_ledger and notify_deliveries (with its scan_id index)."""
    op.create_table(
        "notify_ledger",
        sa.Column("sink", sa.String(200), primary_key=True),
        sa.Column("finding_id", _S64, primary_key=True),
        sa.Column("announced_scan_id", _S64, nullable=False),
        sa.Column("announced_at", sa.DateTime, nullable=False),
        sa.Column("seen_through", sa.DateTime, nullable=False),
    )
    op.create_table(
        "notify_deliveries",
        sa.Column("scan_id", _S64, nullable=False),
        sa.Column("sink", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("events", _S64, nullable=False),
        sa.Column("new_findings", sa.Integer, nullable=False),
        sa.Column("regressed_findings", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_notify_deliveries_scan", "notify_deliveries", ["scan_id"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_notify_deliveries_scan", table_name="notify_deliveries")
    op.drop_table("notify_deliveries")
    op.drop_table("notify_ledger")
