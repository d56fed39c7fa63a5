"""The remediation_actions table: what apply did per finding, and which plan resolved what."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from scanner.errors import StoreError
from scanner.remediate.model import Plan, PlannedAction
from scanner.store.schema import remediation_actions

DONE = "done"  # the write succeeded: the only outcome that marks findings remediated


def record_outcome(engine: Engine, plan: Plan, action: PlannedAction, outcome: str,
                   approved_by: str, at: datetime) -> None:
    """One row per finding the action answers or resolves along the way."""
    rows = [{"plan_id": plan.plan_id, "action": action.number, "finding_id": answered.finding_id,
             "rule_id": answered.rule_id, "scan_id": plan.scan_id, "kind": action.kind,
             "target": action.target, "resource_type": action.resource_type,
             "resource_id": action.resource_id, "outcome": outcome[:32],
             "approved_by": approved_by, "applied_at": at}
            for answered in (*action.answers, *action.also_resolves)]
    try:
        with engine.begin() as conn:
            conn.execute(remediation_actions.insert(), rows)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot record remediation outcomes: {exc.__class__.__name__}; "
                         "check that the database is reachable and migrated") from exc


def remediated_by(engine: Engine, finding_ids: Collection[str], *,
                  until: datetime | None = None) -> dict[str, str]:
    """finding id -> the plan whose applied action removed its resource (before `until`).

    The latest such plan wins when a finding was remediated more than once (it came
    back and was removed again).
    """
    if not finding_ids:
        return {}
    table = remediation_actions
    found: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            for chunk in _chunks(sorted(finding_ids), 500):
                query = select(table.c.finding_id, table.c.plan_id).where(
                    table.c.finding_id.in_(chunk), table.c.outcome == DONE)
                if until is not None:
                    query = query.where(table.c.applied_at <= until)
                for finding_id, plan_id in conn.execute(query.order_by(table.c.applied_at)):
                    found[str(finding_id)] = str(plan_id)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read remediation outcomes: {exc.__class__.__name__}; "
                         "check that the database is reachable and migrated") from exc
    return found


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
