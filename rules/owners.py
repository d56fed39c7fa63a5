"""Who answers for each finding: the owner pass, two set-based UPDATEs over one scan's snapshot.

After a scan's findings are written, `assign_owners` fills `findings.owner` from the same
scan's snapshot tables, by the finding's resource type (docs/outputs.md, "Owners"):

- application key, access token: its owner; API key, org connection: its creator. A
  person who can act on it (an enabled user, not a service account) is named by e-mail,
  else handle, else name. Where the person is disabled, not among the org's users, or a
  service account, the target's `owner` answers instead, and without one the principal
  Datadog names (a connection's `created_by_name` when its creator is not a user here).
- service account: the target's `owner` (Datadog names no creator), else the account's
  own e-mail, handle or name.
- AuthN mapping: its IdP group, `attribute_key=attribute_value`.
- everything else (org, role, OAuth client, Okta account, collection, not assessed), and
  any resource whose owner is not found: the target's `owner` (`targets.owner`, stored
  from the config when the target was collected), else NULL.

Nothing here runs per row in Python: the database resolves every owner in one UPDATE and
gives the target's fallback to the rest in another, so custom rules get owners too. Each
statement walks the scan's findings once, probing the owners worked out beside them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, TextClause, text

# A user as findings name them, and whether that user can act on a finding (alias `u`).
_LABEL = "COALESCE(NULLIF(u.email, ''), NULLIF(u.handle, ''), NULLIF(u.name, ''))"
_ANSWERS = ("CASE WHEN u.service_account OR COALESCE(u.disabled, FALSE) "
            "OR COALESCE(u.status, '') = 'Disabled' THEN 0 ELSE 1 END")

# resolved(resource_type, target, resource_id, owner): one row per resource of the scan
# whose owner depends on the resource; owner NULL where the target's (fallback) decides.
# Each person's answer is worked out once (by id, and by uuid where it differs, as API
# keys' creators may be named) and the big tables only probe it.
_RESOLVED = f"""
fallback AS MATERIALIZED (
  SELECT t.target, MIN(t.owner) AS owner
  FROM targets t
  WHERE t.scan_id = :scan_id
  GROUP BY t.target
),
people AS MATERIALIZED (
  SELECT u.target, u.id AS ref,
         CASE WHEN {_ANSWERS} = 1 THEN {_LABEL} ELSE COALESCE(f.owner, {_LABEL}) END AS owner
  FROM users u
  LEFT JOIN fallback f ON f.target = u.target
  WHERE u.scan_id = :scan_id
  UNION ALL
  SELECT u.target, u.uuid AS ref,
         CASE WHEN {_ANSWERS} = 1 THEN {_LABEL} ELSE COALESCE(f.owner, {_LABEL}) END
  FROM users u
  LEFT JOIN fallback f ON f.target = u.target
  WHERE u.scan_id = :scan_id AND u.uuid IS NOT NULL AND u.uuid <> u.id
),
held AS (
  SELECT 'application_key' AS resource_type, k.target, k.id AS resource_id,
         k.owner_id AS ref, CAST(NULL AS TEXT) AS named
  FROM application_keys k
  WHERE k.scan_id = :scan_id
  UNION ALL
  SELECT 'access_token', t.target, t.id, t.owner_id, NULL
  FROM access_tokens t
  WHERE t.scan_id = :scan_id
  UNION ALL
  SELECT 'api_key', a.target, a.id, a.created_by_id, NULL
  FROM api_keys a
  WHERE a.scan_id = :scan_id
  UNION ALL
  SELECT 'org_connection', c.target, c.id, c.created_by_id, NULLIF(c.created_by_name, '')
  FROM org_connections c
  WHERE c.scan_id = :scan_id
),
resolved AS (
  -- a holder or creator not among the users: the target's owner, else the name the
  -- connection gives (only connections name one)
  SELECT h.resource_type, h.target, h.resource_id,
         COALESCE(p.owner, CASE WHEN h.named IS NOT NULL THEN COALESCE(
           (SELECT f.owner FROM fallback f WHERE f.target = h.target), h.named) END) AS owner
  FROM held h
  LEFT JOIN people p ON p.target = h.target AND p.ref = h.ref
  UNION ALL
  SELECT 'service_account', u.target, u.id, COALESCE(f.owner, {_LABEL})
  FROM users u
  LEFT JOIN fallback f ON f.target = u.target
  WHERE u.scan_id = :scan_id AND u.service_account
  UNION ALL
  SELECT 'authn_mapping', m.target, m.id, m.attribute_key || '=' || m.attribute_value
  FROM authn_mappings m
  WHERE m.scan_id = :scan_id
)"""

# Every finding whose resource has an owner of its own gets it; the rest stay NULL here.
_BY_RESOURCE = text(f"""
WITH {_RESOLVED}
UPDATE findings SET owner = r.owner
FROM resolved r
WHERE findings.scan_id = :scan_id
  AND r.resource_type = findings.resource_type AND r.target = findings.target
  AND r.resource_id = findings.resource_id AND r.owner IS NOT NULL
""")

# What is still unowned falls to its target's configured owner. PostgreSQL hash-joins
# the targets; SQLite would loop over the targets and scan the findings for each, so
# there a correlated lookup (on an automatic index of the few targets) is used instead.
_OWNED_TARGETS = """owned AS MATERIALIZED (
  SELECT t.target, MIN(t.owner) AS owner
  FROM targets t
  WHERE t.scan_id = :scan_id AND t.owner IS NOT NULL
  GROUP BY t.target
)"""
_BY_TARGET = text(f"""
WITH {_OWNED_TARGETS}
UPDATE findings SET owner = o.owner
FROM owned o
WHERE findings.scan_id = :scan_id AND findings.owner IS NULL AND o.target = findings.target
""")
_BY_TARGET_SQLITE = text(f"""
WITH {_OWNED_TARGETS}
UPDATE findings SET owner = (SELECT o.owner FROM owned o WHERE o.target = findings.target)
WHERE findings.scan_id = :scan_id AND findings.owner IS NULL
  AND findings.target IN (SELECT o.target FROM owned o)
""")


def assign_owners(conn: Connection, scan_id: str) -> None:
    """Fill `findings.owner` for every finding of scan `scan_id` (its rows already written)."""
    params = {"scan_id": scan_id}
    conn.execute(_BY_RESOURCE, params)
    sqlite = conn.dialect.name == "sqlite"
    conn.execute(_BY_TARGET_SQLITE if sqlite else _BY_TARGET, params)


def resource_owners(resource_types: Iterable[str]) -> TextClause:
    """SELECT resource_type, target, resource_id, owner of those types (binds :scan_id).

    The owner each resource's findings carry, for readers that list resources without
    findings (the credential inventory); where it is NULL, or a type has no rows here
    (an OAuth client), the findings carry the target's `owner`.
    """
    types = sorted(set(resource_types))
    if not all(t.replace("_", "").isalpha() for t in types):
        raise ValueError(f"not resource types: {types}")
    listed = ", ".join(f"'{t}'" for t in types) or "NULL"
    return text(f"WITH {_RESOLVED}\nSELECT r.resource_type, r.target, r.resource_id, r.owner "
                f"FROM resolved r WHERE r.resource_type IN ({listed})")
