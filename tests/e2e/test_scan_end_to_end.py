"""Whole scans of the simulated estate: exact findings, honest coverage, exit codes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

import rules
from scanner.config import Config, Secret
from scanner.simulator.model import Estate
from scanner.store.schema import ENDPOINTS, SETTLED
from tests.e2e.conftest import ScanRun
from tests.oracle import expected_findings, expected_not_assessed, expected_owner, findings_for

pytestmark = pytest.mark.slow
SPINE_RULES = ("DDA-KEY-004", "DDA-ORG-001", "DDA-MAP-001", "DDA-SCAN-001")


def _rule_inputs() -> dict[str, set[str]]:
    return {r.id: set(r.inputs) for r in rules.load_rulepack().rules}


def _key_gap(estate: Estate) -> str:
    """The target whose key pair lacks org_app_keys_read (one in the demo estate)."""
    (gap,) = [t.name for t in estate.targets if "org_app_keys_read" not in t.permissions]
    return gap


def test_demo_estate_gives_exactly_the_expected_findings(
    estate: Estate, config: Config, scan: Callable[..., ScanRun]
) -> None:
    run = scan(config)
    now = estate.now
    assert now is not None
    expected = expected_findings(estate, now=now)
    assert run.keys("open") == expected
    assert run.keys("not_assessed") == expected_not_assessed(estate, rule_inputs=_rule_inputs())
    for rule_id in SPINE_RULES:  # the spine's four rules, spelled out
        assert findings_for(run.keys("open"), rule_id) == findings_for(expected, rule_id)
    assert findings_for(expected, "DDA-KEY-004") and findings_for(expected, "DDA-MAP-001")
    # One key pair lacks org_app_keys_read: its application keys are partial and so are
    # its tokens (user_app_keys lists only its own), so the scan is partial (exit 3) with
    # that pair short and every other pair complete, or unavailable on the site that does
    # not offer tokens and OAuth clients: no gap there.
    assert run.outcome.status == "partial" and run.outcome.exit_code == 3
    short = {(c["target"], c["endpoint"], c["status"]) for c in run.document["coverage"]
             if c["status"] not in SETTLED}
    assert short == {(_key_gap(estate), "application_keys", "partial"),
                     (_key_gap(estate), "access_tokens", "partial")}
    unavailable = {(c["target"], c["endpoint"]) for c in run.document["coverage"]
                   if c["status"] == "unavailable"}
    token_less = [t.name for t in estate.targets if t.site == "ap2.datadoghq.com"]
    assert token_less and unavailable == {(t, e) for t in token_less
                                          for e in ("access_tokens", "oauth_clients")}
    assert len(run.document["coverage"]) == len(config.targets) * len(ENDPOINTS)


def test_forbidden_org_wide_key_listing_falls_back_per_service_account(
    estate: Estate, config: Config, scan: Callable[..., ScanRun]
) -> None:
    gap = next(t for t in estate.targets if "org_app_keys_read" not in t.permissions)
    org = estate.org(gap.org_public_id)
    accounts = {u.id for u in org.users if u.service_account}
    run = scan(config)
    (row,) = [c for c in run.document["coverage"]
              if c["target"] == gap.name and c["endpoint"] == "application_keys"]
    # Every service account's keys were listed, but keys owned by users cannot be: partial.
    assert row["status"] == "partial"
    assert row["collected"] == row["expected"] == sum(k.owner_id in accounts
                                                      for k in org.app_keys) > 0
    assert "org-wide listing forbidden (needs org_app_keys_read)" in row["error"]
    assert f"collected the keys of {len(accounts)} service accounts" in row["error"]
    assert "keys owned by users cannot be listed" in row["error"]
    assert ("DDA-SCAN-001", gap.site, gap.org_public_id, "collection",
            "application_keys") in run.keys("open")


def test_a_wrong_key_pair_is_forbidden_for_that_target_only(
    estate: Estate, config: Config, scan: Callable[..., ScanRun]
) -> None:
    victim = estate.targets[3]
    wrong = tuple(
        replace(t, app_key=Secret("f" * 40)) if t.name == victim.name else t
        for t in config.targets
    )
    run = scan(config, targets=wrong)
    assert run.outcome.status == "partial" and run.outcome.exit_code == 3
    by_target: dict[str, set[str]] = {}
    for c in run.document["coverage"]:
        by_target.setdefault(c["target"], set()).add(c["status"])
    assert by_target.pop(victim.name) == {"forbidden"}
    # The key gap: its application keys and tokens partial (no org_app_keys_read); the
    # token-less site's orgs: unavailable.
    assert by_target.pop(_key_gap(estate)) == {"complete", "partial"}
    assert all(statuses <= SETTLED for statuses in by_target.values())
    scan_findings = {(f["target"], f["resource_id"]) for f in run.document["findings"]
                     if f["rule_id"] == "DDA-SCAN-001"}
    assert scan_findings == {(victim.name, e) for e in ENDPOINTS} | {
        (_key_gap(estate), "application_keys"), (_key_gap(estate), "access_tokens")}
    # Every other rule is not assessed for the victim, and nothing passes or fails there.
    victim_rules = {f["rule_id"] for f in run.document["findings"]
                    if f["target"] == victim.name and f["status"] == "not_assessed"}
    assert victim_rules == {r for r, inputs in _rule_inputs().items() if inputs}
    assert not [f for f in run.document["findings"] if f["target"] == victim.name
                and f["status"] == "open" and f["rule_id"] != "DDA-SCAN-001"]
    # The other orgs' findings are those the oracle expects with the victim uncollected.
    now = estate.now
    assert now is not None
    expected = expected_findings(estate, now=now, forbidden={victim.name: set(ENDPOINTS)})
    # The victim's UUID was never learnt, so a connection to it cannot be told apart from
    # one to an outside org: DDA-CONN-001 errs on the side of flagging it.
    victim_uuid = estate.org(victim.org_public_id).uuid
    to_victim = {c.id for o in estate.orgs for c in o.connections
                 if victim_uuid in (c.source.uuid, c.sink.uuid)}
    found = {k for k in run.keys("open") if k[2] != victim.org_public_id and k[2]}
    flagged = {k for k in found - expected if k[0] == "DDA-CONN-001"}
    assert {k[4] for k in flagged} <= to_victim
    assert found - flagged == {k for k in expected if k[2] != victim.org_public_id}


def test_revoked_permission_gives_scan_001_and_not_assessed(
    estate: Estate, config: Config, scan: Callable[..., ScanRun]
) -> None:
    victim = estate.targets[0]
    estate.revoke(victim.name, "integrations_read")
    run = scan(config)
    assert run.outcome.exit_code == 3
    assert ("DDA-SCAN-001", victim.site, victim.org_public_id, "collection",
            "okta_accounts") in run.keys("open")
    not_assessed = {k[0] for k in run.keys("not_assessed") if k[2] == victim.org_public_id}
    assert not_assessed == {"DDA-OKTA-001", "DDA-OKTA-002"}
    assert run.keys("not_assessed") == expected_not_assessed(estate, rule_inputs=_rule_inputs())
    now = estate.now
    assert now is not None
    expected = expected_findings(estate, now=now)
    assert run.keys("open") - findings_for(run.keys("open"), "DDA-SCAN-001") == {
        k for k in expected if k[0] != "DDA-SCAN-001"}


def test_every_finding_carries_the_owner_the_oracle_gives(
    estate: Estate, config: Config, scan: Callable[..., ScanRun]
) -> None:
    run = scan(config)
    got = {(f["rule_id"], f["site"], f["org_public_id"], f["resource_type"], f["resource_id"]):
           f["owner"] for f in run.document["findings"]}
    assert got == {key: expected_owner(estate, key) for key in got}
    # The demo estate exercises every source of an owner: a person, an IdP group, a
    # target's configured owner, and nobody (a target that names none).
    fallbacks = {t.owner for t in estate.targets if t.owner}
    assert fallbacks and None in {t.owner for t in estate.targets}
    kinds = {"nobody" if o is None else "target" if o in fallbacks else
             "group" if "=" in o else "person" for o in got.values()}
    assert kinds == {"nobody", "target", "group", "person"}
