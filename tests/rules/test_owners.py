"""The owner pass: who answers for each finding, by resource type, with the target fallback."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from rules import Finding, RuleSettings, evaluate_scan, load_rulepack
from rules.owners import resource_owners
from scanner.store.schema import findings
from tests.rules.conftest import Snap, Tgt

TEAM = "team-a@corp.example"


def _people(snap: Snap, t: Tgt) -> None:
    """Everyone a resource below may name, in target `t`."""
    snap.user(t, "alice", email="alice@corp.example")
    snap.user(t, "hank")  # no e-mail: named by handle
    snap.user(t, "dora", disabled=True, email="dora@corp.example")
    snap.user(t, "sam", sa=True, email="sam-bot@corp.example")
    snap.user(t, "u-id", uuid="u-uuid", email="carl@corp.example")
    snap.user(t, "idle", sa=True)  # an SA with no credential (DDA-SA-002)


def _resources(snap: Snap, t: Tgt) -> None:
    """One resource of every type, each failing at least one rule of the pack."""
    old = snap.ago(400)  # DDA-KEY-003 on keys
    for owner in ("alice", "hank", "dora", "sam", "ghost"):
        snap.app_key(t, f"k-{owner}", owner=owner, created=old)
    snap.api_key(t, "a-carl", created_by="u-uuid", created=old)  # its creator by uuid
    snap.token(t, "t-alice", "alice", never_expires=True)
    outside = "uuid-outside"
    snap.connection(t, "c-alice", t.uuid or "", outside, ("logs",), created_by="alice")
    snap.connection(t, "c-gone", t.uuid or "", outside, ("logs",), created_by="stranger",
                    created_by_name="Former Employee")
    snap.mapping(t, "m-eng", "groups", "eng", role="deleted-role")
    snap.oauth_client(t, "o-1")
    snap.okta(t, "okta-1", f"{t.name}.okta.com", auth_method="api_token")


def _owners(found: list[Finding], target: str) -> dict[str, str | None]:
    """resource id -> owner of the target's findings (one owner per resource, checked)."""
    out: dict[str, str | None] = {}
    for f in found:
        if f.target == target:
            assert out.setdefault(f.resource_id, f.owner) == f.owner, f.resource_id
    return out


def test_each_resource_type_gets_its_owner_else_the_targets(snap: Snap) -> None:
    a = snap.target("a", org="pub-a", uuid="uuid-a", owner=TEAM, saml_enabled=False)
    b = snap.target("b", org="pub-b", uuid="uuid-b", saml_enabled=False)
    for t in (a, b):
        _people(snap, t)
        _resources(snap, t)
    found = snap.evaluate()
    with_team, without = _owners(found, "a"), _owners(found, "b")
    # Enabled people are named, by e-mail else handle, whatever the target says.
    for owners in (with_team, without):
        assert owners["k-alice"] == owners["t-alice"] == owners["c-alice"] == "alice@corp.example"
        assert owners["k-hank"] == "hank@example.com"
        assert owners["a-carl"] == "carl@corp.example"
        assert owners["m-eng"] == "groups=eng"  # an AuthN mapping: its IdP group
    # A disabled person, a service account, an unknown owner or creator: the target's
    # owner answers; without one, whoever Datadog names (or nobody).
    assert {with_team[r] for r in ("k-dora", "k-sam", "k-ghost", "c-gone", "idle")} == {TEAM}
    assert without["k-dora"] == "dora@corp.example"
    assert without["k-sam"] == "sam-bot@corp.example"
    assert without["idle"] == "idle@example.com"
    assert without["c-gone"] == "Former Employee"
    assert without["k-ghost"] is None
    # Everything without an owner of its own: the target's.
    for rid in ("pub-a", "o-1", "okta-1"):
        assert with_team[rid] == TEAM and without[rid.replace("-a", "-b")] is None


def test_collection_gaps_and_not_assessed_fall_to_the_target(snap: Snap) -> None:
    t = snap.target("c", org="pub-c", uuid="uuid-c", owner="team-c")
    snap.coverage(t, "teams", "partial", collected=1, expected=2)
    found = snap.evaluate()
    gaps = [f for f in found if f.rule_id == "DDA-SCAN-001" or f.status == "not_assessed"]
    assert {f.status for f in gaps} == {"open", "not_assessed"}
    assert {f.owner for f in gaps} == {"team-c"}


def test_evaluating_again_gives_the_same_owners_and_reads_them_back(
    snap: Snap, engine: Engine
) -> None:
    a = snap.target("a", org="pub-a", uuid="uuid-a", owner=TEAM)
    _people(snap, a)
    _resources(snap, a)
    first = {f.id: f.owner for f in snap.evaluate()}
    again = {f.id: f.owner for f in snap.evaluate()}
    assert first == again and None not in first.values()
    with engine.connect() as conn:
        stored = dict(conn.execute(select(findings.c.id, findings.c.owner)).all())
    assert stored == first


def test_a_custom_rule_gets_owners_by_its_resource_type(snap: Snap, tmp_path: Path) -> None:
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "ACME-KEY-901.yaml").write_text(CUSTOM_RULE)
    a = snap.target("a", org="pub-a", uuid="uuid-a", owner=TEAM)
    _people(snap, a)
    snap.api_key(a, "a-alice", created_by="alice")
    snap.api_key(a, "a-dora", created_by="dora")
    found = evaluate_scan(snap.engine, snap.scan_id, load_rulepack([folder]), RuleSettings())
    assert {(f.resource_id, f.owner) for f in found if f.rule_id == "ACME-KEY-901"} == {
        ("a-alice", "alice@corp.example"), ("a-dora", TEAM)}


def test_resource_owners_lists_what_the_findings_carry(snap: Snap, engine: Engine) -> None:
    a = snap.target("a", org="pub-a", uuid="uuid-a", owner=TEAM)
    _people(snap, a)
    _resources(snap, a)
    carried = {(f.resource_type, f.resource_id): f.owner for f in snap.evaluate()
               if f.resource_type in ("application_key", "access_token", "api_key")}
    with engine.connect() as conn:
        listed = {(r.resource_type, r.resource_id): r.owner for r in conn.execute(
            resource_owners(["application_key", "access_token", "api_key"]),
            {"scan_id": snap.scan_id})}
    # Where the listing has no owner of the resource's own, the target's answers.
    assert carried and carried == {k: listed[k] or TEAM for k in carried}
    assert listed[("application_key", "k-ghost")] is None


CUSTOM_RULE = """\
id: ACME-KEY-901
title: Every API key
severity: info
resource_type: api_key
description: Lists every API key.
rationale: An inventory.
remediation: None needed.
references: [https://docs.datadoghq.com/account_management/api-app-keys/]
controls:
  SOC2: [CC6.1]
inputs: [api_keys]
detail: API key {resource_name}.
condition: |
  SELECT a.site, a.target, a.org_public_id, 'api_key' AS resource_type,
         a.id AS resource_id, a.name AS resource_name
  FROM api_keys a
  WHERE a.scan_id = :scan_id
"""
