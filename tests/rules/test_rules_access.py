"""Built-in service account, AuthN mapping and role rules: triggers and near misses."""

from __future__ import annotations

from rules import RuleSettings


def test_sa_001_admin_equivalent_roles(snap):
    t = snap.target()
    snap.role(t, "admin", "Datadog Admin Role")
    snap.role(t, "custom-umg", "Custom", ["dashboards_read", "user_access_manage"])
    snap.role(t, "custom-org", "OrgMgmt", ["org_management"])
    snap.role(t, "std", "Datadog Standard Role", ["dashboards_write", "api_keys_write"])
    for uid, rid in [("sa-admin", "admin"), ("sa-umg", "custom-umg"), ("sa-org", "custom-org"),
                     ("sa-std", "std"), ("sa-off", "admin"), ("human", "admin")]:
        snap.user(t, uid, sa=uid.startswith("sa-"), disabled=uid == "sa-off")
        snap.grant(t, uid, rid)
    found = snap.evaluate()
    assert snap.hits(found, "DDA-SA-001") == {"sa-admin", "sa-umg", "sa-org"}
    detail = next(f.detail for f in found if f.resource_id == "sa-umg")
    assert detail == "Service account sa-umg holds the admin-equivalent role Custom."


def test_sa_001_one_finding_with_two_admin_roles(snap):
    t = snap.target()
    snap.role(t, "a", "Datadog Admin Role")
    snap.role(t, "b", "B", ["org_management"])
    snap.user(t, "sa", sa=True)
    snap.grant(t, "sa", "a")
    snap.grant(t, "sa", "b")
    assert [f.resource_id for f in snap.evaluate() if f.rule_id == "DDA-SA-001"] == ["sa"]


def test_sa_002_service_account_without_keys(snap):
    t = snap.target()
    snap.user(t, "sa-idle", sa=True, created=snap.ago(31))
    snap.user(t, "sa-new", sa=True, created=snap.ago(29))
    snap.user(t, "sa-keyed", sa=True, created=snap.ago(31))
    snap.user(t, "sa-off", sa=True, created=snap.ago(31), status="Disabled", disabled=None)
    snap.user(t, "human", created=snap.ago(31))
    snap.app_key(t, "k", owner="sa-keyed")
    assert snap.hits(snap.evaluate(), "DDA-SA-002") == {"sa-idle"}


def test_sa_003_too_many_keys(snap):
    t = snap.target()
    snap.user(t, "sa-three", sa=True)
    snap.user(t, "sa-two", sa=True)
    snap.user(t, "human")
    for i in range(3):
        snap.app_key(t, f"three-{i}", owner="sa-three")
        snap.app_key(t, f"human-{i}", owner="human")
    for i in range(2):
        snap.app_key(t, f"two-{i}", owner="sa-two")
    found = snap.evaluate()
    assert snap.hits(found, "DDA-SA-003") == {"sa-three"}
    settings = RuleSettings(params={"DDA-SA-003": {"max_keys": 1}})
    assert snap.hits(snap.evaluate(settings), "DDA-SA-003") == {"sa-three", "sa-two"}


def test_map_001_dangling_role_and_team(snap):
    t = snap.target()
    snap.role(t, "r1", "Readers")
    snap.team(t, "t1")
    snap.mapping(t, "ok-role", "group", "readers", role="r1")
    snap.mapping(t, "ok-team", "group", "team", team="t1")
    snap.mapping(t, "bad-role", "group", "ghosts", role="r-deleted")
    snap.mapping(t, "bad-team", "group", "ghost-team", team="t-deleted")
    found = snap.evaluate()
    assert snap.hits(found, "DDA-MAP-001") == {"bad-role", "bad-team"}
    detail = next(f.detail for f in found if f.resource_id == "bad-team")
    assert detail == ("AuthN mapping group=ghost-team points to team t-deleted, which does "
                      "not exist in the org.")


def test_map_002_admin_mapping(snap):
    t = snap.target()
    snap.role(t, "admin", "Datadog Admin Role")
    snap.role(t, "umg", "Access managers", ["user_access_manage"])
    snap.role(t, "ro", "Datadog Read Only Role", ["dashboards_read"])
    snap.mapping(t, "m-admin", "group", "ops", role="admin")
    snap.mapping(t, "m-umg", "group", "iam", role="umg")
    snap.mapping(t, "m-ro", "group", "all", role="ro")
    assert snap.hits(snap.evaluate(), "DDA-MAP-002") == {"m-admin", "m-umg"}


def test_map_003_group_mapped_to_several_roles(snap):
    t = snap.target()
    for rid in ("r1", "r2", "r3"):
        snap.role(t, rid, rid.upper())
    snap.mapping(t, "m1", "memberOf", "eng", role="r1")
    snap.mapping(t, "m2", "memberOf", "eng", role="r2")
    snap.mapping(t, "m3", "memberOf", "ENG", role="r3")  # another value: a near miss
    snap.mapping(t, "m4", "memberOf", "ops", role="r1")
    snap.mapping(t, "m5", "memberOf", "ops", role="r1")  # same role twice: not several roles
    found = snap.evaluate()
    assert snap.hits(found, "DDA-MAP-003") == {"m1", "m2"}
    detail = next(f.detail for f in found if f.resource_id == "m1" and f.rule_id == "DDA-MAP-003")
    assert detail == "IdP group memberOf=eng is also mapped to 1 other role(s), among them R2."


def test_map_004_saml_without_role_mapping(snap):
    bare = snap.target("bare", org="pub-bare", uuid="u-bare")
    mapped = snap.target("mapped", org="pub-mapped", uuid="u-mapped")
    team_only = snap.target("team-only", org="pub-team", uuid="u-team")
    nosaml = snap.target("nosaml", org="pub-nosaml", uuid="u-nosaml", saml_enabled=False)
    snap.role(mapped, "r", "R")
    snap.mapping(mapped, "m", "g", "v", role="r")
    snap.team(team_only, "t")
    snap.mapping(team_only, "m", "g", "v", team="t")
    del bare, nosaml
    assert snap.hits(snap.evaluate(), "DDA-MAP-004") == {"pub-bare", "pub-team"}


def test_role_001_unmapped_role_held_by_people(snap):
    t = snap.target()
    snap.role(t, "mapped", "Mapped")
    snap.role(t, "manual", "Manual")
    snap.role(t, "sa-only", "Automation")
    snap.role(t, "off-only", "Former")
    snap.mapping(t, "m", "g", "v", role="mapped")
    snap.user(t, "alice")
    snap.user(t, "bob", disabled=True)
    snap.user(t, "robot", sa=True)
    snap.grant(t, "alice", "mapped")
    snap.grant(t, "alice", "manual")
    snap.grant(t, "robot", "sa-only")
    snap.grant(t, "bob", "off-only")
    found = snap.evaluate()
    assert snap.hits(found, "DDA-ROLE-001") == {"manual"}


def test_role_001_needs_an_org_with_mappings(snap):
    t = snap.target()
    snap.role(t, "manual", "Manual")
    snap.user(t, "alice")
    snap.grant(t, "alice", "manual")
    assert snap.hits(snap.evaluate(), "DDA-ROLE-001") == set()
