"""Coverage parts and the API-key last-use window.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

- coverage.parts: a JSON object {part: status} for an endpoint whose input splits (the
  org's settings and its child orgs; the service accounts' application keys), so rules
  that need only one part are assessed when the other is missing. NULL for rows stored
  before this revision: every part then has the endpoint's status, as before.
- api_keys.last_used_date / used_in_last_24_hours: what real answers carry beside
  `date_last_used` (the last use within Datadog's 90-day window).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add coverage.parts, api_keys.last_used_date and api_keys.used_in_last_24_hours."""
    with op.batch_alter_table("coverage") as batch:
        batch.add_column(sa.Column("parts", sa.Text))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("last_used_date", sa.DateTime))
        batch.add_column(sa.Column("used_in_last_24_hours", sa.Boolean))


def downgrade() -> None:
    """Drop the three columns again."""
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("used_in_last_24_hours")
        batch.drop_column("last_used_date")
    with op.batch_alter_table("coverage") as batch:
        batch.drop_column("parts")
