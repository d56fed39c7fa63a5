"""The whole pack over one estate where every rule fires: exact findings, not_assessed per
rule and endpoint, ids stable across scans and target renames, batching."""

from __future__ import annotations

from datetime import timedelta

import pytest

import rules.evaluate
import rules.findings_writer
import rules.first_seen
from rules import Finding, RuleSettings
from scanner.store.schema import ENDPOINTS
from tests.rules.conftest import NOW, Snap, Tgt

# (rule, target, resource id) of every finding of the estate built by _estate().
EXPECTED: set[tuple[str, str, str]] = {
    ("DDA-CONN-001", "a", "c-out"),
    ("DDA-CONN-002", "a", "c-out"),
    ("DDA-CONN-003", "a", "c-out"),
    ("DDA-KEY-001", "a", "k-stale"),
    ("DDA-KEY-002", "a", "a-old"),
    ("DDA-KEY-003", "a", "a-old"),
    ("DDA-KEY-003", "a", "k-stale"),
    ("DDA-KEY-004", "a", "k-sa-unscoped"),
    ("DDA-KEY-005", "a", "k-priv"),
    ("DDA-KEY-006", "a", "a-gone"),
    ("DDA-KEY-007", "a", "a-leak"),
    ("DDA-KEY-007", "a", "k-leak"),
    ("DDA-MAP-001", "a", "m-ghost"),
    ("DDA-MAP-002", "a", "m-admin"),
    ("DDA-MAP-002", "a", "m-multi2"),
    ("DDA-MAP-003", "a", "m-multi1"),
    ("DDA-MAP-003", "a", "m-multi2"),
    ("DDA-MAP-004", "b", "pub-b"),
    ("DDA-OKTA-001", "a", "ok-tok"),
    ("DDA-OKTA-002", "a", "ok-tok"),
    ("DDA-OKTA-002", "b", "ok-b"),
    ("DDA-ORG-001", "c", "pub-c"),
    ("DDA-ORG-002", "a", "pub-a"),
    ("DDA-ORG-003", "a", "pub-a"),
    ("DDA-ORG-004", "a", "pub-a"),
    ("DDA-ORG-005", "a", "pub-a"),
    ("DDA-ORG-006", "a", "pub-a"),
    ("DDA-ORG-007", "a", "pub-orphan"),
    ("DDA-ROLE-001", "a", "manual"),
    ("DDA-SA-001", "a", "sa-admin"),
    ("DDA-SA-002", "a", "sa-idle"),
    ("DDA-SA-003", "a", "sa-many"),
    ("DDA-SA-003", "a", "sa-mixed"),
    ("DDA-TOK-001", "a", "t-forever"),
    ("DDA-TOK-002", "a", "t-long"),
    ("DDA-TOK-002", "a", "t-stale"),  # stale and not yet expired: it lives over 90 days
    ("DDA-TOK-003", "a", "t-stale"),
    ("DDA-TOK-004", "a", "t-bob"),
    ("DDA-TOK-005", "a", "t-priv"),
    ("DDA-OAUTH-001", "a", "o-stale"),
}


def _estate(snap: Snap, names: tuple[str, str, str] = ("a", "b", "c")) -> tuple[Tgt, Tgt, Tgt]:
    """Three orgs: `a` trips every rule it can, `b` has SAML but no role mapping, `c` no SAML."""
    a = snap.target(names[0], org="pub-a", uuid="u-a", saml_strict_mode=False,
                    saml_autocreate_access_role="adm", saml_idp_initiated_login=True,
                    saml_autocreate_domains_enabled=True, private_widget_share=True)
    b = snap.target(names[1], org="pub-b", uuid="u-b")
    c = snap.target(names[2], org="pub-c", uuid="u-c", saml_enabled=False)
    snap.domain(a, "gmail.com")
    snap.child(a, "pub-b", "u-b", "B")  # covered by a target
    snap.child(a, "pub-orphan", "u-orphan", "Orphan")
    snap.role(a, "admin", "Datadog Admin Role")
    snap.role(a, "umg", "Access managers", ["user_access_manage"])
    snap.role(a, "ro", "Datadog Read Only Role", ["dashboards_read"])
    snap.role(a, "manual", "Hand-granted", ["dashboards_write"])
    snap.user(a, "alice")
    snap.user(a, "bob", disabled=True)
    for sa in ("sa-admin", "sa-idle", "sa-many", "sa-token-only", "sa-mixed"):
        snap.user(a, sa, sa=True)
    snap.grant(a, "alice", "manual")
    snap.grant(a, "alice", "ro")
    snap.grant(a, "bob", "umg")
    snap.grant(a, "sa-admin", "admin")
    fresh = {"created": snap.ago(10), "last_used": snap.ago(1)}
    snap.app_key(a, "k-stale", owner="alice", created=snap.ago(400), last_used=snap.ago(100))
    snap.app_key(a, "k-fresh", owner="alice", **fresh)
    snap.app_key(a, "k-sa-unscoped", owner="sa-admin", scopes=None, **fresh)
    snap.app_key(a, "k-priv", owner="alice", scopes=["user_access_manage", "dashboards_read"],
                 **fresh)
    snap.app_key(a, "k-leak", owner="alice", leaked=True, **fresh)
    for i in range(3):
        snap.app_key(a, f"m{i}", owner="sa-many", **fresh)
    snap.api_key(a, "a-gone", created_by="bob")
    snap.api_key(a, "a-old", created=snap.ago(400), last_used=snap.ago(100))
    snap.api_key(a, "a-ok", created_by="alice", **fresh)
    snap.api_key(a, "a-leak", leaked=True, **fresh)
    snap.mapping(a, "m-ro", "group", "readers", role="ro")
    snap.mapping(a, "m-admin", "group", "admins", role="admin")
    snap.mapping(a, "m-ghost", "group", "ghosts", role="r-deleted")
    snap.mapping(a, "m-multi1", "group", "eng", role="ro")
    snap.mapping(a, "m-multi2", "group", "eng", role="umg")
    snap.connection(a, "c-out", "u-a", "u-stranger", types=["logs"], created_by="bob")
    snap.connection(a, "c-in", "u-b", "u-a", types=["metrics"])  # judged from b's side
    snap.okta(a, "ok-tok", "shared.okta.com", "api_token")
    snap.okta(b, "ok-b", "shared.okta.com")
    snap.app_key(c, "c-key", **fresh)
    used = {"last_used": snap.ago(1)}
    snap.token(a, "t-forever", "sa-token-only", kind="service", never_expires=True, **used)
    snap.token(a, "t-long", "alice", expires=snap.ago(-300), **used)
    snap.token(a, "t-stale", "alice", created=snap.ago(200), last_used=snap.ago(120))
    snap.token(a, "t-bob", "bob", **used)
    snap.token(a, "t-priv", "alice", scopes=["api_keys_write"], **used)
    snap.token(a, "t-ok", "alice", **used)
    for i in range(2):
        snap.app_key(a, f"mx{i}", owner="sa-mixed", **fresh)
    snap.token(a, "t-mixed", "sa-mixed", kind="service", **used)
    snap.oauth_client(a, "o-stale", exercised=snap.ago(100))
    snap.oauth_client(a, "o-ok", exercised=snap.ago(5))
    return a, b, c


