"""Remediation: the actions `ddaudit apply` carried out, per finding.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-03

- remediation_actions: one row per finding an applied action answered or resolved along
  the way, with the plan id, the outcome, the approver and when; the next scan's report
  and `ddaudit diff` mark a resolved finding "remediated by plan <id>" from it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create remediation_actions and its finding index."""
    op.create_table(
        "remediation_actions",
        sa.Column("plan_id", sa.String(64), nullable=False),
        sa.Column("action", sa.Integer, nullable=False),
        sa.Column("finding_id", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(32), nullable=False),
        sa.Column("scan_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("approved_by", sa.Text, nullable=False),
        sa.Column("applied_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_remediation_actions_finding", "remediation_actions", ["finding_id"])


def downgrade() -> None:
    """Drop remediation_actions."""
    op.drop_index("ix_remediation_actions_finding", table_name="remediation_actions")
    op.drop_table("remediation_actions")
