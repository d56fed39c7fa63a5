"""The demo estate triggers every rule (per the oracle) and keeps its near misses clean."""

from __future__ import annotations

from datetime import datetime

import pytest

from rules import load_rulepack
from scanner.simulator.model import Estate
from tests.oracle import (
    RULE_INPUTS,
    Finding,
    expected_findings,
    expected_not_assessed,
    findings_for,
    normalise_domain,
)

ALL_RULES = [rule.id for rule in load_rulepack().rules]  # the built-in pack, sorted by id
# The oracle's own list: every rule it models inputs for, and the coverage rule.
ORACLE_RULES = sorted({*RULE_INPUTS, "DDA-SCAN-001"})


def ids_named(estate: Estate, name: str) -> set[str]:
    """Ids of every resource (key, user, mapping value, role, okta account) called `name`."""
    out: set[str] = set()
    for org in estate.orgs:
        out |= {k.id for k in org.app_keys if k.name == name}
        out |= {k.id for k in org.api_keys if k.name == name}
        out |= {u.id for u in org.users if u.name == name}
        out |= {r.id for r in org.roles if r.name == name}
        out |= {m.id for m in org.mappings if m.attribute_value == name}
        out |= {a.id for a in org.okta_accounts if a.name == name}
    assert out, name
    return out


def flagged(findings: set[Finding], rule: str) -> set[str]:
    return {f[4] for f in findings if f[0] == rule}


@pytest.fixture
def findings(estate: Estate, now: datetime) -> set[Finding]:
    return expected_findings(estate, now=now)


def test_every_rule_fires(findings: set[Finding]) -> None:
    # The oracle models exactly the pack's rules: a rule added to one but not the other fails.
    assert ALL_RULES == ORACLE_RULES
    fired = {f[0] for f in findings}
    # DDA-SCAN-001 too: one key pair lacks org_app_keys_read, so its keys are partial.
    assert set(ALL_RULES) == fired


TRIGGERS = [
    ("DDA-KEY-001", ["legacy-export", "never-used-old"]),
    ("DDA-KEY-002", ["stale-agent", "never-used-agent"]),
    ("DDA-KEY-003", ["rotation-overdue", "old-agent"]),
    ("DDA-KEY-004", ["unscoped-sa-key", "empty-scopes-sa-key"]),
    ("DDA-KEY-005", ["priv-scope", "personal-user-manage"]),
    ("DDA-KEY-006", ["departed-agent", "status-disabled-agent", "orphan-agent"]),
    ("DDA-KEY-007", ["leaked-app-key", "leaked-agent"]),
    ("DDA-SA-001", ["svc-admin-automation", "svc-user-provisioner"]),
    ("DDA-SA-002", ["svc-idle"]),
    ("DDA-SA-003", ["svc-many-keys"]),
    ("DDA-MAP-001", ["dd-deleted-role", "team-deleted"]),
    ("DDA-MAP-002", ["dd-admins", "dd-org-managers"]),
    ("DDA-ROLE-001", ["Break-glass"]),
    ("DDA-OKTA-001", ["okta-legacy-token"]),
    ("DDA-OKTA-002", ["okta-acme", "okta-acme-eu"]),
]
NEAR_MISSES = [
    ("DDA-KEY-001", ["almost-stale", "fresh-never-used", "untracked-old-app-key"]),
    ("DDA-KEY-002", ["almost-stale-agent", "new-unused-agent", "untracked-old-api-key"]),
    ("DDA-KEY-003", ["rotation-soon", "rotation-soon-agent"]),
    ("DDA-KEY-004", ["personal-unscoped", "priv-scope"]),
    ("DDA-KEY-005", ["read-scopes-only", "unscoped-sa-key"]),
    ("DDA-KEY-006", ["pending-agent", "stale-agent"]),
    ("DDA-KEY-007", ["rotation-overdue", "stale-agent"]),
    ("DDA-SA-001", ["svc-retired-admin", "svc-key-rotator"]),
    ("DDA-SA-002", ["svc-brand-new", "svc-idle-disabled"]),
    ("DDA-SA-003", ["svc-legacy-export"]),
    ("DDA-MAP-001", ["dd-admins", "sre"]),
    ("DDA-MAP-002", ["dd-key-rotators"]),
    ("DDA-MAP-003", ["sre", "dd-admins"]),
    ("DDA-ROLE-001", ["Legacy Ops", "Bots"]),
    ("DDA-OKTA-001", ["okta-acme"]),
    ("DDA-OKTA-002", ["okta-acme-dev", "okta-legacy-token"]),
]


