"""SQLAlchemy Core schema of the snapshot database: one table per collected population.

Conventions every rule and report relies on:
- every population row carries `scan_id`, `target` (config name), `site` and
  `org_public_id` (the scanned org the row was collected from);
- timestamps are naive UTC `DateTime`s; unknown is NULL;
- booleans are real booleans; list-valued fields are child tables, except org connection
  types, kept as `,logs,audit,` so a portable LIKE '%,logs,%' finds them;
- `raw` is the redacted JSON of the API object (secret-like fields already dropped).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()


def _scoped(name: str, *columns: Column[object], raw: bool = True) -> Table:
    """A population table: scan/target/site/org columns, the given ones, and `raw`."""
    cols: list[Column[object]] = [
        Column("scan_id", String(64), nullable=False),
        Column("target", String(200), nullable=False),
        Column("site", String(64), nullable=False),
        Column("org_public_id", String(64)),
        *columns,
    ]
    if raw:
        cols.append(Column("raw", Text))
    table = Table(name, metadata, *cols)
    Index(f"ix_{name}_scan", table.c.scan_id, table.c.target)
    return table


scans = Table(
    "scans",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),  # running | complete | partial | failed
    Column("tool_version", String(32), nullable=False),
    Column("config_sha256", String(64)),
    Column("rulepack_sha256", String(64)),
    Column("shards", Integer),  # n for a scan collected by `collect --shard i/n`, else NULL
    # When the rules last evaluated it (NULL: never, or before revision 0003) and when its
    # evidence bundle was last written after that (NULL: never, e.g. killed while writing).
    Column("evaluated_at", DateTime),
    Column("reported_at", DateTime),
    Index("ix_scans_started", "started_at"),
)

# The run lock (scanner.ops.lock): one row per held lock; cron runs never interleave.
locks = Table(
    "locks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(64), nullable=False),  # random token of the holding process
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("command", String(64), nullable=False),
    Column("acquired_at", DateTime, nullable=False),
    Column("heartbeat_at", DateTime, nullable=False),
)

# One row per shard of a sharded scan: evaluate and report wait for all of them.
scan_shards = Table(
    "scan_shards",
    metadata,
    Column("scan_id", String(64), primary_key=True),
    Column("shard", Integer, primary_key=True),  # 1..shards
    Column("shards", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # running | complete | partial | failed
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("targets", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
)

# One row per configured target: which org the key pair turned out to belong to.
targets = Table(
    "targets",
    metadata,
    Column("scan_id", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("site", String(64), nullable=False),
    Column("org_public_id", String(64)),
    Column("org_uuid", String(64)),
    Column("org_name", Text),
    # The config's `owner` of the target when it was collected: who answers for the org's
    # findings whose resource names no owner (rules/owners.py). NULL: none configured.
    Column("owner", Text),
    Index("ix_targets_scan", "scan_id"),
)

coverage = Table(
    "coverage",
    metadata,
    Column("scan_id", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("site", String(64), nullable=False),
    Column("org_public_id", String(64)),
    Column("endpoint", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # COVERAGE_STATUSES
    Column("collected", Integer, nullable=False),
    Column("expected", Integer),
    Column("error", Text),
    # JSON object {part: status} for an endpoint whose input splits (INPUT_PARTS), e.g.
    # {"settings": "complete", "children": "forbidden"} for orgs; NULL: no split recorded.
    Column("parts", Text),
    Index("ix_coverage_scan", "scan_id"),
)

# The scanned org itself (relation 'self') and every org its parent listings name
# (relation 'child': a managed org seen from /api/v2/org or /api/v1/org).
orgs = _scoped(
    "orgs",
    Column("public_id", String(64)),
    Column("uuid", String(64)),
    Column("name", Text),
    Column("relation", String(8), nullable=False),
    Column("created_at", DateTime),
    Column("saml_enabled", Boolean),
    Column("saml_strict_mode", Boolean),
    Column("saml_idp_initiated_login", Boolean),
    Column("saml_autocreate_access_role", String(8)),
    Column("saml_autocreate_domains_enabled", Boolean),
    Column("private_widget_share", Boolean),
)

# One row per (org, autocreate domain), for DDA-ORG-004.
org_autocreate_domains = _scoped("org_autocreate_domains", Column("domain", Text), raw=False)

users = _scoped(
    "users",
    Column("id", String(64), nullable=False),
    Column("uuid", String(64)),
    Column("handle", Text),
    Column("email", Text),
    Column("name", Text),
    Column("status", String(32)),
    Column("disabled", Boolean),
    Column("service_account", Boolean, nullable=False),
    Column("created_at", DateTime),
    Column("last_login_time", DateTime),
)

user_roles = _scoped(
    "user_roles",
    Column("user_id", String(64), nullable=False),
    Column("role_id", String(64), nullable=False),
    raw=False,
)

roles = _scoped(
    "roles",
    Column("id", String(64), nullable=False),
    Column("name", Text),
    Column("created_at", DateTime),
    Column("modified_at", DateTime),
    Column("user_count", Integer),
)

role_permissions = _scoped(
    "role_permissions",
    Column("role_id", String(64), nullable=False),
    Column("permission_id", String(64), nullable=False),
    raw=False,
)

permissions = _scoped(
    "permissions",
    Column("id", String(64), nullable=False),
    Column("name", String(128)),
    Column("display_name", Text),
    Column("restricted", Boolean),
)

application_keys = _scoped(
    "application_keys",
    Column("id", String(64), nullable=False),
    Column("name", Text),
    Column("owner_id", String(64)),
    Column("created_at", DateTime),
    Column("last_used_at", DateTime),
    Column("unscoped", Boolean, nullable=False),  # scopes null or []
    Column("leaked", Boolean, nullable=False),
    Column("leak_date", DateTime),
    Column("leak_source", Text),
    Column("listing", String(16), nullable=False),  # org | service_account
)

application_key_scopes = _scoped(
    "application_key_scopes",
    Column("key_id", String(64), nullable=False),
    Column("scope", String(128), nullable=False),
    raw=False,
)

api_keys = _scoped(
    "api_keys",
    Column("id", String(64), nullable=False),
    Column("name", Text),
    Column("category", String(64)),
    Column("created_at", DateTime),
    Column("date_last_used", DateTime),
    # `last_used_date.timestamp`: the last use within the window Datadog keeps (90 days),
    # which real answers may carry while `date_last_used` is null.
    Column("last_used_date", DateTime),
    Column("used_in_last_24_hours", Boolean),
    Column("created_by_id", String(64)),
    Column("modified_by_id", String(64)),
    Column("leaked", Boolean, nullable=False),
    Column("leak_date", DateTime),
    Column("leak_source", Text),
)

authn_mappings = _scoped(
    "authn_mappings",
    Column("id", String(64), nullable=False),
    Column("resource_type", String(8), nullable=False),  # role | team
    Column("attribute_key", Text),
    Column("attribute_value", Text),
    Column("role_id", String(64)),
    Column("team_id", String(64)),
    Column("created_at", DateTime),
)

teams = _scoped(
    "teams",
    Column("id", String(64), nullable=False),
    Column("name", Text),
    Column("handle", Text),
    Column("user_count", Integer),
)

org_connections = _scoped(
    "org_connections",
    Column("id", String(64), nullable=False),
    Column("source_org_id", String(64)),
    Column("source_org_name", Text),
    Column("sink_org_id", String(64)),
    Column("sink_org_name", Text),
    Column("created_by_id", String(64)),
    Column("created_by_name", Text),
    Column("connection_types", Text),  # ",logs,metrics," sorted
    Column("created_at", DateTime),
)

okta_accounts = _scoped(
    "okta_accounts",
    Column("id", String(64), nullable=False),
    Column("name", Text),
    Column("domain", Text),  # normalised: lower case, no scheme, no trailing slash
    Column("auth_method", String(32)),
    Column("client_id", Text),
)

# Personal (PAT, owned by a user) and service (SAT, owned by a service account) access
# tokens, from GET /api/v2/personal_access_tokens. No secret: `public_portion` is the
# token's public part (it cannot authenticate alone) and is kept only in that shape.
access_tokens = _scoped(
    "access_tokens",
    Column("id", String(64), nullable=False),
    Column("kind", String(16)),  # personal | service (NULL: the item did not say)
    Column("name", Text),
    Column("owner_id", String(64), nullable=False),
    Column("owner_type", String(32)),  # users | service_account (relationships.owned_by)
    Column("created_at", DateTime),
    Column("expires_at", DateTime),  # NULL: never expires
    Column("lifetime_days", Float),  # expires_at - created_at, in days (NULL: no expiry)
    Column("last_used_at", DateTime),
    Column("modified_at", DateTime),  # NULL: never edited (the attribute is then absent)
    Column("public_portion", String(64)),
)

access_token_scopes = _scoped(
    "access_token_scopes",
    Column("token_id", String(64), nullable=False),
    Column("scope", String(128), nullable=False),
    raw=False,
)

# OAuth applications authorized in the org, from GET /api/v2/org_authorized_clients.
oauth_clients = _scoped(
    "oauth_clients",
    Column("id", String(64), nullable=False),
    Column("client_id", String(64)),  # relationships.oauth2_client.data.id
    Column("disabled", Boolean),
    Column("last_exercised", DateTime),  # NULL: never exercised
    Column("user_count", Integer),
)

findings = Table(
    "findings",
    metadata,
    Column("scan_id", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("rule_id", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # open | suppressed | not_assessed
    Column("title", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("site", String(64), nullable=False),
    Column("org_public_id", String(64)),
    Column("org_name", Text),
    Column("target", String(200), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("resource_name", Text),
    Column("first_seen", DateTime, nullable=False),
    Column("controls", Text, nullable=False),  # JSON list
    Column("suppression", Text),  # JSON object or NULL
    # Who answers for the resource (rules/owners.py, docs/outputs.md); NULL: nobody named.
    Column("owner", Text),
    Index("ix_findings_scan", "scan_id"),
)

# Per finding id ever open or suppressed in an evaluation: the earliest scan start it was
# seen failing in (what later scans carry as first_seen). Not per scan: rows outlive the
# scans prune deletes, since when a finding was first seen is history.
finding_history = Table(
    "finding_history",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("first_seen", DateTime, nullable=False),
)

# How each entry of the suppressions file fared when the scan was last evaluated.
suppression_usage = Table(
    "suppression_usage",
    metadata,
    Column("scan_id", String(64), primary_key=True),
    Column("position", Integer, primary_key=True),  # 1-based place of the entry in the file
    Column("rule", Text, nullable=False),
    Column("resource", Text, nullable=False),
    Column("site", Text),
    Column("org", Text),
    Column("reason", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("ticket", Text),
    Column("expires", Date, nullable=False),
    Column("state", String(16), nullable=False),  # active | expired | unused
    Column("matches", Integer, nullable=False),  # findings it covers (active entries only)
)

# Per notification sink (its [[notify]] name) and finding id: the scan it was last
# announced in, and the latest scan start through which it is known not to have resolved
# since (reports/notify/ledger.py). Not per scan: like finding_history, it outlives the
# scans prune deletes, so a finding announced once is not announced again after a prune.
notify_ledger = Table(
    "notify_ledger",
    metadata,
    Column("sink", String(200), primary_key=True),
    Column("finding_id", String(64), primary_key=True),
    Column("announced_scan_id", String(64), nullable=False),
    Column("announced_at", DateTime, nullable=False),  # that scan's start
    Column("seen_through", DateTime, nullable=False),  # a scan start; unresolved until then
)

# One row per notification of a scan to a sink, sent or not: run.json's `notifications`.
# No URL, address or key: the sink's name and kind, the outcome and a scrubbed error.
notify_deliveries = Table(
    "notify_deliveries",
    metadata,
    Column("scan_id", String(64), nullable=False),
    Column("sink", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("outcome", String(16), nullable=False),  # sent | failed | skipped
    Column("attempts", Integer, nullable=False),
    Column("events", String(64), nullable=False),  # e.g. "new,partial" ("" when skipped)
    Column("new_findings", Integer, nullable=False),
    Column("regressed_findings", Integer, nullable=False),
    Column("error", Text),
    Index("ix_notify_deliveries_scan", "scan_id"),
)

# One row per finding an applied remediation action answered or resolved along the way
# (`ddaudit apply`, never a dry run): the next scan's report and `ddaudit diff` mark a
# resolved finding "remediated by plan <id>" from it. History, like finding_history:
# not per scan, so prune leaves it.
remediation_actions = Table(
    "remediation_actions",
    metadata,
    Column("plan_id", String(64), nullable=False),
    Column("action", Integer, nullable=False),  # the action's number in the plan
    Column("finding_id", String(64), nullable=False),
    Column("rule_id", String(32), nullable=False),
    Column("scan_id", String(64), nullable=False),  # the scan the plan was made from
    Column("kind", String(32), nullable=False),  # actions.KINDS
    Column("target", String(200), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("outcome", String(32), nullable=False),  # done | already gone | skipped: ... | ...
    Column("approved_by", Text, nullable=False),
    Column("applied_at", DateTime, nullable=False),
    Index("ix_remediation_actions_finding", "finding_id"),
)

# Lookup indexes the rule pack probes, one row (or owner) at a time: users and roles by id,
# a role's holders, a permission's roles, an owner's keys and tokens, a key by id
# (migration 0006). Each leads with (scan_id, target) like the scan index, so it serves a
# scan's rows and no other's.
LOOKUP_INDEXES: tuple[Index, ...] = (
    Index("ix_users_id", users.c.scan_id, users.c.target, users.c.id),
    Index("ix_users_uuid", users.c.scan_id, users.c.target, users.c.uuid),
    Index("ix_user_roles_role", user_roles.c.scan_id, user_roles.c.target, user_roles.c.role_id),
    Index("ix_role_permissions_permission", role_permissions.c.scan_id,
          role_permissions.c.target, role_permissions.c.permission_id),
    Index("ix_roles_id", roles.c.scan_id, roles.c.target, roles.c.id),
    Index("ix_teams_id", teams.c.scan_id, teams.c.target, teams.c.id),
    Index("ix_application_keys_id", application_keys.c.scan_id, application_keys.c.target,
          application_keys.c.id),
    Index("ix_application_keys_owner", application_keys.c.scan_id, application_keys.c.target,
          application_keys.c.owner_id),
    Index("ix_access_tokens_owner", access_tokens.c.scan_id, access_tokens.c.target,
          access_tokens.c.owner_id),
)

POPULATION_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        orgs,
        org_autocreate_domains,
        users,
        user_roles,
        roles,
        role_permissions,
        permissions,
        application_keys,
        application_key_scopes,
        api_keys,
        authn_mappings,
        teams,
        org_connections,
        okta_accounts,
        access_tokens,
        access_token_scopes,
        oauth_clients,
    )
}

# Every table whose rows belong to one scan (by `scan_id`), for prune and re-collection.
SCAN_TABLES: tuple[Table, ...] = (*POPULATION_TABLES.values(), targets, coverage, findings,
                                  scan_shards, suppression_usage, notify_deliveries)

# Coverage endpoint names (docs/outputs.md), in report order.
ENDPOINTS: tuple[str, ...] = (
    "orgs",
    "users",
    "roles",
    "permissions",
    "application_keys",
    "api_keys",
    "authn_mappings",
    "teams",
    "org_connections",
    "okta_accounts",
    "access_tokens",
    "oauth_clients",
)

# Coverage statuses (docs/outputs.md). `unavailable`: the site or org does not offer the
# endpoint (a 404): not a gap (no DDA-SCAN-001, the scan is not partial), and the rules on
# it judge nothing there. Anything not in SETTLED is a coverage gap.
COVERAGE_STATUSES: tuple[str, ...] = ("complete", "partial", "forbidden", "failed",
                                      "unavailable")
SETTLED: frozenset[str] = frozenset({"complete", "unavailable"})

# Endpoints whose input splits into parts that can be complete while the endpoint is not:
# a rule input may name `endpoint.part` (see docs/rules.md). A part without a coverage
# record of its own has the endpoint's status.
INPUT_PARTS: dict[str, tuple[str, ...]] = {
    # which org the key pair belongs to (its UUID, which the connection rules match on);
    # the org's own SAML and sharing settings; the child orgs it manages
    "orgs": ("identity", "settings", "children"),
    # the keys of service accounts (whichever listing gave them); every key is the endpoint
    "application_keys": ("service_accounts",),
}
RULE_INPUTS: tuple[str, ...] = (
    *ENDPOINTS, *(f"{e}.{p}" for e, parts in INPUT_PARTS.items() for p in parts))
