"""DDA-TOK-001..005, DDA-OAUTH-001, and DDA-SA-002/003 counting tokens: triggers, near misses."""

from __future__ import annotations

from tests.rules.conftest import Snap, days_ago, hits


def test_tok_001_never_expiring_token(snap: Snap) -> None:
    t = snap.target()
    snap.user(t, "svc", sa=True)
    snap.token(t, "forever", "svc", kind="service", never_expires=True, last_used=days_ago(1))
    snap.token(t, "expiring", "svc", kind="service", last_used=days_ago(1))  # near miss
    found = snap.evaluate()
    assert hits(found, "DDA-TOK-001") == {"forever"}
    (finding,) = [f for f in found if f.rule_id == "DDA-TOK-001"]
    assert finding.detail.startswith("Service access token name-forever (created ")
    assert "forever" not in hits(found, "DDA-TOK-002")  # no expiry is TOK-001's alone


def test_tok_002_long_lived_token(snap: Snap) -> None:
    t = snap.target()
    snap.user(t, "alice")
    used = {"last_used": days_ago(1)}
    snap.token(t, "long", "alice", created=days_ago(10), expires=days_ago(-300), **used)
    snap.token(t, "short", "alice", created=days_ago(10), expires=days_ago(-70), **used)
    snap.token(t, "edge", "alice", created=days_ago(10), expires=days_ago(-80), **used)  # 90
    assert hits(snap.evaluate(), "DDA-TOK-002") == {"long"}


def test_tok_003_stale_or_never_used_token(snap: Snap) -> None:
    t = snap.target()
    snap.user(t, "alice")
    far = {"expires": days_ago(-30)}  # expiry is TOK-002's business
    snap.token(t, "stale", "alice", created=days_ago(200), last_used=days_ago(120), **far)
    snap.token(t, "never-old", "alice", created=days_ago(200), **far)
    snap.token(t, "recent", "alice", created=days_ago(200), last_used=days_ago(5), **far)
    snap.token(t, "never-new", "alice", created=days_ago(20), **far)  # near miss
    assert hits(snap.evaluate(), "DDA-TOK-003") == {"stale", "never-old"}


def test_tok_003_unknown_use_in_an_org_that_tracks_none(snap: Snap) -> None:
    t = snap.target()
    snap.user(t, "alice")
    snap.token(t, "never-old", "alice", created=days_ago(200))
    assert hits(snap.evaluate(), "DDA-TOK-003") == set()  # null is unknown, not unused


def test_tok_004_owner_gone_or_disabled(snap: Snap) -> None:
    t = snap.target()
    snap.user(t, "bob", disabled=True)
    snap.user(t, "sam", status="Disabled", disabled=False)
    snap.user(t, "svc-off", sa=True, disabled=True)
    snap.user(t, "pat", status="Pending")
    snap.user(t, "alice")
    for owner in ("bob", "sam", "stranger", "pat", "alice"):
        snap.token(t, f"t-{owner}", owner)
    snap.token(t, "t-svc-off", "svc-off", kind="service")
    found = snap.evaluate()
    assert hits(found, "DDA-TOK-004") == {"t-bob", "t-sam", "t-stranger", "t-svc-off"}
    details = {f.resource_id: f.detail for f in found if f.rule_id == "DDA-TOK-004"}
    assert details["t-stranger"].endswith("is not among the org's users.")
    assert details["t-bob"].endswith("is disabled.")


def test_tok_005_privileged_scope(snap: Snap) -> None:
    t = snap.target()
    snap.user(t, "alice")
    snap.token(t, "admin", "alice", scopes=["user_access_manage", "dashboards_read"])
    snap.token(t, "dash", "alice", scopes=["dashboards_read", "dashboards_write"])
    assert hits(snap.evaluate(), "DDA-TOK-005") == {"admin"}


def test_oauth_001_stale_or_never_exercised_client(snap: Snap) -> None:
    t = snap.target()
    snap.oauth_client(t, "stale", exercised=days_ago(100))
    snap.oauth_client(t, "never")
    snap.oauth_client(t, "recent", exercised=days_ago(5))
    snap.oauth_client(t, "off", disabled=True, exercised=days_ago(200))  # near miss
    snap.oauth_client(t, "edge", exercised=days_ago(59))  # near miss
    assert hits(snap.evaluate(), "DDA-OAUTH-001") == {"stale", "never"}


def test_sa_002_and_003_count_tokens_with_keys(snap: Snap) -> None:
    t = snap.target()
    for sa in ("token-only", "idle", "mixed", "two"):
        snap.user(t, sa, sa=True)
    snap.token(t, "t1", "token-only", kind="service")
    for i in range(2):
        snap.app_key(t, f"mixed-k{i}", owner="mixed")
        snap.app_key(t, f"two-k{i}", owner="two")
    snap.token(t, "t2", "mixed", kind="service")
    found = snap.evaluate()
    assert hits(found, "DDA-SA-002") == {"idle"}  # a token is a credential too
    assert hits(found, "DDA-SA-003") == {"mixed"}  # 2 keys + 1 token > 2; 2 keys is not
    (detail,) = [f.detail for f in found if f.rule_id == "DDA-SA-003"]
    assert "holds 3 credentials" in detail


def test_token_rules_not_assessed_where_tokens_were_not_collected(snap: Snap) -> None:
    t = snap.target()
    snap.user(t, "alice")
    snap.token(t, "forever", "alice", never_expires=True)
    snap.coverage(t, "access_tokens", "partial", error="only the key pair's own tokens")
    found = snap.evaluate()
    assert hits(found, "DDA-TOK-001") == set()
    tok = {f.rule_id for f in found if f.status == "not_assessed"}
    assert {f"DDA-TOK-00{i}" for i in range(1, 6)} | {"DDA-SA-002", "DDA-SA-003"} <= tok


def test_an_unavailable_endpoint_is_no_gap_and_judges_nothing(snap: Snap) -> None:
    t = snap.target()
    snap.coverage(t, "access_tokens", "unavailable", error="HTTP 404")
    snap.coverage(t, "oauth_clients", "unavailable", error="HTTP 404")
    found = snap.evaluate()
    assert not [f for f in found if f.status == "not_assessed"]
    assert hits(found, "DDA-SCAN-001") == set()
