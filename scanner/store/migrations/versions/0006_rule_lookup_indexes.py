"""Lookup indexes for the rule pack.

Revision ID: 0006
Revises: 0008
Create Date: 2026-12-02

The rule conditions look rows up one at a time where they used to scan whole tables:
users by id and by uuid, a role's holders, the roles holding a permission, roles and teams
by id, an owner's application keys and access tokens, an application key by id. Each
index leads with (scan_id, target), as the scan indexes do. Creating them reads each table
once; nothing else changes.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None

# name: (table, the column after scan_id and target)
INDEXES: dict[str, tuple[str, str]] = {
    "ix_users_id": ("users", "id"),
    "ix_users_uuid": ("users", "uuid"),
    "ix_user_roles_role": ("user_roles", "role_id"),
    "ix_role_permissions_permission": ("role_permissions", "permission_id"),
    "ix_roles_id": ("roles", "id"),
    "ix_teams_id": ("teams", "id"),
    "ix_application_keys_id": ("application_keys", "id"),
    "ix_application_keys_owner": ("application_keys", "owner_id"),
    "ix_access_tokens_owner": ("access_tokens", "owner_id"),
}


def upgrade() -> None:
    """Create the lookup indexes."""
    for name, (table, column) in INDEXES.items():
        op.create_index(name, table, ["scan_id", "target", column])


def downgrade() -> None:
    """Drop them again."""
    for name, (table, _column) in INDEXES.items():
        op.drop_index(name, table_name=table)