@pytest.mark.parametrize(("rule", "names"), TRIGGERS)
def test_deliberate_triggers(estate: Estate, findings: set[Finding], rule: str,
                             names: list[str]) -> None:
    for name in names:
        assert ids_named(estate, name) <= flagged(findings, rule), name


@pytest.mark.parametrize(("rule", "names"), NEAR_MISSES)
def test_near_misses(estate: Estate, findings: set[Finding], rule: str, names: list[str]) -> None:
    for name in names:
        assert not ids_named(estate, name) & flagged(findings, rule), name


def test_memberof_platform_eng_is_a_near_miss(estate: Estate, findings: set[Finding]) -> None:
    hits = [m for o in estate.orgs for m in o.mappings if m.attribute_value == "platform-eng"]
    flagged_ids = flagged(findings, "DDA-MAP-003")
    assert {m.attribute_key for m in hits if m.id in flagged_ids} == {"groups"}
    assert all(m.id not in flagged_ids for m in hits if m.attribute_key == "memberOf")


def test_org_rules(estate: Estate, findings: set[Finding]) -> None:
    orgs = estate.scanned_orgs
    by_rule = {r: flagged(findings, r) for r in ("DDA-ORG-001", "DDA-ORG-002", "DDA-ORG-003",
                                                 "DDA-ORG-004", "DDA-ORG-005", "DDA-ORG-006",
                                                 "DDA-MAP-004")}
    assert by_rule["DDA-ORG-001"] == {orgs[2].public_id}
    assert by_rule["DDA-ORG-002"] == by_rule["DDA-ORG-006"] == {orgs[3].public_id}
    assert by_rule["DDA-ORG-003"] == by_rule["DDA-ORG-004"] == {orgs[4].public_id}
    assert by_rule["DDA-ORG-005"] == {orgs[5].public_id}
    assert by_rule["DDA-MAP-004"] == {orgs[6].public_id}
    assert orgs[7].public_id not in set().union(*by_rule.values())
    parent = orgs[0]
    sandbox = [o for o in estate.orgs if o.parent_public_id == parent.public_id
               and estate.target_for(o.public_id) is None]
    assert findings_for(findings, "DDA-ORG-007") == {
        ("DDA-ORG-007", parent.site, parent.public_id, "org", sandbox[0].public_id)}
    # The unscanned child is judged by nothing else.
    assert not {f for f in findings if sandbox[0].public_id in (f[2],) and f[0] != "DDA-ORG-007"}


def test_connections(estate: Estate, findings: set[Finding]) -> None:
    org = estate.scanned_orgs[13]
    conn = findings_for(findings, "DDA-CONN-001", "DDA-CONN-002", "DDA-CONN-003")
    assert all(f[2] == org.public_id for f in conn)
    partner = "Partner Analytics Inc"
    assert flagged(conn, "DDA-CONN-001") == {
        c.id for c in org.connections if partner in (c.sink.name, c.source.name)}
    sink_only = next(c for c in org.connections if c.source.name == partner)
    for rule in ("DDA-CONN-001", "DDA-CONN-002"):
        assert sink_only.id in flagged(conn, rule)
    # Its creator is a user of the unscanned source org: DDA-CONN-003 does not judge it.
    assert sink_only.id not in flagged(conn, "DDA-CONN-003")
    scanned_peer = next(c for c in org.connections if c.sink.uuid == estate.scanned_orgs[0].uuid
                        and c.created_by_name == "Audit Bot Owner")
    assert scanned_peer.id not in {f[4] for f in conn}  # judged once, clean


