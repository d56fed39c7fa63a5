"""Run a scan with simulator faults and compare its rows with a fault-free scan's."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select

from scanner.client import RetryPolicy
from scanner.collect import FAMILIES, Coverage, TargetContext
from scanner.config import Config
from scanner.demo import simulator_config
from scanner.pipeline import (
    RuleStage,
    ScanOutcome,
    collect_all,
    conclude_scan,
    record_collection,
    start_scan,
)
from scanner.simulator import EstateSpec, SimulatedDatadog, generate_estate
from scanner.simulator.faults import Fault, FaultInjector, closed_port_url
from scanner.simulator.model import Estate
from scanner.store import schema
from scanner.store.database import open_store
from scanner.store.schema import SETTLED

# Short delays and a timeout well under the `timeout` fault's stall keep each scan quick; the
# timeout leaves room for a 1000-user page on a loaded 2-core machine.
POLICY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, timeout=1.5)
# Two orgs on two sites; over 1000 users each, so users come in two pages of 1000.
SPEC = EstateSpec(sites=("datadoghq.com", "datadoghq.eu"), orgs_per_site=1,
                  users_per_org=1050, service_accounts_per_org=4,
                  app_keys_per_service_account=1.0, api_keys_per_org=3, roles_per_org=3,
                  mappings_per_org=2, connections_per_org=1, okta_accounts_per_org=1)
# Target 1's key pair lacks org_app_keys_read (SPEC's default key gap): its application
# keys are listed per service account, which can never be complete (keys owned by users
# are out of reach), and its token listing shows only its own user's tokens, so those two
# pairs are partial in every scan, faults or none.
INHERENT: tuple[tuple[int, str], ...] = ((1, "application_keys"), (1, "access_tokens"))
Pair = tuple[str, str]  # (target name, endpoint)
Rows = dict[Pair, Counter[tuple[object, ...]]]
_ENDPOINT_OF = {table: ep for ep, family in FAMILIES.items() for table in family.tables}


@dataclass(frozen=True)
class Scenario:
    """Faults to inject and what the scan must make of them.

    A fault's `org` is a target index ("0", "1") until `resolve` names the org. `expect`:
    "absorbed" (retries hide it: every pair complete), "partial" or "failed" (the pairs in
    `affected`, as (target index, endpoint); endpoint "*" is every endpoint); "mixed":
    each affected pair partial or failed.
    """

    name: str
    faults: tuple[Fault, ...] = ()
    expect: str = "absorbed"
    affected: tuple[tuple[int, str], ...] = ()
    down_site: str | None = None  # a site whose listener is never started

    def resolve(self, estate: Estate) -> tuple[list[Fault], set[Pair]]:
        """The faults with real org ids, and the affected (target name, endpoint) pairs."""
        faults = [replace(f, org=estate.targets[int(f.org)].org_public_id)
                  if f.org is not None else f for f in self.faults]
        pairs: set[Pair] = set()
        for index, endpoint in self.affected:
            name = estate.targets[index].name
            pairs |= {(name, e) for e in (schema.ENDPOINTS if endpoint == "*" else (endpoint,))}
        return faults, pairs


def inherent_pairs(estate: Estate) -> set[Pair]:
    """The (target name, endpoint) pairs partial in every scan of `estate` (see INHERENT)."""
    return {(estate.targets[i].name, endpoint) for i, endpoint in INHERENT}


@dataclass
class FaultRun:
    """What one scenario's scan did."""

    scenario: Scenario
    outcome: ScanOutcome
    requests: int
    retries: int
    fired: int
    coverage: dict[Pair, Coverage]
    affected: set[Pair]
    inherent: set[Pair]  # partial in every scan, faults or none (see INHERENT)
    lost: int  # rows of unaffected pairs that the fault-free scan has and this one lacks
    extra: int  # rows of unaffected pairs beyond the fault-free scan's (duplicates)
    notes: list[str] = field(default_factory=list)

    def verdict(self) -> str:
        """The affected pairs' statuses and causes, or "complete" when all are complete.

        An inherent pair counts as complete while it is what it always is: partial.
        """
        bad = sorted((p, c) for p, c in self.coverage.items() if c.status not in SETTLED
                     and not (p in self.inherent and c.status == "partial"))
        if not bad:
            return "complete"
        statuses = sorted({c.status for _, c in bad})
        cause = (bad[0][1].error or "")[:60]
        return f"{'/'.join(statuses)} {len(bad)} pair(s): {cause}"


def make_estate(now: datetime, *, whole: bool = False) -> Estate:
    """The small estate every fault scenario scans (`whole`: without SPEC's key gap)."""
    return generate_estate(replace(SPEC, key_gaps=()) if whole else SPEC, now=now)


def population(engine: Engine, scan_id: str) -> Rows:
    """Every population row of a scan (less its scan id), per (target, endpoint)."""
    rows: Rows = {}
    with engine.connect() as conn:
        for name, table in schema.POPULATION_TABLES.items():
            for row in conn.execute(select(table).where(table.c.scan_id == scan_id)).mappings():
                values = tuple(v for k, v in sorted(row.items()) if k != "scan_id")
                rows.setdefault((row["target"], _ENDPOINT_OF[name]), Counter())[values] += 1
    return rows


def run_scenario(scenario: Scenario, estate: Estate, folder: Path, baseline: Rows | None,
                 *, policy: RetryPolicy = POLICY) -> tuple[FaultRun, Rows]:
    """Scan `estate` with the scenario's faults into `folder`; compare with `baseline`."""
    faults, affected = scenario.resolve(estate)
    sites = [s for s in estate.sites if s != scenario.down_site]
    with SimulatedDatadog.start_in_thread(estate, sites=sites) as server:
        injector = FaultInjector(faults)
        server.sim.faults = injector
        urls = {**server.urls, **({scenario.down_site: closed_port_url()}
                                  if scenario.down_site else {})}
        folder.mkdir(parents=True, exist_ok=True)
        config = simulator_config(estate, urls, folder / "out",
                                  f"sqlite:///{folder / 'ddaudit.db'}", fail_on="critical")
        engine = open_store(config.database)
        try:
            outcome, results = _scan(config, engine, policy)
            rows = population(engine, outcome.scan_id)
        finally:
            engine.dispose()
        requests = server.sim.request_count
    coverage = {(ctx.target.name, c.endpoint): c for ctx, cov in results for c in cov}
    lost = extra = 0
    for pair, expected in (baseline or {}).items():
        if pair in affected:
            continue
        got = rows.get(pair, Counter())
        lost += sum((expected - got).values())
        extra += sum((got - expected).values())
    if baseline is not None:
        extra += sum(sum(c.values()) for p, c in rows.items()
                     if p not in baseline and p not in affected)
    run = FaultRun(scenario, outcome, requests, sum(c.client.stats.retries for c, _ in results),
                   sum(injector.fired), coverage, affected, inherent_pairs(estate), lost,
                   extra)
    return run, rows


def _scan(config: Config, engine: Engine, policy: RetryPolicy
          ) -> tuple[ScanOutcome, Sequence[tuple[TargetContext, list[Coverage]]]]:
    """`run_scan`, step for step, keeping the clients' retry counters."""
    evaluation = RuleStage.from_config(config)
    scan_id, _ = start_scan(engine, config, evaluation.pack.sha256)
    kept: list[tuple[TargetContext, list[Coverage]]] = []

    def collect() -> str:
        kept.extend(asyncio.run(collect_all(engine, config, scan_id, policy=policy)))
        return record_collection(engine, scan_id, kept, hold=True)

    return conclude_scan(config, engine, scan_id, evaluation, collect), kept
