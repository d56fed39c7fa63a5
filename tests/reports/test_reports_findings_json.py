"""findings.json: schema, key order, sort order, values and byte-for-byte determinism."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from report_seed import (
    CONTROLS,
    EXPECTED_COVERAGE_ORDER,
    EXPECTED_FINDING_ORDER,
    HOSTILE,
    SCAN_ID,
    SUPPRESSION,
    TEAM_EU,
    XSS_ATTR,
    MakeStore,
    Seed,
    finding_id,
)
from sqlalchemy import Engine, update

from reports import write_reports
from reports.findings_json import render_findings_json
from reports.load import load_scan
from scanner.errors import StoreError
from scanner.store.schema import findings

SCAN_KEYS = ["id", "started_at", "finished_at", "status", "tool_version", "rulepack_sha256"]
COVERAGE_KEYS = [
    "target", "site", "org_public_id", "endpoint", "status", "collected", "expected", "error",
]
FINDING_KEYS = [
    "id", "rule_id", "severity", "status", "title", "detail", "site", "org_public_id",
    "org_name", "target", "resource_type", "resource_id", "resource_name", "owner",
    "first_seen", "controls", "suppression",
]


def _write(engine: Engine, out: Path) -> tuple[str, dict[str, Any]]:
    write_reports(engine, SCAN_ID, out)
    text = (out / "findings.json").read_text(encoding="utf-8")
    return text, json.loads(text)


def test_top_level_and_scan_object(store: Engine, tmp_path: Path) -> None:
    _, doc = _write(store, tmp_path / "out")
    assert list(doc) == ["schema", "scan", "coverage", "findings"]
    assert doc["schema"] == "ddaudit.findings/1"
    assert list(doc["scan"]) == SCAN_KEYS
    assert doc["scan"] == {
        "id": SCAN_ID,
        "started_at": "2026-11-21T02:00:00Z",  # microseconds dropped, Z suffix
        "finished_at": "2026-11-21T02:07:30Z",
        "status": "partial",
        "tool_version": "0.1.0",
        "rulepack_sha256": "f" * 64,
    }


def test_coverage_order_keys_and_values(store: Engine, tmp_path: Path) -> None:
    _, doc = _write(store, tmp_path / "out")
    rows = doc["coverage"]
    assert [(r["target"], r["endpoint"]) for r in rows] == EXPECTED_COVERAGE_ORDER
    assert all(list(r) == COVERAGE_KEYS for r in rows)
    forbidden = rows[1]
    assert forbidden == {
        "target": "prod-eu1",
        "site": "datadoghq.eu",
        "org_public_id": "def456",
        "endpoint": "application_keys",
        "status": "forbidden",
        "collected": 0,
        "expected": None,
        "error": "403 Forbidden: the key pair lacks org_app_keys_read",
    }
    assert rows[4]["collected"] == 410 and rows[4]["expected"] == 412
    assert rows[0]["error"] is None


def test_findings_order_keys_and_values(store: Engine, tmp_path: Path) -> None:
    _, doc = _write(store, tmp_path / "out")
    rows = doc["findings"]
    assert [r["id"] for r in rows] == [finding_id(k) for k in EXPECTED_FINDING_ORDER]
    assert all(list(r) == FINDING_KEYS for r in rows)
    assert all(r["controls"] == CONTROLS for r in rows)
    by_id = {r["id"]: r for r in rows}
    suppressed = by_id[finding_id("key003")]
    assert suppressed["status"] == "suppressed"
    assert suppressed["suppression"] == SUPPRESSION
    assert list(suppressed["suppression"]) == list(SUPPRESSION)  # stored order kept
    assert by_id[finding_id("key001-us")]["suppression"] is None
    assert by_id[finding_id("org005-none")]["org_public_id"] is None
    assert by_id[finding_id("custom-info")]["owner"] is None  # nobody named: null, not left out
    critical = rows[0]
    assert critical == {
        "id": finding_id("key007"),
        "rule_id": "DDA-KEY-007",
        "severity": "critical",
        "status": "open",
        "title": "Title of DDA-KEY-007",
        "detail": "Application key ci-deploy-key was last used 120 days ago.",
        "site": "datadoghq.eu",
        "org_public_id": "def456",
        "org_name": "Acme EU",
        "target": "prod-eu1",
        "resource_type": "api_key",
        "resource_id": "leaky",
        "resource_name": "ci-deploy-key",
        "owner": TEAM_EU,
        "first_seen": "2026-10-03T03:04:05Z",
        "controls": CONTROLS,
        "suppression": None,
    }


def test_only_the_requested_scan(store: Engine, tmp_path: Path) -> None:
    _, doc = _write(store, tmp_path / "out")
    assert "fp-other-scan" not in {r["id"] for r in doc["findings"]}
    assert "teams" not in {r["endpoint"] for r in doc["coverage"]}


def test_formatting_is_fixed(store: Engine, tmp_path: Path) -> None:
    text, _ = _write(store, tmp_path / "out")
    assert text.startswith('{\n  "schema": "ddaudit.findings/1",\n  "scan": {\n    "id": ')
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert "Acme Zürich Prod" in text  # ensure_ascii=False: UTF-8 as is
    raw = (tmp_path / "out" / "findings.json").read_bytes()
    assert raw == text.encode("utf-8")


def test_deterministic_bytes(make_store: MakeStore, tmp_path: Path) -> None:
    engine = make_store()
    write_reports(engine, SCAN_ID, tmp_path / "a")
    write_reports(engine, SCAN_ID, tmp_path / "b")
    # Rows inserted in the opposite order give the very same files.
    reversed_engine = make_store(name="reversed", reverse=True)
    write_reports(reversed_engine, SCAN_ID, tmp_path / "c")
    for name in ("findings.json", "report.html"):
        first = (tmp_path / "a" / name).read_bytes()
        assert first == (tmp_path / "b" / name).read_bytes()
        assert first == (tmp_path / "c" / name).read_bytes()


def test_hostile_names_round_trip_exactly(hostile_store: Engine, tmp_path: Path) -> None:
    _, doc = _write(hostile_store, tmp_path / "out")
    targets = {r["target"] for r in doc["coverage"]}
    assert targets == {HOSTILE, "prod-eu1" + XSS_ATTR}
    for row in doc["findings"]:
        assert row["org_name"] in (HOSTILE, HOSTILE + " eu")
        assert row["resource_name"] == row["owner"] == HOSTILE
        assert row["detail"] == f"Key {HOSTILE} was last used never."


def test_empty_scan_has_empty_lists(make_store: MakeStore, tmp_path: Path) -> None:
    engine = make_store(Seed(status="complete", coverage=[], findings=[]))
    _, doc = _write(engine, tmp_path / "out")
    assert doc["coverage"] == [] and doc["findings"] == []
    assert doc["scan"]["status"] == "complete"


@pytest.mark.parametrize(
    ("column", "value"),
    [("controls", "not json"), ("controls", '{"a": 1}'), ("suppression", '["x"]')],
)
def test_corrupt_json_columns_raise_store_error(
    store: Engine, column: str, value: str, tmp_path: Path
) -> None:
    with store.begin() as conn:
        conn.execute(
            update(findings)
            .where(findings.c.id == finding_id("key007"))
            .values({column: value})
        )
    # The findings are read as the bundle is written: the bad row stops it, nothing is kept.
    with pytest.raises(StoreError, match=f"finding {finding_id('key007')}: {column}"):
        list(load_scan(store, SCAN_ID).findings)
    with pytest.raises(StoreError, match=f"finding {finding_id('key007')}: {column}"):
        write_reports(store, SCAN_ID, tmp_path / "out" / SCAN_ID)
    assert not (tmp_path / "out" / SCAN_ID).exists()


def test_render_is_pure(store: Engine) -> None:
    report = load_scan(store, SCAN_ID)
    assert render_findings_json(report) == render_findings_json(load_scan(store, SCAN_ID))
