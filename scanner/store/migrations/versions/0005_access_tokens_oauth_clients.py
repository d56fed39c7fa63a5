"""Access tokens (PATs and SATs) with their scopes, and authorized OAuth clients.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

- access_tokens / access_token_scopes: GET /api/v2/personal_access_tokens (coverage
  endpoint `access_tokens`); no secret column: `public_portion` cannot authenticate.
- oauth_clients: GET /api/v2/org_authorized_clients (coverage endpoint `oauth_clients`).
- Coverage rows may now say `unavailable` (a 404: the site or org does not offer the
  endpoint); the column is a free string, so no change is needed there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_S64 = sa.String(64)


def _scope_columns() -> list[sa.Column[object]]:
    return [sa.Column("scan_id", _S64, nullable=False),
            sa.Column("target", sa.String(200), nullable=False),
            sa.Column("site", _S64, nullable=False),
            sa.Column("org_public_id", _S64)]


def upgrade() -> None:
    """Create the three tables and their (scan_id, target) indexes."""
    op.create_table(
        "access_tokens", *_scope_columns(),
        sa.Column("id", _S64, nullable=False),
        sa.Column("kind", sa.String(16)),
        sa.Column("name", sa.Text),
        sa.Column("owner_id", _S64, nullable=False),
        sa.Column("owner_type", sa.String(32)),
        sa.Column("created_at", sa.DateTime),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("lifetime_days", sa.Float),
        sa.Column("last_used_at", sa.DateTime),
        sa.Column("modified_at", sa.DateTime),
        sa.Column("public_portion", _S64),
        sa.Column("raw", sa.Text),
    )
    op.create_table(
        "access_token_scopes", *_scope_columns(),
        sa.Column("token_id", _S64, nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
    )
    op.create_table(
        "oauth_clients", *_scope_columns(),
        sa.Column("id", _S64, nullable=False),
        sa.Column("client_id", _S64),
        sa.Column("disabled", sa.Boolean),
        sa.Column("last_exercised", sa.DateTime),
        sa.Column("user_count", sa.Integer),
        sa.Column("raw", sa.Text),
    )
    for name in ("access_tokens", "access_token_scopes", "oauth_clients"):
        op.create_index(f"ix_{name}_scan", name, ["scan_id", "target"])


def downgrade() -> None:
    """Drop the three tables."""
    for name in ("oauth_clients", "access_token_scopes", "access_tokens"):
        op.drop_index(f"ix_{name}_scan", table_name=name)
        op.drop_table(name)
