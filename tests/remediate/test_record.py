"""remediation_actions on SQLite and PostgreSQL: outcomes in, "remediated by plan" out."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from scanner.remediate.model import Answered, Plan, PlannedAction
from scanner.remediate.record import record_outcome, remediated_by

T0 = datetime(2026, 12, 1, 8, 0, 0)


def _plan(plan_id: str, *findings: str) -> tuple[Plan, PlannedAction]:
    action = PlannedAction(
        number=1, kind="revoke_api_key", finding_id=findings[0], rule_id="DDA-KEY-002",
        severity="medium", answers=(Answered(findings[0], "DDA-KEY-002"),),
        also_resolves=tuple(Answered(f, "DDA-KEY-003") for f in findings[1:]),
        target="t", site="datadoghq.com", org_public_id="o", org_uuid="u", org_name="O",
        resource_type="api_key", resource_id="k1", resource_name="k", observed={},
        request={"method": "DELETE", "path": "/api/v2/api_keys/k1", "permission": "p"})
    return Plan(plan_id, T0, "scan-1", "0" * 64, (action,), "1" * 64, b"{}"), action


def test_only_done_actions_mark_their_findings_remediated(store: Engine) -> None:
    done, action = _plan("plan-a", "f-stale", "f-old")
    record_outcome(store, done, action, "done", "Jane", T0)
    skipped, other = _plan("plan-b", "f-changed")
    record_outcome(store, skipped, other, "skipped: changed", "Jane", T0)
    assert remediated_by(store, ["f-stale", "f-old", "f-changed", "f-none"]) == {
        "f-stale": "plan-a", "f-old": "plan-a"}
    assert remediated_by(store, ["f-stale"], until=T0 - timedelta(seconds=1)) == {}
    assert remediated_by(store, []) == {}


def test_the_latest_plan_wins_when_a_finding_was_remediated_twice(store: Engine) -> None:
    first, action = _plan("plan-1", "f-back")
    record_outcome(store, first, action, "done", "Jane", T0)
    second, again = _plan("plan-2", "f-back")
    record_outcome(store, second, again, "done", "Ann", T0 + timedelta(days=3))
    assert remediated_by(store, ["f-back"]) == {"f-back": "plan-2"}
    assert remediated_by(store, ["f-back"], until=T0 + timedelta(days=1)) == {"f-back": "plan-1"}
