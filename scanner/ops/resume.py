"""`ddaudit scan --resume`: re-collect only what the latest partial scan missed, as one scan.

The (target, endpoint) pairs whose coverage is not complete (or absent: a scan that died
mid-collection has none) are re-collected into the same scan after their old rows are
deleted; complete pairs keep their rows. A target whose `orgs` endpoint failed is
re-collected whole, since its org identity tags every other row. The scan is then
evaluated and reported again, so it reads as one scan.

A latest scan that is complete but unreported (its run was killed while writing the
evidence bundle) has nothing to re-collect: resume only writes its report, from the
findings its evaluation stored (a scan collected but never evaluated is evaluated first).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from rules import Evaluated
from scanner.client import RetryPolicy
from scanner.collect import FAMILIES, Coverage, Done, TargetContext, collect_target
from scanner.config import Config
from scanner.errors import BusyError, NothingToDoError
from scanner.pipeline import (
    RuleStage,
    ScanOutcome,
    collect_all,
    conclude_scan,
    exit_code_for,
    record_collection,
)
from scanner.store import lifecycle, schema
from scanner.store.lifecycle import ScanStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResumePlan:
    """What to re-collect in `scan_id`: per target, the endpoints (all of them: whole)."""

    scan_id: str
    previous_status: str
    endpoints: Mapping[str, tuple[str, ...]]
    whole: frozenset[str]
    evaluated: bool = True  # for a complete unreported scan: whether to evaluate it first

    @property
    def pairs(self) -> int:
        """How many (target, endpoint) pairs will be collected again."""
        return sum(len(e) for e in self.endpoints.values())


def plan_resume(engine: Engine, config: Config) -> ResumePlan:
    """Find the latest scan and the pairs it lacks; refuse when there is nothing to resume."""
    with engine.connect() as conn:
        scan = lifecycle.latest(conn)
        if scan is None:
            raise NothingToDoError("nothing to resume: the database holds no scan yet; run "
                              "'ddaudit scan'")
        scan_id = str(scan["id"])
        if scan["status"] == ScanStatus.RUNNING:
            raise BusyError(f"scan {scan_id} is still being collected; resume it once it has "
                            "finished")
        if scan["status"] == ScanStatus.COMPLETE:
            if scan["reported_at"] is None:  # only its report is missing
                return ResumePlan(scan_id, ScanStatus.COMPLETE, {}, frozenset(),
                                  evaluated=scan["evaluated_at"] is not None)
            raise NothingToDoError(f"nothing to resume: the latest scan {scan_id} is complete; "
                              "run 'ddaudit scan' for a new one")
        done = {(r.target, r.endpoint) for r in conn.execute(
            select(schema.coverage.c.target, schema.coverage.c.endpoint).where(
                schema.coverage.c.scan_id == scan_id,
                schema.coverage.c.status.in_(schema.SETTLED)))}
    if scan["config_sha256"] != config.sha256():
        log.warning("the configuration changed since scan %s; resuming it with this one",
                    scan_id)
    endpoints: dict[str, tuple[str, ...]] = {}
    whole: set[str] = set()
    for target in config.targets:
        missing = tuple(e for e in schema.ENDPOINTS if (target.name, e) not in done)
        if "orgs" in missing:
            whole.add(target.name)
            missing = schema.ENDPOINTS
        if missing:
            endpoints[target.name] = missing
    return ResumePlan(scan_id, ScanStatus(scan["status"]), endpoints, frozenset(whole))


def clear_pairs(engine: Engine, plan: ResumePlan) -> None:
    """Reopen the scan (running again) and delete the rows the pairs to re-collect left."""
    with engine.begin() as conn:
        lifecycle.reopen(conn, plan.scan_id)  # refused (nothing deleted) unless partial/failed
        for target, endpoints in plan.endpoints.items():
            scoped = {"scan_id": plan.scan_id, "target": target}
            for endpoint in endpoints:
                for name in FAMILIES[endpoint].tables:
                    table = schema.POPULATION_TABLES[name]
                    conn.execute(delete(table).where(*(table.c[k] == v for k, v in
                                                       scoped.items())))
                conn.execute(delete(schema.coverage).where(
                    schema.coverage.c.scan_id == plan.scan_id,
                    schema.coverage.c.target == target, schema.coverage.c.endpoint == endpoint))
            if target in plan.whole:
                conn.execute(delete(schema.targets).where(
                    schema.targets.c.scan_id == plan.scan_id, schema.targets.c.target == target))


class _Recollector:
    """The per-target collector of a resume: only the listed endpoints, the rest restored.

    What a re-collected family needs and is not collected again (the org's identity, the
    user list behind the application-key fallback) is rebuilt from the stored scan by
    that family's own `restore`, and the same scheduler as a full collection runs it.
    """

    def __init__(self, engine: Engine, plan: ResumePlan) -> None:
        self.engine = engine
        self.plan = plan

    def _known(self, target: str, endpoints: Sequence[str]) -> dict[str, Done]:
        needed = {n for e in endpoints for n in FAMILIES[e].needs} - set(endpoints)
        with self.engine.connect() as conn:
            stored = {r.endpoint: Coverage(r.endpoint, r.status, r.collected, r.expected,
                                           r.error)
                      for r in conn.execute(select(schema.coverage).where(
                          schema.coverage.c.scan_id == self.plan.scan_id,
                          schema.coverage.c.target == target,
                          schema.coverage.c.endpoint.in_(needed)))}
            return {n: FAMILIES[n].restore(conn, self.plan.scan_id, target, stored.get(n) or
                                           Coverage(n, "failed", 0, None, "not collected"))
                    for n in needed}

    async def __call__(self, ctx: TargetContext) -> list[Coverage]:
        name = ctx.target.name
        if name in self.plan.whole:
            return await collect_target(ctx)
        endpoints = self.plan.endpoints[name]
        return await collect_target(ctx, endpoints, self._known(name, endpoints))


def resume_scan(config: Config, engine: Engine, *,
                policy: RetryPolicy | None = None) -> ScanOutcome:
    """Re-collect the latest partial scan's missing pairs, then evaluate and report it."""
    evaluation = RuleStage.from_config(config)
    plan = plan_resume(engine, config)
    if plan.previous_status == ScanStatus.COMPLETE:
        return _report_only(config, engine, plan, evaluation)
    targets = [t for t in config.targets if t.name in plan.endpoints]
    log.info("resuming scan %s (%s): %d (target, endpoint) pairs of %d targets", plan.scan_id,
             plan.previous_status, plan.pairs, len(targets))
    collector = _Recollector(engine, plan)
    clear_pairs(engine, plan)

    def collect() -> str:
        results: Sequence[tuple[TargetContext, list[Coverage]]] = []
        if targets:
            results = asyncio.run(collect_all(engine, config, plan.scan_id, policy=policy,
                                              targets=targets, collector=collector))
        known = set(plan.endpoints) - plan.whole  # their targets rows are kept
        return record_collection(engine, plan.scan_id, results, known_targets=known,
                                 hold=True)

    return conclude_scan(config, engine, plan.scan_id, evaluation, collect)


def _report_only(config: Config, engine: Engine, plan: ResumePlan,
                 evaluation: RuleStage) -> ScanOutcome:
    """Write the report of a complete scan whose run died before (or while) writing it.

    Its findings are the ones its evaluation stored (unless it was never evaluated); the
    scan is not marked failed if writing fails again.
    """
    if plan.evaluated:
        log.info("scan %s is complete but its report was never written; writing it",
                 plan.scan_id)
        found = Evaluated.stored(engine, plan.scan_id)
    else:
        log.info("scan %s is complete but was never evaluated; evaluating and reporting it",
                 plan.scan_id)
        found = evaluation.run(engine, plan.scan_id)
    report = evaluation.report(config, engine, plan.scan_id)
    code, hits = exit_code_for(ScanStatus.COMPLETE, found, config.fail_on)
    return ScanOutcome(plan.scan_id, ScanStatus.COMPLETE, report, hits, code)
