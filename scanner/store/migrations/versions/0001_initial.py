"""The snapshot schema of ddaudit 0.1.0 (what `metadata.create_all` made before migrations).

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Frozen: later schema changes go in new revisions, never here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_S64 = sa.String(64)


def _scoped(name: str, *columns: sa.Column[object], raw: bool = True) -> None:
    """A population table: scan/target/site/org columns, the given ones, and `raw`."""
    cols: list[sa.Column[object]] = [
        sa.Column("scan_id", _S64, nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("site", _S64, nullable=False),
        sa.Column("org_public_id", _S64),
        *columns,
    ]
    if raw:
        cols.append(sa.Column("raw", sa.Text))
    op.create_table(name, *cols)
    op.create_index(f"ix_{name}_scan", name, ["scan_id", "target"])


def _id() -> sa.Column[object]:
    return sa.Column("id", _S64, nullable=False)


def upgrade() -> None:
    """Create every table and index of the 0.1.0 schema."""
    op.create_table(
        "scans",
        sa.Column("id", _S64, primary_key=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tool_version", sa.String(32), nullable=False),
        sa.Column("config_sha256", _S64),
        sa.Column("rulepack_sha256", _S64),
    )
    op.create_table(
        "targets",
        sa.Column("scan_id", _S64, nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("site", _S64, nullable=False),
        sa.Column("org_public_id", _S64),
        sa.Column("org_uuid", _S64),
        sa.Column("org_name", sa.Text),
    )
    op.create_index("ix_targets_scan", "targets", ["scan_id"])
    op.create_table(
        "coverage",
        sa.Column("scan_id", _S64, nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("site", _S64, nullable=False),
        sa.Column("org_public_id", _S64),
        sa.Column("endpoint", _S64, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("collected", sa.Integer, nullable=False),
        sa.Column("expected", sa.Integer),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_coverage_scan", "coverage", ["scan_id"])
    _scoped(
        "orgs",
        sa.Column("public_id", _S64), sa.Column("uuid", _S64), sa.Column("name", sa.Text),
        sa.Column("relation", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime),
        sa.Column("saml_enabled", sa.Boolean), sa.Column("saml_strict_mode", sa.Boolean),
        sa.Column("saml_idp_initiated_login", sa.Boolean),
        sa.Column("saml_autocreate_access_role", sa.String(8)),
        sa.Column("saml_autocreate_domains_enabled", sa.Boolean),
        sa.Column("private_widget_share", sa.Boolean),
    )
    _scoped("org_autocreate_domains", sa.Column("domain", sa.Text), raw=False)
    _scoped(
        "users",
        _id(), sa.Column("uuid", _S64), sa.Column("handle", sa.Text),
        sa.Column("email", sa.Text), sa.Column("name", sa.Text),
        sa.Column("status", sa.String(32)), sa.Column("disabled", sa.Boolean),
        sa.Column("service_account", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime), sa.Column("last_login_time", sa.DateTime),
    )
    _scoped("user_roles", sa.Column("user_id", _S64, nullable=False),
            sa.Column("role_id", _S64, nullable=False), raw=False)
    _scoped(
        "roles",
        _id(), sa.Column("name", sa.Text), sa.Column("created_at", sa.DateTime),
        sa.Column("modified_at", sa.DateTime), sa.Column("user_count", sa.Integer),
    )
    _scoped("role_permissions", sa.Column("role_id", _S64, nullable=False),
            sa.Column("permission_id", _S64, nullable=False), raw=False)
    _scoped(
        "permissions",
        _id(), sa.Column("name", sa.String(128)), sa.Column("display_name", sa.Text),
        sa.Column("restricted", sa.Boolean),
    )
    _scoped(
        "application_keys",
        _id(), sa.Column("name", sa.Text), sa.Column("owner_id", _S64),
        sa.Column("created_at", sa.DateTime), sa.Column("last_used_at", sa.DateTime),
        sa.Column("unscoped", sa.Boolean, nullable=False),
        sa.Column("leaked", sa.Boolean, nullable=False),
        sa.Column("leak_date", sa.DateTime), sa.Column("leak_source", sa.Text),
        sa.Column("listing", sa.String(16), nullable=False),
    )
    _scoped("application_key_scopes", sa.Column("key_id", _S64, nullable=False),
            sa.Column("scope", sa.String(128), nullable=False), raw=False)
    _scoped(
        "api_keys",
        _id(), sa.Column("name", sa.Text), sa.Column("category", _S64),
        sa.Column("created_at", sa.DateTime), sa.Column("date_last_used", sa.DateTime),
        sa.Column("created_by_id", _S64), sa.Column("modified_by_id", _S64),
        sa.Column("leaked", sa.Boolean, nullable=False),
        sa.Column("leak_date", sa.DateTime), sa.Column("leak_source", sa.Text),
    )
    _scoped(
        "authn_mappings",
        _id(), sa.Column("resource_type", sa.String(8), nullable=False),
        sa.Column("attribute_key", sa.Text), sa.Column("attribute_value", sa.Text),
        sa.Column("role_id", _S64), sa.Column("team_id", _S64),
        sa.Column("created_at", sa.DateTime),
    )
    _scoped("teams", _id(), sa.Column("name", sa.Text), sa.Column("handle", sa.Text),
            sa.Column("user_count", sa.Integer))
    _scoped(
        "org_connections",
        _id(), sa.Column("source_org_id", _S64), sa.Column("source_org_name", sa.Text),
        sa.Column("sink_org_id", _S64), sa.Column("sink_org_name", sa.Text),
        sa.Column("created_by_id", _S64), sa.Column("created_by_name", sa.Text),
        sa.Column("connection_types", sa.Text), sa.Column("created_at", sa.DateTime),
    )
    _scoped(
        "okta_accounts",
        _id(), sa.Column("name", sa.Text), sa.Column("domain", sa.Text),
        sa.Column("auth_method", sa.String(32)), sa.Column("client_id", sa.Text),
    )
    op.create_table(
        "findings",
        sa.Column("scan_id", _S64, nullable=False),
        sa.Column("id", _S64, nullable=False),
        sa.Column("rule_id", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("site", _S64, nullable=False),
        sa.Column("org_public_id", _S64),
        sa.Column("org_name", sa.Text),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.Text, nullable=False),
        sa.Column("resource_name", sa.Text),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("controls", sa.Text, nullable=False),
        sa.Column("suppression", sa.Text),
    )
    op.create_index("ix_findings_scan", "findings", ["scan_id"])
    op.create_index("ix_findings_id", "findings", ["id"])


TABLES = (
    "findings", "okta_accounts", "org_connections", "teams", "authn_mappings", "api_keys",
    "application_key_scopes", "application_keys", "permissions", "role_permissions", "roles",
    "user_roles", "users", "org_autocreate_domains", "orgs", "coverage", "targets", "scans",
)


def downgrade() -> None:
    """Drop every table of the 0.1.0 schema."""
    for name in TABLES:
        op.drop_table(name)
