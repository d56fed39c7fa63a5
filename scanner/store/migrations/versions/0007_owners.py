"""Owners: who answers for each finding, and each target's configured fallback owner.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03

- findings.owner: the person or team that answers for the finding's resource, filled by
  the owner pass after each evaluation (rules/owners.py). NULL for findings stored before
  this revision until their scan is evaluated again.
- targets.owner: the config's `owner` of the target when it was collected, so that
  `evaluate` and `report` on a stored scan need no config. NULL for older scans.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add findings.owner and targets.owner (nullable text)."""
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("owner", sa.Text))
    with op.batch_alter_table("targets") as batch:
        batch.add_column(sa.Column("owner", sa.Text))


def downgrade() -> None:
    """Drop the two columns again."""
    with op.batch_alter_table("targets") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("owner")
