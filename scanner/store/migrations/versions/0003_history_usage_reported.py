"""Finding history, suppression usage per scan, scans.evaluated_at and scans.reported_at.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

- finding_history(id, first_seen): per finding id ever open or suppressed, the earliest
  first_seen; evaluation carries first_seen from it by primary key instead of searching
  every earlier scan's findings. Backfilled from the findings rows already stored.
- suppression_usage: what each suppressions entry did in a scan's evaluation, so a later
  report shows that rather than what today's file would do.
- scans.evaluated_at / scans.reported_at: a scan evaluated but whose bundle was never
  written is recognisable. Scans finished before this revision are taken as reported
  (reported_at = finished_at): nothing tells otherwise, and they were reported in the
  same run. evaluated_at stays NULL for them: their suppression usage was not recorded.
- ix_findings_id is dropped: nothing looks findings up by id across scans any more.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two tables and two columns, backfill them, drop ix_findings_id."""
    op.create_table(
        "finding_history",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("first_seen", sa.DateTime, nullable=False),
    )
    op.execute(
        "INSERT INTO finding_history (id, first_seen) "
        "SELECT id, MIN(first_seen) FROM findings "
        "WHERE status IN ('open', 'suppressed') GROUP BY id"
    )
    op.create_table(
        "suppression_usage",
        sa.Column("scan_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("site", sa.Text),
        sa.Column("org", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("ticket", sa.Text),
        sa.Column("expires", sa.Date, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("matches", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("evaluated_at", sa.DateTime))
        batch.add_column(sa.Column("reported_at", sa.DateTime))
    op.execute(
        "UPDATE scans SET reported_at = COALESCE(finished_at, started_at) "
        "WHERE status IN ('complete', 'partial')"
    )
    op.drop_index("ix_findings_id", table_name="findings")


def downgrade() -> None:
    """Remove what upgrade added; restore ix_findings_id."""
    op.create_index("ix_findings_id", "findings", ["id"])
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("reported_at")
        batch.drop_column("evaluated_at")
    op.drop_table("suppression_usage")
    op.drop_table("finding_history")
