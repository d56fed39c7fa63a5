"""Whole scans on both backends; `scan --resume` re-collects only what failed, as one scan."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import Engine, delete, func, select, update

import rules
from scanner.config import Config
from scanner.errors import NothingToDoError
from scanner.ops.jobs import nightly_scan
from scanner.simulator import SimulatorThread
from scanner.simulator.model import Estate
from scanner.store import schema
from scanner.store.database import open_store
from scanner.store.schema import SETTLED
from tests.ops.conftest import FAST
from tests.oracle import expected_findings, expected_not_assessed

pytestmark = pytest.mark.slow


def _keys(config: Config, scan_id: str, status: str) -> set[tuple[str, str, str, str, str]]:
    document = json.loads((config.output / scan_id / "findings.json").read_text())
    return {(f["rule_id"], f["site"], f["org_public_id"], f["resource_type"], f["resource_id"])
            for f in document["findings"] if f["status"] == status}


def _population(engine: Engine, scan_id: str) -> Counter[str]:
    with engine.connect() as conn:
        return Counter({t.name: conn.execute(select(func.count()).select_from(t).where(
            t.c.scan_id == scan_id)).scalar_one() for t in schema.POPULATION_TABLES.values()})


def test_full_scan_gives_the_oracle_findings_on_each_backend(
    estate: Estate, sim_config: Config,
) -> None:
    outcome = nightly_scan(sim_config, policy=FAST)
    assert (outcome.status, outcome.exit_code) == ("complete", 1)
    assert estate.now is not None
    assert _keys(sim_config, outcome.scan_id, "open") == expected_findings(estate, now=estate.now)
    inputs = {r.id: set(r.inputs) for r in rules.load_rulepack().rules}
    assert _keys(sim_config, outcome.scan_id, "not_assessed") == expected_not_assessed(
        estate, rule_inputs=inputs)


def test_resume_recollects_only_the_failed_pairs(
    estate: Estate, server: SimulatorThread, sim_config: Config,
) -> None:
    victim = estate.targets[0]
    estate.revoke(victim.name, "integrations_read")
    first = nightly_scan(sim_config, policy=FAST)
    assert (first.status, first.exit_code) == ("partial", 3)
    engine = open_store(sim_config.database)
    before = _population(engine, first.scan_id)
    estate.grant(victim.name, "integrations_read")
    requests_before = Counter(server.sim.requests)
    resumed = nightly_scan(sim_config, resume=True, policy=FAST)
    assert resumed.scan_id == first.scan_id
    assert (resumed.status, resumed.exit_code) == ("complete", 1)
    sent = Counter(server.sim.requests) - requests_before
    assert sent and {org for org, _path in sent} == {victim.org_public_id}
    assert all("okta" in path for _org, path in sent)
    after = _population(engine, first.scan_id)
    assert after - before == Counter({"okta_accounts": after["okta_accounts"] -
                                      before["okta_accounts"]})
    assert after["okta_accounts"] > before["okta_accounts"] and before - after == Counter()
    assert estate.now is not None
    assert _keys(sim_config, first.scan_id, "open") == expected_findings(estate, now=estate.now)
    with engine.connect() as conn:
        statuses = set(conn.execute(select(schema.coverage.c.status).where(
            schema.coverage.c.scan_id == first.scan_id)).scalars())
        scans = conn.execute(select(schema.scans.c.id, schema.scans.c.status)).all()
    assert statuses <= SETTLED and scans == [(first.scan_id, "complete")]
    with pytest.raises(NothingToDoError, match="is complete"):
        nightly_scan(sim_config, resume=True, policy=FAST)
    engine.dispose()


def test_resume_of_a_scan_that_died_recollects_whole_targets_without_duplicates(
    estate: Estate, sim_config: Config,
) -> None:
    first = nightly_scan(sim_config, policy=FAST)
    engine = open_store(sim_config.database)
    complete = _population(engine, first.scan_id)
    victim = sim_config.targets[2].name
    with engine.begin() as conn:  # as if the run died while collecting `victim`
        conn.execute(delete(schema.coverage).where(schema.coverage.c.target == victim))
        conn.execute(delete(schema.targets).where(schema.targets.c.target == victim))
        conn.execute(delete(schema.findings))
        conn.execute(update(schema.scans).values(status="failed"))
    resumed = nightly_scan(sim_config, resume=True, policy=FAST)
    assert resumed.scan_id == first.scan_id and resumed.status == "complete"
    assert _population(engine, first.scan_id) == complete
    assert estate.now is not None
    assert _keys(sim_config, first.scan_id, "open") == expected_findings(estate, now=estate.now)
    engine.dispose()
