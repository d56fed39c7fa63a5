"""A scan killed while writing its report: listed as unreported, `scan --resume` reports it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from reports.manifest import verify_bundle
from rules import Evaluated
from scanner.config import Config
from scanner.ops.history import list_scans
from scanner.ops.jobs import collect_job, nightly_scan
from scanner.store import schema
from scanner.store.database import open_store
from tests.ops.conftest import FAST, ddaudit, write_toml

pytestmark = pytest.mark.slow

# `ddaudit` whose report writer starts the bundle, then dies by SIGKILL: no handler runs.
KILLED_IN_REPORT = """
import os, signal, sys
import reports

def die(engine, scan_id, out_dir, **_options):
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.html").write_text("<!doctype html><p>half a rep")
    os.kill(os.getpid(), signal.SIGKILL)

reports.write_reports = die
from scanner.cli import main
main()
"""


def test_scan_killed_while_reporting_is_unreported_until_resume(
    sim_config: Config, tmp_path: Path,
) -> None:
    toml, env = write_toml(sim_config, tmp_path)
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_REPORT, "scan", "--config",
                             str(toml)], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    engine = open_store(sim_config.database)
    with engine.connect() as conn:
        scan = conn.execute(select(schema.scans)).mappings().one()
        findings_before = set(conn.execute(select(schema.findings.c.id, schema.findings.c.status)
                                           .where(schema.findings.c.scan_id == scan["id"])))
    assert scan["status"] == "complete" and scan["evaluated_at"] is not None
    assert scan["reported_at"] is None and findings_before

    listed = ddaudit("scans", "list", "--database", sim_config.database, env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert f"{scan['id']}" in listed.stdout and "complete, unreported" in listed.stdout
    as_json = ddaudit("scans", "list", "--json", "--database", sim_config.database, env=env,
                      cwd=tmp_path)
    row = json.loads(as_json.stdout.splitlines()[0])
    assert (row["status"], row["unfinished"], row["reported_at"]) == ("complete", "unreported",
                                                                      None)

    resumed = ddaudit("scan", "--resume", "--config", str(toml), env=env, cwd=tmp_path)
    assert resumed.returncode == 1, resumed.stderr  # the estate has critical findings
    assert "report was never written" in resumed.stderr
    assert resumed.stdout.startswith(f"scan {scan['id']} complete: ")
    bundle = sim_config.output / scan["id"]
    assert verify_bundle(bundle).ok
    assert "half a rep" not in (bundle / "report.html").read_text(encoding="utf-8")
    with engine.connect() as conn:
        after = conn.execute(select(schema.scans)).mappings().one()
        findings_after = set(conn.execute(select(schema.findings.c.id, schema.findings.c.status)
                                          .where(schema.findings.c.scan_id == scan["id"])))
    assert after["reported_at"] is not None
    assert after["evaluated_at"] == scan["evaluated_at"]  # reported, not evaluated again
    assert findings_after == findings_before
    listed = ddaudit("scans", "list", "--database", sim_config.database, env=env, cwd=tmp_path)
    assert "unreported" not in listed.stdout
    again = ddaudit("scan", "--resume", "--config", str(toml), env=env, cwd=tmp_path)
    assert again.returncode == 2 and "nothing to resume" in again.stderr
    engine.dispose()


def test_resume_of_a_collected_only_scan_evaluates_and_reports_it(sim_config: Config) -> None:
    collected = collect_job(sim_config, policy=FAST)
    assert collected.status == "complete"
    engine = open_store(sim_config.database)
    assert [s.label for s in list_scans(engine)] == ["complete, unevaluated"]
    outcome = nightly_scan(sim_config, resume=True, policy=FAST)
    assert (outcome.scan_id, outcome.status, outcome.exit_code) == (collected.scan_id,
                                                                   "complete", 1)
    assert outcome.report is not None and verify_bundle(outcome.report.parent).ok
    [summary] = list_scans(engine)
    assert summary.label == "complete"
    stored = Evaluated.stored(engine, collected.scan_id)
    assert stored.tally(status="open") == summary.open_findings
    assert stored.tally(status="open", at_or_above="critical") == outcome.open_at_or_above > 0
    assert summary.evaluated_at is not None and summary.reported_at is not None
    engine.dispose()
