"""Built-in key rules (DDA-KEY-001..007): each fires, and its near miss does not."""

from __future__ import annotations

from rules import RuleSettings


def test_key_001_stale_application_key(snap):
    t = snap.target()
    snap.app_key(t, "old-use", created=snap.ago(400), last_used=snap.ago(91))
    snap.app_key(t, "recent-use", created=snap.ago(400), last_used=snap.ago(89))
    snap.app_key(t, "never-old", created=snap.ago(91))
    snap.app_key(t, "never-young", created=snap.ago(89))
    found = snap.evaluate()
    assert snap.hits(found, "DDA-KEY-001") == {"old-use", "never-old"}
    detail = next(f.detail for f in found if f.resource_id == "never-old"
                  and f.rule_id == "DDA-KEY-001")
    assert detail == ("Application key name-never-old was last used never "
                      "(created 2026-08-22); the limit is 90 days.")


def test_key_001_org_not_tracking_use_means_unknown(snap):
    t = snap.target()
    snap.app_key(t, "never-old", created=snap.ago(500))
    assert snap.hits(snap.evaluate(), "DDA-KEY-001") == set()


def test_key_001_parameter_override(snap):
    t = snap.target()
    snap.app_key(t, "k", created=snap.ago(400), last_used=snap.ago(61))
    assert snap.hits(snap.evaluate(), "DDA-KEY-001") == set()
    settings = RuleSettings(params={"DDA-KEY-001": {"stale_days": 60}})
    assert snap.hits(snap.evaluate(settings), "DDA-KEY-001") == {"k"}


def test_key_002_stale_api_key(snap):
    t = snap.target()
    snap.api_key(t, "old-use", created=snap.ago(400), last_used=snap.ago(91))
    snap.api_key(t, "recent-use", created=snap.ago(400), last_used=snap.ago(89))
    snap.api_key(t, "never-old", created=snap.ago(91))
    snap.api_key(t, "never-young", created=snap.ago(89))
    assert snap.hits(snap.evaluate(), "DDA-KEY-002") == {"old-use", "never-old"}


def test_key_002_org_not_tracking_use(snap):
    t = snap.target()
    snap.api_key(t, "never-old", created=snap.ago(500))
    snap.app_key(t, "app", created=snap.ago(500), last_used=snap.ago(1))  # other kind tracks
    assert snap.hits(snap.evaluate(), "DDA-KEY-002") == set()


def test_key_003_rotation_each_kind(snap):
    t = snap.target()
    snap.app_key(t, "app-old", created=snap.ago(366), last_used=snap.ago(1))
    snap.app_key(t, "app-young", created=snap.ago(364), last_used=snap.ago(1))
    snap.api_key(t, "api-old", created=snap.ago(366), last_used=snap.ago(1))
    snap.api_key(t, "api-young", created=snap.ago(364), last_used=snap.ago(1))
    found = [f for f in snap.evaluate() if f.rule_id == "DDA-KEY-003"]
    assert {(f.resource_type, f.resource_id) for f in found} == {
        ("application_key", "app-old"),
        ("api_key", "api-old"),
    }


def test_key_004_unscoped_service_account_key(snap):
    t = snap.target()
    snap.user(t, "sa", sa=True)
    snap.user(t, "human")
    snap.app_key(t, "sa-unscoped", owner="sa", scopes=None)
    snap.app_key(t, "sa-empty", owner="sa", scopes=[])
    snap.app_key(t, "sa-scoped", owner="sa", scopes=["dashboards_read"])
    snap.app_key(t, "human-unscoped", owner="human", scopes=None)
    assert snap.hits(snap.evaluate(), "DDA-KEY-004") == {"sa-unscoped", "sa-empty"}


def test_key_005_privileged_scope(snap):
    t = snap.target()
    snap.app_key(t, "priv", scopes=["dashboards_read", "org_management", "api_keys_write"])
    snap.app_key(t, "legacy", scopes=["admin"])
    snap.app_key(t, "plain", scopes=["dashboards_read", "api_keys_read"])
    snap.app_key(t, "unscoped", scopes=None)
    found = snap.evaluate()
    assert snap.hits(found, "DDA-KEY-005") == {"priv", "legacy"}
    detail = next(f.detail for f in found if f.rule_id == "DDA-KEY-005"
                  and f.resource_id == "priv")
    assert "2 privileged permission(s), among them api_keys_write" in detail


def test_key_005_pack_parameter_override(snap):
    t = snap.target()
    snap.app_key(t, "plain", scopes=["dashboards_write"])
    settings = RuleSettings(params={"pack": {"privileged_permissions": ["dashboards_write"]}})
    assert snap.hits(snap.evaluate(settings), "DDA-KEY-005") == {"plain"}
    settings = RuleSettings(
        params={"DDA-KEY-005": {"privileged_permissions": ["dashboards_write"]}}
    )
    assert snap.hits(snap.evaluate(settings), "DDA-KEY-005") == {"plain"}


def test_key_006_api_key_of_departed_user(snap):
    t = snap.target()
    snap.user(t, "alive")
    snap.user(t, "gone", disabled=True)
    snap.user(t, "gone-status", disabled=None, status="Disabled")
    snap.user(t, "by-uuid-id", uuid="u-uuid")
    snap.api_key(t, "k-alive", created_by="alive")
    snap.api_key(t, "k-gone", created_by="gone")
    snap.api_key(t, "k-gone-status", created_by="gone-status")
    snap.api_key(t, "k-unknown", created_by="nobody")
    snap.api_key(t, "k-uuid", created_by="u-uuid")
    snap.api_key(t, "k-null", created_by=None)
    found = snap.evaluate()
    assert snap.hits(found, "DDA-KEY-006") == {"k-gone", "k-gone-status", "k-unknown"}
    details = {f.resource_id: f.detail for f in found if f.rule_id == "DDA-KEY-006"}
    assert details["k-unknown"].endswith("who is not among the org's users.")
    assert details["k-gone"].endswith("who is disabled.")


def test_key_007_leaked_each_kind(snap):
    t = snap.target()
    snap.app_key(t, "app-leak", leaked=True)
    snap.app_key(t, "app-clean")
    snap.api_key(t, "api-leak", leaked=True)
    snap.api_key(t, "api-clean")
    found = [f for f in snap.evaluate() if f.rule_id == "DDA-KEY-007"]
    assert {f.resource_id for f in found} == {"app-leak", "api-leak"}
    assert all(f.severity == "critical" for f in found)
    assert "leaked on 2026-11-20 (source: github)" in found[0].detail