def test_domain_normalisation() -> None:
    assert normalise_domain("https://ACME.okta.com") == normalise_domain("https://acme.okta.com/")


def test_forbidden_and_not_assessed(estate: Estate, now: datetime) -> None:
    target = estate.targets[10]
    estate.revoke(target.name, "api_keys_read")
    found = expected_findings(estate, now=now, forbidden={estate.targets[0].name: {"teams"}})
    scan = findings_for(found, "DDA-SCAN-001")
    gap = next(t for t in estate.targets if "org_app_keys_read" not in t.permissions)
    assert scan == {
        ("DDA-SCAN-001", target.site, target.org_public_id, "collection", "api_keys"),
        ("DDA-SCAN-001", estate.targets[0].site, estate.targets[0].org_public_id, "collection",
         "teams"),
        ("DDA-SCAN-001", gap.site, gap.org_public_id, "collection", "application_keys"),
        ("DDA-SCAN-001", gap.site, gap.org_public_id, "collection", "access_tokens"),
    }
    other = estate.targets[11]  # the API-key scenarios are in another org: still judged
    assert any(f[0] == "DDA-KEY-002" and f[2] == other.org_public_id for f in found)
    assert not any(f[0] in ("DDA-KEY-002", "DDA-KEY-003", "DDA-KEY-006", "DDA-KEY-007")
                   and f[2] == target.org_public_id for f in found)
    na = expected_not_assessed(estate, forbidden={estate.targets[0].name: {"teams"}})
    assert ("DDA-KEY-002", target.site, target.org_public_id, "org", target.org_public_id) in na
    assert ("DDA-MAP-001", estate.targets[0].site, estate.targets[0].org_public_id, "org",
            estate.targets[0].org_public_id) in na
    assert not {f for f in na if f[0] == "DDA-KEY-002" and f[2] != target.org_public_id}


def test_without_the_org_wide_key_listing_application_keys_are_not_assessed(
    estate: Estate, now: datetime
) -> None:
    # The per-service-account fallback cannot see keys owned by users: the endpoint is
    # partial, so DDA-SCAN-001 names it and every rule reading application keys is not
    # assessed for that org (and only that org).
    gap = next(t for t in estate.targets if "org_app_keys_read" not in t.permissions)
    found = expected_findings(estate, now=now)
    assert findings_for(found, "DDA-SCAN-001") == {
        ("DDA-SCAN-001", gap.site, gap.org_public_id, "collection", "application_keys"),
        ("DDA-SCAN-001", gap.site, gap.org_public_id, "collection", "access_tokens")}
    na = expected_not_assessed(estate)
    assert {f[0] for f in na} == {r for r, needs in RULE_INPUTS.items()
                                  if {"application_keys", "access_tokens"} & needs}
    assert {f[2] for f in na} == {gap.org_public_id}
    assert not {f for f in found if f[2] == gap.org_public_id and f[0] != "DDA-SCAN-001"
                and "application_keys" in RULE_INPUTS[f[0]]}


def test_params_and_trusted_orgs(estate: Estate, now: datetime) -> None:
    base = expected_findings(estate, now=now)
    looser = expected_findings(estate, now=now, params={"DDA-KEY-001": {"stale_days": 80}})
    assert ids_named(estate, "almost-stale") <= flagged(looser, "DDA-KEY-001")
    assert flagged(base, "DDA-KEY-001") < flagged(looser, "DDA-KEY-001")
    untrusting = expected_findings(estate, now=now, trusted_orgs=[])
    assert len(flagged(untrusting, "DDA-CONN-001")) == len(flagged(base, "DDA-CONN-001")) + 3