def _keys(found: list[Finding], status: str = "open") -> set[tuple[str, str, str]]:
    return {(f.rule_id, f.target, f.resource_id) for f in found if f.status == status}


def test_every_rule_fires_exactly_where_expected(snap: Snap) -> None:
    _estate(snap)
    found = snap.evaluate()
    assert _keys(found) == EXPECTED
    assert {f.status for f in found} == {"open"}
    fired = {rule for rule, _, _ in EXPECTED}
    assert fired == {r.id for r in snap.pack.rules} - {"DDA-SCAN-001"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_not_assessed_for_each_rule_reading_the_endpoint(snap: Snap, endpoint: str) -> None:
    """Endpoint forbidden in org a: every rule reading it is not_assessed there, and only there."""
    a, _, _ = _estate(snap)
    snap.coverage(a, endpoint, "forbidden", error="403 Forbidden")
    found = snap.evaluate()
    for rule in snap.pack.rules:
        mine = {(f.status, f.resource_type, f.resource_id)
                for f in found if f.rule_id == rule.id and f.target == "a"}
        if endpoint in {i.split(".")[0] for i in rule.inputs}:  # the endpoint or a part
            assert mine == {("not_assessed", "org", "pub-a")}, rule.id
        elif rule.id == "DDA-SCAN-001":
            assert mine == {("open", "collection", endpoint)}
        else:
            assert {(status, rid) for status, _, rid in mine} == {
                ("open", rid) for r, t, rid in EXPECTED if r == rule.id and t == "a"}, rule.id
        others = {(f.status, f.target, f.resource_id) for f in found
                  if f.rule_id == rule.id and f.target != "a"}
        assert others == {("open", t, rid) for r, t, rid in EXPECTED
                          if r == rule.id and t != "a"}, rule.id


def test_ids_stable_across_scans_and_target_renames(engine, pack) -> None:
    first = Snap(engine, pack, "scan-1", NOW - timedelta(days=1))
    _estate(first)
    ids1 = {(f.rule_id, f.resource_id): f.id for f in first.evaluate()}
    second = Snap(engine, pack, "scan-2", NOW)
    _estate(second, names=("prod-a", "prod-b", "prod-c"))
    found2 = second.evaluate()
    assert {(f.rule_id, f.resource_id): f.id for f in found2} == ids1
    assert {f.first_seen for f in found2} == {NOW - timedelta(days=1)}


def test_batches_give_the_same_result(snap: Snap, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny fetch, write and lookup batches (with history to carry) change nothing."""
    _estate(snap)
    reference = snap.evaluate()
    later = Snap(snap.engine, snap.pack, "scan-2", NOW + timedelta(days=1))
    _estate(later)
    expected = later.evaluate()
    monkeypatch.setattr(rules.evaluate, "_FETCH", 2)
    monkeypatch.setattr(rules.findings_writer, "WRITE", 3)
    monkeypatch.setattr(rules.first_seen, "LOOKUP", 2)
    assert later.evaluate() == expected
    assert snap.evaluate() == reference
    assert {f.first_seen for f in expected} == {NOW}


def test_evaluated_view(snap: Snap) -> None:
    _estate(snap)
    settings = RuleSettings(disabled=frozenset({"DDA-ORG-001"}))
    result = rules.evaluate_scan(snap.engine, snap.scan_id, snap.pack, settings)
    listed = list(result)
    assert len(result) == len(listed) == len(EXPECTED) - 1
    assert [f.sort_key for f in listed] == sorted(f.sort_key for f in listed)
    assert result == listed and result[0] == listed[0] and result[-1] == listed[-1]
    assert result[2:5] == listed[2:5]
    with pytest.raises(IndexError):
        result[len(listed)]
    assert result.tally() == len(listed)
    assert result.tally(status="open", at_or_above="high") == sum(
        1 for f in listed if f.severity in ("critical", "high"))
    assert result.tally(at_or_above="critical") == 2
    runs = {r.rule_id: r.findings for r in result.rule_runs}
    assert "DDA-ORG-001" not in runs
    assert list(runs) == [r.id for r in snap.pack.rules if r.id != "DDA-ORG-001"]
    assert runs["DDA-KEY-007"] == 2 and sum(runs.values()) == len(listed)
