"""`ddaudit apply` on the simulated estate: plan -> dry run -> apply -> scan, skips, permissions."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from reports.diff import diff_scans, render_diff_text
from scanner.errors import ConfigError
from scanner.remediate.apply import failed
from scanner.remediate.model import seal
from scanner.remediate.plan import Selection
from scanner.simulator.faults import Fault, FaultInjector
from scanner.simulator.model import Org, Role, SimTarget, Team
from scanner.store.schema import remediation_actions
from scanner.timeutil import utcnow
from tests.remediate.conftest import Scanned, apply, outcomes

pytestmark = pytest.mark.slow


def _secrets(scanned: Scanned) -> list[str]:
    return [s.reveal() for t in scanned.config.targets
            for s in (t.api_key, t.app_key, t.write_api_key, t.write_app_key) if s is not None]


def _org(scanned: Scanned, action: dict[str, Any]) -> Org:
    return scanned.estate.org(action["org_public_id"])


def _first(plan: dict[str, Any], rule: str, **observed: Any) -> dict[str, Any]:
    return next(a for a in plan["actions"] if a["rule_id"] == rule
                and all(a["observed"].get(k) == v for k, v in observed.items()))


def test_plan_dry_run_apply_scan_resolves_exactly_the_planned_findings(
    writable: Scanned, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    plan = writable.plan()
    sim = writable.server.sim
    sim.request_log.clear()
    dry = apply(writable, dry_run=True)
    assert set(outcomes(dry)) == {"would act"} and len(dry.outcomes) == len(plan["actions"])
    assert sim.request_log and sim.writes == []  # it read, and sent no write
    with writable.engine.connect() as conn:
        assert conn.execute(select(remediation_actions)).first() is None

    sim.request_log.clear()
    real = apply(writable)
    assert set(outcomes(real)) == {"done"} and not failed(real.outcomes)
    targets = {a["request"]["path"]: a["target"] for a in plan["actions"]}
    sent = sorted((w.method, w.path, w.status, w.key_pair) for w in sim.writes)
    assert sent == sorted(("DELETE", path, 204, f"{target}-write")
                          for path, target in targets.items())

    writable.rescan()
    diff = diff_scans(writable.engine, None, None)
    planned = {f["finding_id"] for a in plan["actions"]
               for f in (*a["answers"], *a["also_resolves"])}
    may_open = {e["finding_id"] for e in plan["side_effects"] if e["effect"] == "may open"}
    may_resolve = {e["finding_id"] for e in plan["side_effects"] if e["effect"] == "may resolve"}
    resolved = {f.id for f in diff.resolved}
    assert planned <= resolved and resolved - planned <= may_resolve
    assert {f.id for f in diff.new} <= may_open
    assert diff.changed == () and diff.unassessed == ()
    assert dict(diff.remediated) == dict.fromkeys(planned, plan["plan_id"])
    assert f"[remediated by plan {plan['plan_id']}]" in render_diff_text(diff)
    html = (writable.config.output / diff.to_scan.id / "report.html").read_text()
    assert html.count(f"remediated by plan <code>{plan['plan_id']}</code>") == len(planned)

    sim.request_log.clear()
    again = apply(writable)  # everything is gone now: re-read, nothing sent
    assert set(outcomes(again)) == {"already gone"} and sim.writes == []

    evidence = (real.evidence / "actions.jsonl").read_text()
    lines = [json.loads(line) for line in evidence.splitlines()]
    assert [line["event"] for line in lines].count("apply") == 3  # dry run, apply, again
    done = [line for line in lines if line.get("outcome") == "done"]
    assert {line["approved_by"] for line in done} == {"Jane Doe"}
    assert len(done) == len(plan["actions"])
    assert all(line["response_status"] == 204 and line["request"]["method"] == "DELETE"
               for line in done)
    with writable.engine.connect() as conn:
        rows = conn.execute(select(remediation_actions)).mappings().all()
    stored = " ".join(json.dumps(dict(r), default=str) for r in rows)
    for secret in _secrets(writable):
        for text in (evidence, (writable.folder / "plan" / "plan.json").read_text(),
                     (writable.folder / "plan" / "plan.md").read_text(), caplog.text, stored):
            assert secret not in text


def test_each_skip_is_reported_and_the_other_actions_still_run(writable: Scanned) -> None:
    plan = writable.plan()
    now = utcnow()
    stale_app = _first(plan, "DDA-KEY-001")
    leaked_app = _first(plan, "DDA-KEY-007", listing="org")
    gone_api, renamed_api = [a for a in plan["actions"] if a["rule_id"] == "DDA-KEY-002"][:2]
    team_map = _first(plan, "DDA-MAP-001", mapping_kind="team")
    role_map = _first(plan, "DDA-MAP-001", mapping_kind="role")
    idle = _first(plan, "DDA-SA-002")
    unwritable = _first(plan, "DDA-TOK-004")["target"]

    org = _org(writable, stale_app)  # both app keys are in it: used since the scan
    for action in (stale_app, leaked_app):
        app = next(k for k in org.app_keys if k.id == action["resource"]["id"])
        org.app_keys[org.app_keys.index(app)] = replace(app, last_used_at=now)
    org = _org(writable, gone_api)
    org.api_keys.remove(next(k for k in org.api_keys if k.id == gone_api["resource"]["id"]))
    key = next(k for k in org.api_keys if k.id == renamed_api["resource"]["id"])
    org.api_keys[org.api_keys.index(key)] = replace(key, name="renamed since the scan")
    org = _org(writable, team_map)
    org.teams.append(Team(team_map["observed"]["missing_id"], "back", "back", now, 1))
    org.roles.append(Role(role_map["observed"]["missing_id"], "back", (), now, now))
    org = _org(writable, idle)
    template = org.app_keys[0]
    org.app_keys.append(replace(template, id="0ddba11e-0000-4000-8000-000000000001",
                                owner_id=idle["resource"]["id"], leak=None))
    config = replace(writable.config, targets=tuple(
        replace(t, write_api_key=None, write_app_key=None) if t.name == unwritable else t
        for t in writable.config.targets))

    writable.server.sim.request_log.clear()
    applied = apply(writable, config=config)
    by_id = {o.action.resource_id: o for o in applied.outcomes}
    assert by_id[stale_app["resource"]["id"]].outcome == "skipped: changed"
    assert "used since the scan" in by_id[stale_app["resource"]["id"]].detail
    assert by_id[leaked_app["resource"]["id"]].outcome == "done"  # leaked: used or not
    assert by_id[gone_api["resource"]["id"]].outcome == "already gone"
    assert by_id[renamed_api["resource"]["id"]].outcome == "done"  # renamed is not gone
    for mapping in (team_map, role_map):
        assert by_id[mapping["resource"]["id"]].outcome == "skipped: changed"
        assert "exists now" in by_id[mapping["resource"]["id"]].detail
    assert by_id[idle["resource"]["id"]].outcome == "skipped: changed"
    assert "1 application keys" in by_id[idle["resource"]["id"]].detail
    skipped = [o for o in applied.outcomes if o.action.target == unwritable]
    assert skipped and {o.outcome for o in skipped} == {"skipped: no write key pair"}
    assert all("write_api_key_env" in o.detail for o in skipped)
    acted = {o.request["path"] for o in applied.outcomes if o.request and o.outcome == "done"}
    assert {w.path for w in writable.server.sim.writes} == acted
    assert len(acted) == len(plan["actions"]) - 5 - len(skipped)  # 5 changed or gone above


def test_a_missing_write_permission_is_reported_per_action(writable: Scanned) -> None:
    plan = writable.plan()
    target = _first(plan, "DDA-KEY-002")["target"]
    writable.estate.revoke(f"{target}-write", "api_keys_delete")
    applied = apply(writable)
    mine = [o for o in applied.outcomes if o.action.target == target]
    api = [o for o in mine if o.action.kind == "revoke_api_key"]
    assert api and all(o.outcome == "forbidden" and o.status == 403 for o in api)
    assert all("needs api_keys_delete" in o.detail for o in api)
    others = [o for o in applied.outcomes if o.action.kind != "revoke_api_key"]
    assert others and {o.outcome for o in others} == {"done"}  # one failure stops nothing
    assert failed(applied.outcomes)


def test_key_pairs_of_another_org_never_act(writable: Scanned) -> None:
    plan = writable.plan(Selection(targets=frozenset({"ap2-prod-2"})))
    borrowed = next(t for t in writable.config.targets if t.name == "ap2-prod-1")
    config = replace(writable.config, targets=tuple(
        replace(t, write_api_key=borrowed.write_api_key, write_app_key=borrowed.write_app_key)
        if t.name == "ap2-prod-2" else t for t in writable.config.targets))
    writable.server.sim.request_log.clear()
    applied = apply(writable, config=config)
    assert {o.outcome for o in applied.outcomes} == {"skipped: wrong org"}
    assert len(applied.outcomes) == len(plan["actions"]) and writable.server.sim.writes == []
    assert "write key pair belongs to org" in applied.outcomes[0].detail


def test_a_key_the_listing_shows_as_ddaudit_s_own_is_refused_at_the_re_read(
    writable: Scanned,
) -> None:
    plan = writable.plan(Selection(rules=frozenset({"DDA-KEY-002"})))
    action = plan["actions"][0]
    own = next(t for t in writable.config.targets if t.name == action["target"]).api_key.reveal()
    org = _org(writable, action)
    key = next(k for k in org.api_keys if k.id == action["resource"]["id"])
    org.api_keys[org.api_keys.index(key)] = replace(key, last4=own[-4:])  # rotated since
    writable.server.sim.request_log.clear()
    applied = apply(writable)
    first = applied.outcomes[0]
    assert first.outcome == "refused: own key" and first.request is None
    assert action["request"]["path"] not in {w.path for w in writable.server.sim.writes}
    assert {o.outcome for o in applied.outcomes[1:]} == {"done"} and failed(applied.outcomes)


def test_a_plan_older_than_max_age_sends_nothing(writable: Scanned) -> None:
    writable.plan()
    path = writable.folder / "plan" / "plan.json"
    document = json.loads(path.read_text())
    created = utcnow() - timedelta(hours=25)
    document["created_at"] = created.replace(microsecond=0).isoformat() + "Z"
    path.write_bytes(seal({k: v for k, v in document.items() if k != "sha256"})[0])
    writable.server.sim.request_log.clear()
    with pytest.raises(ConfigError, match="more than --max-age"):
        apply(writable)
    assert writable.server.sim.request_log == []
    assert not (writable.config.output / "remediation").exists()


def test_writes_are_retried_like_reads_and_their_answers_become_outcomes(
    writable: Scanned,
) -> None:
    plan = writable.plan(Selection(rules=frozenset({"DDA-KEY-002"})))
    retried, broken, raced = plan["actions"][:3]
    sim = writable.server.sim
    sim.faults = FaultInjector([
        Fault("status", path=retried["request"]["path"], times=1),  # one 503, then through
        Fault("status", path=broken["request"]["path"], status=500),  # 500 every time
    ])
    org = _org(writable, raced)

    async def someone_else_deletes_it_first(target: SimTarget, request: web.Request) -> None:
        if request.method == "DELETE" and request.path == raced["request"]["path"]:
            org.delete_api_key(raced["resource"]["id"])

    sim.hooks.append(someone_else_deletes_it_first)
    sim.request_log.clear()
    applied = apply(writable)
    by_id = {o.action.resource_id: o for o in applied.outcomes}
    assert (by_id[retried["resource"]["id"]].outcome, by_id[retried["resource"]["id"]].status) \
        == ("done", 204)
    assert [w.status for w in sim.writes if w.path == retried["request"]["path"]] == [503, 204]
    assert by_id[broken["resource"]["id"]].outcome == "failed"
    assert by_id[broken["resource"]["id"]].status == 500
    assert by_id[raced["resource"]["id"]].outcome == "already gone"
    assert by_id[raced["resource"]["id"]].status == 404
    assert failed(applied.outcomes)


def test_a_creator_or_owner_enabled_again_keeps_their_credential(writable: Scanned) -> None:
    plan = writable.plan(Selection(rules=frozenset({"DDA-KEY-006", "DDA-TOK-004"})))
    now = utcnow()
    back = [a for a in plan["actions"]
            if (a["observed"].get("creator") or a["observed"]["owner"])["state"] == "disabled"]
    assert {a["rule_id"] for a in back} == {"DDA-KEY-006", "DDA-TOK-004"}
    for action in back:
        person = action["observed"].get("creator") or action["observed"]["owner"]
        assert _org(writable, action).set_disabled(person["id"], False, now) is not None
    applied = apply(writable)
    by_id = {o.action.resource_id: o for o in applied.outcomes}
    for action in back:
        outcome = by_id[action["resource"]["id"]]
        assert outcome.outcome == "skipped: changed" and "is enabled" in outcome.detail
    rest = [o for o in applied.outcomes if o.action.resource_id not in
            {a["resource"]["id"] for a in back}]
    assert rest and {o.outcome for o in rest} == {"done"}  # still gone or disabled: revoked
