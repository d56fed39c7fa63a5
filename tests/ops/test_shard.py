"""`collect --shard i/n`: deterministic slices, one shared scan, evaluate waits for all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from scanner.config import Config
from scanner.demo import simulator_config
from scanner.errors import BusyError, ConfigError
from scanner.ops.jobs import collect_job
from scanner.ops.shard import parse_shard, shard_targets
from scanner.pipeline import RuleStage, require_collected
from scanner.simulator import SimulatorThread
from scanner.simulator.model import Estate
from scanner.store import schema
from scanner.store.database import open_store
from tests.ops.conftest import FAST, ddaudit, ddaudit_async, write_toml
from tests.oracle import expected_findings

pytestmark = pytest.mark.slow


def test_shards_partition_the_targets_deterministically(sim_config: Config) -> None:
    targets = sim_config.targets
    slices = [shard_targets(targets, i, 3) for i in (1, 2, 3)]
    names = [t.name for s in slices for t in s]
    assert sorted(names) == sorted(t.name for t in targets) and len(set(names)) == len(names)
    assert shard_targets(tuple(reversed(targets)), 2, 3) == slices[1]  # order-independent
    assert max(len(s) for s in slices) - min(len(s) for s in slices) <= 1
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/2", "3/2", "x", "1/0"):
        with pytest.raises(ConfigError, match="not i/n"):
            parse_shard(bad)


def test_evaluate_refuses_until_every_shard_has_finished(sim_config: Config) -> None:
    first = collect_job(sim_config, shard=(1, 2), scan_id="night-1", policy=FAST)
    assert (first.scan_status, first.shard) == ("running", "1/2")
    engine = open_store(sim_config.database)
    with pytest.raises(BusyError, match=r"1 of 2 shards finished \(waiting for 2/2\)"):
        require_collected(engine, "night-1")
    with pytest.raises(ConfigError, match="already finished"):
        collect_job(sim_config, shard=(1, 2), scan_id="night-1", policy=FAST)
    with pytest.raises(ConfigError, match="exists with 2 shards, not 3"):
        collect_job(sim_config, shard=(1, 3), scan_id="night-1", policy=FAST)
    second = collect_job(sim_config, shard=(2, 2), scan_id="night-1", policy=FAST)
    assert second.scan_status == "complete"
    require_collected(engine, "night-1")
    with engine.connect() as conn:
        targets = conn.execute(select(schema.targets.c.target).where(
            schema.targets.c.scan_id == "night-1")).scalars().all()
    assert sorted(targets) == sorted(t.name for t in sim_config.targets)
    engine.dispose()


@pytest.mark.postgresql
def test_two_processes_collect_one_scan_on_postgresql(
    estate: Estate, server: SimulatorThread, tmp_path: Path, pg_clean_url: str,
) -> None:
    sim_config = simulator_config(estate, dict(server.urls), tmp_path / "out", pg_clean_url)
    path, env = write_toml(sim_config, tmp_path)
    args = ("--config", str(path))
    procs = [ddaudit_async("collect", *args, "--shard", f"{i}/2", "--scan", "n2", env=env,
                           cwd=tmp_path) for i in (1, 2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert sorted(out.split(" ")[3] for out, _err in results) == ["1/2", "2/2"]
    assert sorted(out.strip().rsplit(" ", 1)[1] for out, _err in results) == [
        "complete)", "running)"]  # the last one settled it
    evaluated = ddaudit("evaluate", *args, "--scan", "n2", env=env, cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    reported = ddaudit("report", *args, "--scan", "n2", env=env, cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    document = json.loads((sim_config.output / "n2" / "findings.json").read_text())
    found = {(f["rule_id"], f["site"], f["org_public_id"], f["resource_type"], f["resource_id"])
             for f in document["findings"] if f["status"] == "open"}
    assert estate.now is not None
    assert found == expected_findings(estate, now=estate.now)
    assert document["scan"]["status"] == "complete"


def test_evaluation_of_a_sharded_scan_matches_a_single_scan(sim_config: Config) -> None:
    for i in (1, 2, 3):
        collect_job(sim_config, shard=(i, 3), scan_id="n3", policy=FAST)
    engine = open_store(sim_config.database)
    findings = RuleStage.from_config(sim_config).run(engine, "n3")
    whole = collect_job(sim_config, policy=FAST)
    again = RuleStage.from_config(sim_config).run(engine, whole.scan_id)
    assert {f.id for f in findings} == {f.id for f in again}
    engine.dispose()
