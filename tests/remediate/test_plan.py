"""`ddaudit plan`: which findings become which actions, what each records, the selection."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from reports.load import load_scan
from rules.model import SEVERITY_RANK
from scanner.errors import ConfigError
from scanner.remediate.model import canonical_sha256, load_plan
from scanner.remediate.plan import Selection, build_plan
from scanner.timeutil import utcnow
from tests.cli_helpers import ddaudit, write_toml
from tests.remediate.conftest import Scanned

pytestmark = pytest.mark.slow

# The contract docs/remediation.md states: rule -> the call that answers it.
EXPECTED_CALLS = {
    ("DDA-KEY-001", "application_key"): "/api/v2/application_keys/{id}",
    ("DDA-KEY-007", "application_key"): "/api/v2/application_keys/{id}",
    ("DDA-KEY-002", "api_key"): "/api/v2/api_keys/{id}",
    ("DDA-KEY-006", "api_key"): "/api/v2/api_keys/{id}",
    ("DDA-KEY-007", "api_key"): "/api/v2/api_keys/{id}",
    ("DDA-TOK-003", "access_token"): "/api/v2/personal_access_tokens/{id}",
    ("DDA-TOK-004", "access_token"): "/api/v2/personal_access_tokens/{id}",
    ("DDA-MAP-001", "authn_mapping"): "/api/v2/authn_mappings/{id}",
    ("DDA-SA-002", "service_account"): "/api/v2/users/{id}",
}


def _findings(scanned: Scanned) -> list[Any]:
    return list(load_scan(scanned.engine, scanned.outcome.scan_id).findings)


def test_every_open_finding_of_a_remediable_rule_is_answered_by_exactly_one_action(
    scanned: Scanned,
) -> None:
    plan = scanned.plan()
    findings = _findings(scanned)
    wanted = {f.id for f in findings
              if f.status == "open" and (f.rule_id, f.resource_type) in EXPECTED_CALLS}
    answered = Counter(a["finding_id"] for action in plan["actions"] for a in action["answers"])
    assert wanted and set(answered) == wanted and set(answered.values()) == {1}
    assert {a["rule_id"] for a in plan["actions"]} >= {"DDA-KEY-007", "DDA-MAP-001",
                                                        "DDA-SA-002", "DDA-TOK-004"}
    # One action per resource; every other open finding on it resolves along with it.
    resources = Counter((a["target"], a["resource"]["type"], a["resource"]["id"])
                        for a in plan["actions"])
    assert set(resources.values()) == {1}
    for action in plan["actions"]:
        key = (action["target"], action["resource"]["type"], action["resource"]["id"])
        on_it = {f.id for f in findings if f.status == "open"
                 and (f.target, f.resource_type, f.resource_id) == key}
        answers = {a["finding_id"] for a in action["answers"]}
        assert {a["finding_id"] for a in action["also_resolves"]} == on_it - answers


def test_each_action_names_its_exact_call_and_what_the_scan_observed(scanned: Scanned) -> None:
    plan = scanned.plan()
    orgs = {o.public_id: o for o in scanned.estate.orgs}
    for action in plan["actions"]:
        rid = action["resource"]["id"]
        template = EXPECTED_CALLS[(action["rule_id"], action["resource"]["type"])]
        seen = action["observed"]
        if seen.get("listing") == "service_account" or seen.get("token_kind") == "service":
            assert action["request"]["path"].startswith(
                f"/api/v2/service_accounts/{seen['owner_id']}/")
            assert action["request"]["path"].endswith(f"/{rid}")
        else:
            assert action["request"]["path"] == template.format(id=rid)
        assert action["request"]["method"] == "DELETE" and action["request"]["permission"]
        org = orgs[action["org_public_id"]]
        if action["resource"]["type"] == "api_key":  # the simulator's truth, not the snapshot
            key = next(k for k in org.api_keys if k.id == rid)
            assert seen["last4"] == key.last4 and seen["leaked"] == (key.leak is not None)
        if action["resource"]["type"] == "application_key":
            app = next(k for k in org.app_keys if k.id == rid)
            assert seen["last4"] == app.last4 and seen["owner_id"] == app.owner_id
            assert seen["scopes"] == (sorted(app.scopes) if app.scopes else None)
        if action["rule_id"] == "DDA-MAP-001":
            mapping = next(m for m in org.mappings if m.id == rid)
            assert seen["missing_id"] in (mapping.role_id, mapping.team_id)
        if action["rule_id"] == "DDA-TOK-004":
            assert seen["owner"]["state"] in ("disabled", "not among the org's users")


def test_the_plan_carries_its_own_hash_and_the_scan_manifest_hash(scanned: Scanned) -> None:
    document = scanned.plan(name="hashed")
    folder = scanned.folder / "hashed"
    loaded = load_plan(folder / "plan.json")
    written = json.loads((folder / "plan.json").read_text())
    assert written["sha256"] == loaded.sha256 == canonical_sha256(written)
    manifest = scanned.config.output / scanned.outcome.scan_id / "manifest.json"
    assert loaded.scan_manifest_sha256 == hashlib.sha256(manifest.read_bytes()).hexdigest()
    md = (folder / "plan.md").read_text()
    assert loaded.sha256 in md
    for action in document["actions"]:
        assert action["request"]["path"] in md and action["finding_id"] in md
    assert oct((folder / "plan.json").stat().st_mode & 0o777) == "0o600"


def test_rules_target_and_max_narrow_the_plan(scanned: Scanned) -> None:
    whole = scanned.plan(name="whole")["actions"]
    leaked = scanned.plan(Selection(rules=frozenset({"DDA-KEY-007"})), "leaked")["actions"]
    assert leaked and all(a["rule_id"] == "DDA-KEY-007" for a in leaked)
    assert {a["rule_id"] for a in leaked for a in a["answers"]} == {"DDA-KEY-007"}
    assert len(leaked) == sum(1 for a in whole if "DDA-KEY-007" in
                              {x["rule_id"] for x in a["answers"]})
    one = whole[-1]["target"]
    only = scanned.plan(Selection(targets=frozenset({one})), "one")["actions"]
    assert only and {a["target"] for a in only} == {one}
    capped = scanned.plan(Selection(max_actions=3), "capped")
    assert [a["finding_id"] for a in capped["actions"]] == [a["finding_id"] for a in whole[:3]]
    assert capped["left_out"] == len(whole) - 3
    ranks = [SEVERITY_RANK[a["severity"]] for a in whole]
    assert ranks == sorted(ranks)  # the most severe first, so --max keeps those


@pytest.mark.parametrize(("selection", "message"), [
    (Selection(rules=frozenset({"DDA-ORG-001"})), "cannot be remediated"),
    (Selection(targets=frozenset({"nowhere"})), "not in the scan"),
    (Selection(max_actions=0), "--max must be at least 1"),
])
def test_a_selection_nothing_can_answer_is_refused(scanned: Scanned, selection: Selection,
                                                   message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_plan(scanned.engine, scanned.config.output, None, selection, utcnow())


def test_a_scan_without_its_evidence_bundle_cannot_be_planned(scanned: Scanned,
                                                              tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no evidence bundle"):
        build_plan(scanned.engine, tmp_path, None, Selection(), utcnow())


def test_plan_runs_without_any_key_and_writes_no_secret(scanned: Scanned, tmp_path: Path) -> None:
    toml, keys = write_toml(scanned.config, tmp_path)
    result = ddaudit("plan", "--config", str(toml), "--rules", "DDA-KEY-007,DDA-MAP-001",
                     "--output", str(tmp_path / "p"), env={"PATH": keys["PATH"]}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("plan plan-") and "actions" in result.stdout
    text = (tmp_path / "p" / "plan.json").read_text() + (tmp_path / "p" / "plan.md").read_text()
    for target in scanned.config.targets:
        assert target.api_key.reveal() not in text and target.app_key.reveal() not in text
    bad = ddaudit("plan", "--config", str(toml), "--rules", "DDA-ORG-001", "--output",
                  str(tmp_path / "q"), env={"PATH": keys["PATH"]}, cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
