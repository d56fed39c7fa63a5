"""Diffs between scans: new, resolved, changed, and never "resolved" for want of data."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from report_seed import OTHER_SCAN_ID, SCAN_ID, MakeStore, finding_id
from sqlalchemy import Engine, insert, select, update

from reports.diff import diff_scans, render_diff_text
from scanner.errors import ConfigError
from scanner.store.schema import findings, scans


def _copy_finding(engine: Engine, key: str, **changes: object) -> None:
    """Put finding `key` of the seeded scan into the older scan, with some fields changed."""
    with engine.begin() as conn:
        row = dict(conn.execute(select(findings).where(
            findings.c.scan_id == SCAN_ID, findings.c.id == finding_id(key))).mappings().one())
        conn.execute(insert(findings), [{**row, "scan_id": OTHER_SCAN_ID, **changes}])


def test_new_resolved_changed_and_unassessed(make_store: MakeStore) -> None:
    engine = make_store()
    _copy_finding(engine, "key007")  # unchanged
    _copy_finding(engine, "org001", severity="medium")  # severity changed
    _copy_finding(engine, "key003", status="open", suppression=None)  # now suppressed
    # Was open before; its rule is not assessed for that target now: not "resolved".
    _copy_finding(engine, "key004-na", id="fp-key004-real", status="open",
                  resource_type="application_key", resource_id="k9")
    diff = diff_scans(engine, None, None)
    assert diff.from_scan is not None and diff.from_scan.id == OTHER_SCAN_ID
    assert diff.to_scan.id == SCAN_ID
    assert {f.id for f in diff.new} == {finding_id(k) for k in (
        "key001-us", "key001-eu", "custom-info", "org005-abc", "org005-none", "scan001",
        "key004-na")}
    assert [f.id for f in diff.resolved] == ["fp-other-scan"]
    assert [f.id for f in diff.unassessed] == ["fp-key004-real"]
    whats = {c.after.id: c.what for c in diff.changed}
    assert whats == {finding_id("org001"): "severity medium -> high",
                     finding_id("key003"): "status open -> suppressed"}
    text = render_diff_text(diff)
    assert text.startswith(f"diff {OTHER_SCAN_ID} -> {SCAN_ID}: 7 new, 1 resolved, 2 changed, "
                           "1 no longer assessed")
    assert "no longer assessed (not resolved" in text


def test_failed_scans_are_no_baseline(make_store: MakeStore) -> None:
    engine = make_store()
    with engine.begin() as conn:
        conn.execute(update(scans).where(scans.c.id == OTHER_SCAN_ID).values(status="failed"))
    with pytest.raises(ConfigError, match="no earlier finished scan"):
        diff_scans(engine, None, SCAN_ID)


def test_terminal_output_has_no_control_characters(make_store: MakeStore) -> None:
    engine = make_store()
    with engine.begin() as conn:
        conn.execute(update(findings).values(resource_name="evil\x1b[2Jname"))
    assert "\x1b" not in render_diff_text(diff_scans(engine, None, None))


def test_cli_diff_text_and_json(make_store: MakeStore, tmp_path: Path) -> None:
    engine = make_store()
    url = str(engine.url)
    with engine.begin() as conn:  # a third, newer scan with nothing in it
        conn.execute(insert(scans), [{"id": "z-newest", "started_at": datetime(2026, 11, 22),
                                      "status": "complete", "tool_version": "0.1.0"}])
    base = [sys.executable, "-m", "scanner.cli", "diff", "--database", url]
    text = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"diff {SCAN_ID} -> z-newest: 0 new, 9 resolved")
    result = subprocess.run([*base, "--from", OTHER_SCAN_ID, "--to", SCAN_ID, "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    document = json.loads(result.stdout)
    assert (document["from"], document["to"]) == (OTHER_SCAN_ID, SCAN_ID)
    assert len(document["new"]) == 10 and len(document["resolved"]) == 1
