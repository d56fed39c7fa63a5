"""The engine: coverage and not_assessed, DDA-SCAN-001, settings, ids, first_seen, order."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from reports.load import load_scan
from rules import Finding, RuleSettings, evaluate_scan, fingerprint
from rules.model import SEVERITY_RANK
from scanner.errors import ConfigError, NotFoundError
from scanner.store.schema import findings
from tests.rules.conftest import NOW, Snap


def test_not_assessed_replaces_results_for_that_org_only(snap):
    a = snap.target("a", org="pub-a", uuid="u-a")
    b = snap.target("b", org="pub-b", uuid="u-b")
    for t in (a, b):
        snap.user(t, "sa", sa=True)
        snap.app_key(t, "k", owner="sa", scopes=None)
    snap.coverage(a, "users", "forbidden", error="403 Forbidden")
    found = snap.evaluate()
    key4 = [f for f in found if f.rule_id == "DDA-KEY-004"]
    assert [(f.status, f.org_public_id, f.resource_type, f.resource_id) for f in key4] == [
        ("not_assessed", "pub-a", "org", "pub-a"),
        ("open", "pub-b", "application_key", "k"),
    ]
    assert key4[0].detail == "Not assessed for this org: users (forbidden) not fully collected."
    # a rule that does not need users still judges org a
    assert snap.hits(found, "DDA-KEY-001") == set()
    assert ("DDA-KEY-005", "not_assessed") not in {(f.rule_id, f.status) for f in found}
    scan = [f for f in found if f.rule_id == "DDA-SCAN-001"]
    assert [(f.status, f.resource_type, f.resource_id, f.target) for f in scan] == [
        ("open", "collection", "users", "a")]
    assert scan[0].detail == ("Endpoint users of target a is forbidden: 0 collected of "
                              "unknown expected (error: 403 Forbidden).")


def test_missing_coverage_row_and_unknown_org(snap):
    a = snap.target("a", org="pub-a", uuid="u-a")
    snap.drop_coverage(a, "okta_accounts")
    dark = snap.target("dark", org=None, uuid=None)
    snap.coverage(dark, "orgs", "failed", collected=0, error="timeout")
    snap.coverage(dark, "api_keys", "partial", collected=3, expected=5)
    found = snap.evaluate()
    okta = {(f.rule_id, f.resource_id, f.status, f.detail) for f in found
            if f.rule_id == "DDA-OKTA-001"}
    assert okta == {("DDA-OKTA-001", "pub-a", "not_assessed",
                     "Not assessed for this org: okta_accounts (missing) not fully collected.")}
    dark_org = {f.rule_id for f in found if f.resource_id == "dark"}
    assert {"DDA-ORG-001", "DDA-KEY-002", "DDA-MAP-004"} <= dark_org
    assert "DDA-KEY-004" not in dark_org
    assert snap.hits(found, "DDA-SCAN-001") == {"orgs", "api_keys"}
    partial = next(f for f in found if f.resource_id == "api_keys")
    assert "is partial: 3 collected of 5 expected (error: none)" in partial.detail
    assert partial.org_public_id is None


def test_disabled_rule_produces_nothing(snap):
    snap.target(saml_enabled=False)
    assert snap.hits(snap.evaluate(), "DDA-ORG-001")
    found = snap.evaluate(RuleSettings(disabled=frozenset({"DDA-ORG-001"})))
    assert not [f for f in found if f.rule_id == "DDA-ORG-001"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (RuleSettings(disabled=frozenset({"DDA-NOPE-001"})), "unknown rule DDA-NOPE-001"),
        (RuleSettings(params={"DDA-NOPE-001": {}}), "unknown rule DDA-NOPE-001"),
        (RuleSettings(params={"DDA-KEY-001": {"stale": 3}}), "unknown parameter stale"),
        (RuleSettings(params={"DDA-KEY-001": {"stale_days": "3"}}), "stale_days must be"),
        (RuleSettings(params={"DDA-KEY-001": {"stale_days": True}}), "stale_days must be"),
        (RuleSettings(params={"pack": {"privileged_permissions": "admin"}}), "list of strings"),
        (RuleSettings(params={"pack": {"stale_days": 1}}), "unknown parameter stale_days"),
    ],
)
def test_bad_settings_are_config_errors(snap, settings, message):
    snap.target()
    with pytest.raises(ConfigError, match=message):
        snap.evaluate(settings)


def test_unknown_scan(snap, pack, engine):
    from rules import evaluate_scan

    with pytest.raises(NotFoundError, match="scan nope is not in the database"):
        evaluate_scan(engine, "nope", pack, RuleSettings())


def test_findings_rows_sorted_and_reproducible(snap, engine):
    t = snap.target(saml_enabled=False, private_widget_share=True)
    snap.app_key(t, "b-leak", leaked=True)
    snap.api_key(t, "a-leak", leaked=True)
    snap.app_key(t, "old", created=snap.ago(500), last_used=snap.ago(200))
    first = snap.evaluate()
    second = snap.evaluate()
    assert first == second
    keys = [f.sort_key for f in first]
    assert keys == sorted(keys)
    assert [f.rule_id for f in first][:3] == ["DDA-KEY-007", "DDA-KEY-007", "DDA-ORG-001"]
    assert [f.resource_id for f in first][:2] == ["a-leak", "b-leak"]
    assert [SEVERITY_RANK[f.severity] for f in first] == sorted(
        SEVERITY_RANK[f.severity] for f in first)
    with engine.connect() as conn:
        rows = conn.execute(select(findings).order_by(findings.c.id)).mappings().all()
    assert len(rows) == len(first)  # the second run replaced the first run's rows
    row = next(r for r in rows if r["resource_id"] == "a-leak")
    assert json.loads(row["controls"]) == ["SOC2:CC6.1", "SOC2:CC7.2", "ISO27001:5.17",
                                           "NIST800-53:IA-5", "CIS8:6.2"]
    assert row["id"] == fingerprint("DDA-KEY-007", "datadoghq.com", "pub-prod", "api_key",
                                    "a-leak")
    assert row["first_seen"] == NOW and row["suppression"] is None


def test_ids_stable_and_first_seen_carried(engine, pack):
    earlier = NOW - timedelta(days=1)
    s1 = Snap(engine, pack, "scan-1", earlier)
    t1 = s1.target(saml_enabled=False)
    s1.app_key(t1, "leak", leaked=True)
    found1 = {f.id: f for f in s1.evaluate()}
    s2 = Snap(engine, pack, "scan-2", NOW)
    t2 = s2.target(saml_enabled=False)
    s2.app_key(t2, "leak", leaked=True)
    s2.app_key(t2, "leak-new", leaked=True)
    found2 = {f.id: f for f in s2.evaluate()}
    carried = {f.resource_id: f.first_seen for f in found2.values()
               if f.rule_id in ("DDA-ORG-001", "DDA-KEY-007")}
    assert carried == {"pub-prod": earlier, "leak": earlier, "leak-new": NOW}
    assert {i for i, f in found2.items() if f.resource_id != "leak-new"} == set(found1)
    # re-evaluating the earlier scan is not influenced by the later one
    assert {f.id: f for f in s1.evaluate()} == found1


def test_first_seen_ignores_not_assessed_history(engine, pack):
    s1 = Snap(engine, pack, "scan-1", NOW - timedelta(days=3))
    t1 = s1.target()
    s1.coverage(t1, "orgs", "forbidden")
    assert [f.status for f in s1.evaluate() if f.rule_id == "DDA-ORG-001"] == ["not_assessed"]
    s2 = Snap(engine, pack, "scan-2", NOW)
    s2.target(saml_enabled=False)
    org1 = [f for f in s2.evaluate() if f.rule_id == "DDA-ORG-001"]
    assert [(f.status, f.first_seen) for f in org1] == [("open", NOW)]


def test_duplicate_targets_of_one_org_give_one_finding(snap):
    snap.target("one", org="pub-x", uuid="u-x", saml_enabled=False)
    snap.target("two", org="pub-x", uuid="u-x", saml_enabled=False)
    assert [f.target for f in snap.evaluate() if f.rule_id == "DDA-ORG-001"] == ["one"]


def test_reports_read_the_same_findings_in_the_one_order(snap, engine):
    """The reports load rules.Finding through the engine's reader, in Finding.sort_key order:
    code points (upper case before lower), then resource type and id break ties."""
    t = snap.target()
    for kid in ("b-key", "B-key", "é-key", "a-key"):
        snap.app_key(t, kid, created=snap.ago(400))
    snap.api_key(t, "a-key", created=snap.ago(400))  # same rule, org and id: another type
    result = evaluate_scan(engine, snap.scan_id, snap.pack, RuleSettings())
    loaded = load_scan(engine, snap.scan_id).findings
    assert loaded == tuple(result)
    assert all(isinstance(f, Finding) for f in loaded)
    assert [f.sort_key for f in loaded] == sorted(f.sort_key for f in loaded)
    rotation = [(f.resource_id, f.resource_type) for f in loaded if f.rule_id == "DDA-KEY-003"]
    assert rotation == [("B-key", "application_key"), ("a-key", "api_key"),
                        ("a-key", "application_key"), ("b-key", "application_key"),
                        ("é-key", "application_key")]
    first = loaded[0]
    assert first.sort_key == (SEVERITY_RANK[first.severity], first.rule_id, first.site,
                              first.org_public_id or "", first.resource_id,
                              first.resource_type, first.id)
