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

from sqlalchemy import Engine, delete, select, update

from rules import Evaluated
from scanner.client import RetryPolicy
from scanner.collect import FAMILIES, Coverage, TargetContext, collect_target
from scanner.collect.base import guarded
from scanner.config import Config
from scanner.errors import BusyError, ConfigError
from scanner.pipeline import (
    Evaluation,
    ScanOutcome,
    collect_all,
    conclude_scan,
    exit_code_for,
    record_collection,
)
from scanner.store import schema

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
        scan = conn.execute(select(schema.scans).order_by(schema.scans.c.started_at.desc())
                            .limit(1)).mappings().first()
        if scan is None:
            raise ConfigError("nothing to resume: the database holds no scan yet; run "
                              "'ddaudit scan'")
        scan_id = str(scan["id"])
        if scan["status"] == "running":
            raise BusyError(f"scan {scan_id} is still being collected; resume it once it has "
                            "finished")
        if scan["status"] == "complete":
            if scan["reported_at"] is None:  # only its report is missing
                return ResumePlan(scan_id, "complete", {}, frozenset(),
                                  evaluated=scan["evaluated_at"] is not None)
            raise ConfigError(f"nothing to resume: the latest scan {scan_id} is complete; "
                              "run 'ddaudit scan' for a new one")
        done = {(r.target, r.endpoint) for r in conn.execute(
            select(schema.coverage.c.target, schema.coverage.c.endpoint).where(
                schema.coverage.c.scan_id == scan_id, schema.coverage.c.status == "complete"))}
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
    return ResumePlan(scan_id, str(scan["status"]), endpoints, frozenset(whole))


def clear_pairs(engine: Engine, plan: ResumePlan) -> None:
    """Delete the rows the pairs about to be re-collected left behind."""
    with engine.begin() as conn:
        for target, endpoints in plan.endpoints.items():
            scoped = {"scan_id": plan.scan_id, "target": target}
            for endpoint in endpoints:
                for name in schema.ENDPOINT_TABLES[endpoint]:
                    table = schema.POPULATION_TABLES[name]
                    conn.execute(delete(table).where(*(table.c[k] == v for k, v in
                                                       scoped.items())))
                conn.execute(delete(schema.coverage).where(
                    schema.coverage.c.scan_id == plan.scan_id,
                    schema.coverage.c.target == target, schema.coverage.c.endpoint == endpoint))
            if target in plan.whole:
                conn.execute(delete(schema.targets).where(
                    schema.targets.c.scan_id == plan.scan_id, schema.targets.c.target == target))
        conn.execute(update(schema.scans).where(schema.scans.c.id == plan.scan_id)
                     .values(status="running", finished_at=None))


class _Recollector:
    """The per-target collector of a resume: known org identity, only the listed endpoints."""

    def __init__(self, engine: Engine, plan: ResumePlan) -> None:
        self.plan = plan
        with engine.connect() as conn:
            self.orgs = {r.target: r for r in conn.execute(
                select(schema.targets).where(schema.targets.c.scan_id == plan.scan_id))}
            self.users = {r.target: Coverage(r.endpoint, r.status, r.collected, r.expected,
                                             r.error)
                          for r in conn.execute(select(schema.coverage).where(
                              schema.coverage.c.scan_id == plan.scan_id,
                              schema.coverage.c.endpoint == "users"))}
            self.accounts: dict[str, list[str]] = {}
            for target, uid in conn.execute(select(schema.users.c.target, schema.users.c.id)
                                            .where(schema.users.c.scan_id == plan.scan_id,
                                                   schema.users.c.service_account.is_(True))):
                self.accounts.setdefault(target, []).append(uid)

    async def __call__(self, ctx: TargetContext) -> list[Coverage]:
        name = ctx.target.name
        if name in self.plan.whole:
            return await collect_target(ctx)
        known = self.orgs[name]
        ctx.org_public_id, ctx.org_uuid, ctx.org_name = (known.org_public_id, known.org_uuid,
                                                         known.org_name)
        endpoints = self.plan.endpoints[name]
        loop = asyncio.get_running_loop()
        ctx.users_coverage = loop.create_future()
        if "users" not in endpoints:  # application keys may fall back on the stored list
            ctx.service_account_ids = list(self.accounts.get(name, []))
            ctx.users_coverage.set_result(self.users.get(name) or Coverage(
                "users", "failed", 0, None, "not collected"))

        async def run(endpoint: str) -> Coverage:
            coverage = await guarded(endpoint, FAMILIES[endpoint], ctx)
            if endpoint == "users" and ctx.users_coverage and not ctx.users_coverage.done():
                ctx.users_coverage.set_result(coverage)
            return coverage

        return list(await asyncio.gather(*(run(e) for e in endpoints)))


def resume_scan(config: Config, engine: Engine, *,
                policy: RetryPolicy | None = None) -> ScanOutcome:
    """Re-collect the latest partial scan's missing pairs, then evaluate and report it."""
    evaluation = Evaluation.from_config(config)
    plan = plan_resume(engine, config)
    if plan.previous_status == "complete":
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
        known = set(collector.orgs) - plan.whole
        return record_collection(engine, plan.scan_id, results, known_targets=known,
                                 hold=True)

    return conclude_scan(config, engine, plan.scan_id, evaluation, collect)


def _report_only(config: Config, engine: Engine, plan: ResumePlan,
                 evaluation: Evaluation) -> ScanOutcome:
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
    code, hits = exit_code_for("complete", found, config.fail_on)
    return ScanOutcome(plan.scan_id, "complete", report, hits, code)
