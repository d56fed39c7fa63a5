"""Seed data for the reports tests: one scan with two targets, coverage and findings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine, insert

from scanner.store.schema import (
    access_token_scopes,
    access_tokens,
    api_keys,
    application_key_scopes,
    application_keys,
    coverage,
    findings,
    oauth_clients,
    scans,
    targets,
    users,
)

SCAN_ID = "20261121T020000Z-3f9a1c"
OTHER_SCAN_ID = "20261120T020000Z-000000"

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'
HOSTILE = f"{XSS_SCRIPT}{XSS_ATTR} & 'quoted'"

CONTROLS = ["SOC2:CC6.3", "NIST800-53:AC-6"]
SUPPRESSION = {
    "rule": "DDA-KEY-003",
    "resource": "ci-*",
    "reason": "rotated by the CI vault job",
    "owner": "secops@example.com",
    "ticket": "SEC-1234",
    "expires": "2027-03-31",
}

ALICE, TEAM_EU, SECOPS = "alice@example.com", "team-eu@example.com", "secops@example.com"


@dataclass
class Seed:
    """What to put in the snapshot; tests tweak a field, then call `insert_seed`."""

    status: str = "partial"
    org_names: tuple[str, str] = ("Acme Zürich Prod", "Acme EU")
    targets: tuple[str, str] = ("prod-us1", "prod-eu1")
    resource_name: str = "ci-deploy-key"
    detail: str = "Application key ci-deploy-key was last used 120 days ago."
    coverage: list[dict[str, Any]] = field(default_factory=lambda: list(COVERAGE))
    findings: list[dict[str, Any]] = field(default_factory=lambda: list(FINDINGS))
    owner: str | None = None  # when set, every finding's owner (else each FINDINGS one's)
    target_owners: tuple[str | None, str | None] = (SECOPS, None)  # the configured ones


# Inserted deliberately out of report order.
COVERAGE: list[dict[str, Any]] = [
    {"target": 0, "endpoint": "users", "status": "complete", "collected": 40, "expected": 40},
    {"target": 0, "endpoint": "okta_accounts", "status": "complete", "collected": 1,
     "expected": None},
    {"target": 1, "endpoint": "application_keys", "status": "forbidden", "collected": 0,
     "expected": None, "error": "403 Forbidden: the key pair lacks org_app_keys_read"},
    {"target": 0, "endpoint": "orgs", "status": "complete", "collected": 1, "expected": 1},
    {"target": 0, "endpoint": "application_keys", "status": "partial", "collected": 410,
     "expected": 412, "error": "collected 410 of 412"},
    {"target": 1, "endpoint": "orgs", "status": "complete", "collected": 1, "expected": 1},
]

# `key` names each finding for assertions; `target` indexes Seed.targets; `owner` is the
# finding's (rules/owners.py would fill it; here it is given).
FINDINGS: list[dict[str, Any]] = [
    {"key": "key001-us", "rule_id": "DDA-KEY-001", "severity": "medium", "status": "open",
     "target": 0, "resource_type": "application_key", "resource_id": "key-b", "owner": ALICE},
    {"key": "custom-info", "rule_id": "DDA-CUSTOM-001", "severity": "info", "status": "open",
     "target": 0, "resource_type": "org", "resource_id": "abc123"},
    {"key": "key007", "rule_id": "DDA-KEY-007", "severity": "critical", "status": "open",
     "target": 1, "resource_type": "api_key", "resource_id": "leaky", "owner": TEAM_EU},
    {"key": "org005-abc", "rule_id": "DDA-ORG-005", "severity": "low", "status": "open",
     "target": 0, "resource_type": "org", "resource_id": "abc123", "owner": SECOPS},
    {"key": "org001", "rule_id": "DDA-ORG-001", "severity": "high", "status": "open",
     "target": 0, "resource_type": "org", "resource_id": "abc123", "owner": SECOPS},
    {"key": "key001-eu", "rule_id": "DDA-KEY-001", "severity": "medium", "status": "open",
     "target": 1, "resource_type": "application_key", "resource_id": "key-a", "owner": TEAM_EU},
    {"key": "key003", "rule_id": "DDA-KEY-003", "severity": "low", "status": "suppressed",
     "target": 0, "resource_type": "application_key", "resource_id": "ci-key",
     "suppression": SUPPRESSION, "owner": ALICE},
    {"key": "scan001", "rule_id": "DDA-SCAN-001", "severity": "high", "status": "open",
     "target": 1, "resource_type": "collection", "resource_id": "application_keys",
     "owner": TEAM_EU},
    {"key": "org005-none", "rule_id": "DDA-ORG-005", "severity": "low", "status": "open",
     "target": 0, "org_public_id": None, "resource_type": "org", "resource_id": "abc123"},
    {"key": "key004-na", "rule_id": "DDA-KEY-004", "severity": "high", "status": "not_assessed",
     "target": 1, "resource_type": "org", "resource_id": "def456"},
]

EXPECTED_FINDING_ORDER = [
    "key007",
    "key004-na",
    "org001",
    "scan001",
    "key001-us",  # datadoghq.com before datadoghq.eu
    "key001-eu",
    "key003",
    "org005-none",  # a NULL org sorts first
    "org005-abc",
    "custom-info",
]

EXPECTED_COVERAGE_ORDER = [
    ("prod-eu1", "orgs"),
    ("prod-eu1", "application_keys"),
    ("prod-us1", "orgs"),
    ("prod-us1", "users"),
    ("prod-us1", "application_keys"),
    ("prod-us1", "okta_accounts"),
]

SITES = ("datadoghq.com", "datadoghq.eu")
ORG_IDS = ("abc123", "def456")


def finding_id(key: str) -> str:
    """The stored finding id for a FINDINGS `key`."""
    return f"fp-{key}"


def insert_seed(engine: Engine, seed: Seed, *, reverse: bool = False) -> None:
    """Insert one scan (plus an unrelated older scan) as described by `seed`."""
    target_rows = [
        {
            "scan_id": SCAN_ID,
            "target": seed.targets[i],
            "site": SITES[i],
            "org_public_id": ORG_IDS[i],
            "org_uuid": f"0000000{i}-aaaa-bbbb-cccc-dddddddddddd",
            "org_name": seed.org_names[i],
            "owner": seed.target_owners[i],
        }
        for i in range(2)
    ]
    coverage_rows = [
        {
            "scan_id": SCAN_ID,
            "target": seed.targets[c["target"]],
            "site": SITES[c["target"]],
            "org_public_id": ORG_IDS[c["target"]],
            "endpoint": c["endpoint"],
            "status": c["status"],
            "collected": c["collected"],
            "expected": c["expected"],
            "error": c.get("error"),
        }
        for c in seed.coverage
    ]
    finding_rows = []
    for n, f in enumerate(seed.findings):
        t = f["target"]
        suppression = f.get("suppression")
        finding_rows.append(
            {
                "scan_id": SCAN_ID,
                "id": finding_id(f["key"]),
                "rule_id": f["rule_id"],
                "severity": f["severity"],
                "status": f["status"],
                "title": f"Title of {f['rule_id']}",
                "detail": seed.detail,
                "site": SITES[t],
                "org_public_id": f.get("org_public_id", ORG_IDS[t]),
                "org_name": seed.org_names[t],
                "target": seed.targets[t],
                "resource_type": f["resource_type"],
                "resource_id": f["resource_id"],
                "resource_name": seed.resource_name,
                "first_seen": datetime(2026, 10, 1 + n, 3, 4, 5, 678901),
                "controls": json.dumps(CONTROLS),
                "suppression": None if suppression is None else json.dumps(suppression),
                "owner": seed.owner or f.get("owner"),
            }
        )
    if reverse:
        target_rows.reverse()
        coverage_rows.reverse()
        finding_rows.reverse()
    with engine.begin() as conn:
        conn.execute(
            insert(scans),
            [
                {
                    "id": OTHER_SCAN_ID,
                    "started_at": datetime(2026, 11, 20, 2, 0, 0),
                    "finished_at": datetime(2026, 11, 20, 2, 5, 0),
                    "status": "complete",
                    "tool_version": "0.1.0",
                    "config_sha256": "c" * 64,
                    "rulepack_sha256": "e" * 64,
                },
                {
                    "id": SCAN_ID,
                    "started_at": datetime(2026, 11, 21, 2, 0, 0, 123456),
                    "finished_at": datetime(2026, 11, 21, 2, 7, 30, 999999),
                    "status": seed.status,
                    "tool_version": "0.1.0",
                    "config_sha256": "c" * 64,
                    "rulepack_sha256": "f" * 64,
                },
            ],
        )
        conn.execute(insert(targets), target_rows)
        if coverage_rows:
            conn.execute(insert(coverage), coverage_rows)
        if finding_rows:
            conn.execute(insert(findings), finding_rows)
        # Rows of another scan must never leak into this scan's reports.
        if finding_rows:
            first = min(finding_rows, key=lambda r: str(r["id"]))  # whatever the insert order
            other = {**first, "scan_id": OTHER_SCAN_ID, "id": "fp-other-scan"}
            conn.execute(insert(findings), [other])
        if coverage_rows:
            first = min(coverage_rows, key=lambda r: (str(r["target"]), str(r["endpoint"])))
            other = {**first, "scan_id": OTHER_SCAN_ID, "endpoint": "teams"}
            conn.execute(insert(coverage), [other])


class MakeStore(Protocol):
    """Signature of the `make_store` fixture."""

    def __call__(
        self, seed: Seed | None = None, *, name: str = "snap", reverse: bool = False
    ) -> Engine: ...


# Findings on the token kinds (not in FINDINGS: the other tests count those).
CREDENTIAL_FINDINGS: list[dict[str, Any]] = [
    {"key": "tok001", "rule_id": "DDA-TOK-001", "severity": "medium", "status": "open",
     "target": 0, "resource_type": "access_token", "resource_id": "pat-1"},
    {"key": "oauth001", "rule_id": "DDA-OAUTH-001", "severity": "low", "status": "open",
     "target": 0, "resource_type": "oauth_client", "resource_id": "oc-1"},
]
FORMULA_NAME = '=HYPERLINK("http://evil","x")'


def insert_credentials(engine: Engine, seed: Seed | None = None) -> None:
    """Users and one credential of each kind for SCAN_ID (see test_reports_credentials)."""
    seed = seed or Seed()

    def scoped(t: int, **row: Any) -> dict[str, Any]:
        return {"scan_id": SCAN_ID, "target": seed.targets[t], "site": SITES[t],
                "org_public_id": ORG_IDS[t], **row}

    when = datetime(2026, 5, 1, 12, 0, 0)
    people = [
        scoped(0, id="u-alice", name="Alice", email="alice@example.com", status="Active",
               disabled=False, service_account=False),
        scoped(0, id="u-bob", name="Bob Departed", email="bob@example.com", status="Disabled",
               disabled=True, service_account=False),
        scoped(0, id="u-sa", name="ci-robot", email=None, status="Disabled", disabled=True,
               service_account=True),
        scoped(0, id="u-sa2", name="deploy-robot", email=None, status="Active", disabled=False,
               service_account=True),
    ]
    app_keys = [
        scoped(0, id="key-b", name="bob-admin-key", owner_id="u-bob", created_at=when,
               last_used_at=when, unscoped=False, leaked=False, listing="org"),
        scoped(0, id="key-open", name="alice-wide-key", owner_id="u-alice", created_at=when,
               last_used_at=None, unscoped=True, leaked=False, listing="org"),
        scoped(0, id="key-ghost", name="ghost-key", owner_id="u-ghost", created_at=when,
               last_used_at=None, unscoped=False, leaked=False, listing="org"),
    ]
    app_scopes = [scoped(0, key_id="key-b", scope=s)
                  for s in ("user_access_manage", "dashboards_read")]
    app_scopes.append(scoped(0, key_id="key-ghost", scope="dashboards_read"))
    keys = [
        scoped(1, id="leaky", name=FORMULA_NAME, created_by_id="u-eu-gone", created_at=when,
               date_last_used=None, last_used_date=datetime(2026, 11, 1), leaked=True),
        scoped(0, id="api-1", name="alice-api", created_by_id="u-alice", created_at=when,
               date_last_used=datetime(2026, 11, 2), last_used_date=datetime(2026, 11, 1),
               leaked=False),
    ]
    tokens = [
        scoped(0, id="pat-1", kind="personal", name="bob-pat", owner_id="u-bob",
               owner_type="users", created_at=when, expires_at=datetime(2027, 5, 1),
               last_used_at=when),
        scoped(0, id="sat-1", kind="service", name="ci-sat", owner_id="u-sa",
               owner_type="service_account", created_at=when, expires_at=None,
               last_used_at=None),
        scoped(0, id="sat-2", kind=None, name="deploy-sat", owner_id="u-sa2",
               owner_type="service_account", created_at=when, expires_at=None,
               last_used_at=None),
    ]
    token_scopes = [scoped(0, token_id="pat-1", scope="dashboards_read"),
                    scoped(0, token_id="sat-1", scope="org_management"),
                    scoped(0, token_id="sat-1", scope="dashboards_read")]
    clients = [scoped(0, id="oc-1", client_id="client-abc", disabled=False,
                      last_exercised=datetime(2026, 9, 1), user_count=3)]
    with engine.begin() as conn:
        for table, rows in ((users, people), (application_keys, app_keys),
                            (application_key_scopes, app_scopes), (api_keys, keys),
                            (access_tokens, tokens), (access_token_scopes, token_scopes),
                            (oauth_clients, clients)):
            conn.execute(insert(table), rows)
            other = {**rows[0], "scan_id": OTHER_SCAN_ID}  # another scan's rows never show
            conn.execute(insert(table), [other])
