"""Built-in org connection and Okta rules: triggers, near misses, judged-once semantics."""

from __future__ import annotations

from rules import RuleSettings


def _estate(snap):
    a = snap.target("a", org="pub-a", uuid="uuid-a")
    b = snap.target("b", org="pub-b", uuid="uuid-b")
    return a, b


def test_conn_001_unknown_peer(snap):
    a, b = _estate(snap)
    snap.connection(a, "internal", "uuid-a", "uuid-b")
    snap.connection(b, "internal", "uuid-a", "uuid-b")  # seen from both ends
    snap.connection(a, "out", "uuid-a", "uuid-stranger")
    snap.connection(b, "in", "uuid-stranger2", "uuid-b")  # judged from the sink
    snap.connection(a, "trusted", "uuid-a", "uuid-partner")
    found = snap.evaluate(RuleSettings(trusted_orgs=frozenset({"UUID-PARTNER"})))
    conn = [f for f in found if f.rule_id == "DDA-CONN-001"]
    assert {(f.resource_id, f.org_public_id) for f in conn} == {
        ("out", "pub-a"), ("in", "pub-b")}
    detail = next(f.detail for f in conn if f.resource_id == "in")
    assert detail == ("Connection uuid-stranger2 -> uuid-b links this org (sink) with "
                      "uuid-stranger2 (uuid-stranger2), which is neither scanned nor trusted.")
    assert snap.hits(snap.evaluate(), "DDA-CONN-001") == {"out", "in", "trusted"}


def test_conn_002_logs_or_audit_judged_once(snap):
    a, b = _estate(snap)
    snap.connection(a, "logs", "uuid-a", "uuid-b", types=["logs", "metrics"])
    snap.connection(b, "logs", "uuid-a", "uuid-b", types=["logs", "metrics"])
    snap.connection(b, "audit", "uuid-b", "uuid-a", types=["audit"])
    snap.connection(a, "metrics", "uuid-a", "uuid-b", types=["metrics"])
    found = [f for f in snap.evaluate() if f.rule_id == "DDA-CONN-002"]
    assert sorted((f.resource_id, f.org_public_id) for f in found) == [
        ("audit", "pub-b"), ("logs", "pub-a")]
    assert "shares logs data" in next(f.detail for f in found if f.resource_id == "logs")


def test_conn_003_creator_departed(snap):
    a, b = _estate(snap)
    snap.user(a, "alive")
    snap.user(a, "gone", disabled=True)
    snap.user(b, "b-user")
    snap.user(b, "b-gone", status="Disabled", disabled=None)
    snap.connection(a, "c-alive", "uuid-a", "uuid-x", created_by="alive")
    snap.connection(a, "c-gone", "uuid-a", "uuid-x", created_by="gone")
    snap.connection(a, "c-unknown", "uuid-a", "uuid-x", created_by="nobody")
    snap.connection(b, "c-b-gone", "uuid-b", "uuid-x", created_by="b-gone")
    snap.connection(b, "c-b-alive", "uuid-b", "uuid-x", created_by="b-user")  # near miss
    # between two scanned orgs, seen from both ends: judged once, at its source (a)
    snap.connection(a, "c-both", "uuid-a", "uuid-b", created_by="gone")
    snap.connection(b, "c-both", "uuid-a", "uuid-b", created_by="gone")
    # seen only from its sink: created in the unscanned source org by one of its users,
    # so never among b's users. Not judged by CONN-003 (a false positive on every
    # inbound connection otherwise); CONN-001 reports the outside org.
    snap.connection(b, "c-sink", "uuid-y", "uuid-b", created_by="somebody")
    snap.connection(b, "c-sink-b-gone", "uuid-y", "uuid-b", created_by="b-gone")
    found = snap.evaluate()
    conn3 = [f for f in found if f.rule_id == "DDA-CONN-003"]
    assert sorted((f.resource_id, f.org_public_id) for f in conn3) == [
        ("c-b-gone", "pub-b"), ("c-both", "pub-a"), ("c-gone", "pub-a"),
        ("c-unknown", "pub-a")]
    details = {f.resource_id: f.detail for f in conn3}
    assert details["c-unknown"] == ("Connection uuid-a -> uuid-x was created by nobody "
                                    "(nobody), who is not among the org's users.")
    assert details["c-b-gone"].endswith("(b-gone), who is disabled.")
    assert {"c-sink", "c-sink-b-gone"} <= snap.hits(found, "DDA-CONN-001")


def test_okta_001_static_token(snap):
    t = snap.target()
    snap.okta(t, "tok", "acme.okta.com", "api_token")
    snap.okta(t, "oauth", "acme2.okta.com", "OAuth")
    assert snap.hits(snap.evaluate(), "DDA-OKTA-001") == {"tok"}


def test_okta_002_duplicate_domain_across_estate(snap):
    a, b = _estate(snap)
    snap.okta(a, "a1", "acme.okta.com")
    snap.okta(b, "b1", "acme.okta.com")
    snap.okta(a, "a2", "other.okta.com")
    snap.okta(b, "a2", "third.okta.com")  # same account id elsewhere, different domain
    found = snap.evaluate()
    assert snap.hits(found, "DDA-OKTA-002") == {"a1", "b1"}
    assert "configured in 2 Okta accounts" in next(
        f.detail for f in found if f.rule_id == "DDA-OKTA-002")
