"""Render findings.json (schema `ddaudit.findings/1`, docs/outputs.md) for one scan."""

from __future__ import annotations

import json

from reports.load import CoverageRow, ScanReport, ScanSummary
from rules.model import Finding
from scanner.timeutil import isoformat_z

SCHEMA = "ddaudit.findings/1"


def render_findings_json(report: ScanReport) -> str:
    """Return the findings.json text: fixed key order, indent 2, UTF-8 as is, final newline.

    The same scan always gives the same text, byte for byte.
    """
    document: dict[str, object] = {
        "schema": SCHEMA,
        "scan": _scan(report.scan),
        "coverage": [_coverage(row) for row in report.coverage],
        "findings": [_finding(row) for row in report.findings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def _scan(scan: ScanSummary) -> dict[str, object]:
    return {
        "id": scan.id,
        "started_at": isoformat_z(scan.started_at),
        "finished_at": isoformat_z(scan.finished_at),
        "status": scan.status,
        "tool_version": scan.tool_version,
        "rulepack_sha256": scan.rulepack_sha256,
    }


def _coverage(row: CoverageRow) -> dict[str, object]:
    return {
        "target": row.target,
        "site": row.site,
        "org_public_id": row.org_public_id,
        "endpoint": row.endpoint,
        "status": row.status,
        "collected": row.collected,
        "expected": row.expected,
        "error": row.error,
    }


def _finding(row: Finding) -> dict[str, object]:
    return {
        "id": row.id,
        "rule_id": row.rule_id,
        "severity": row.severity,
        "status": row.status,
        "title": row.title,
        "detail": row.detail,
        "site": row.site,
        "org_public_id": row.org_public_id,
        "org_name": row.org_name,
        "target": row.target,
        "resource_type": row.resource_type,
        "resource_id": row.resource_id,
        "resource_name": row.resource_name,
        "owner": row.owner,
        "first_seen": isoformat_z(row.first_seen),
        "controls": list(row.controls),
        "suppression": None if row.suppression is None else dict(row.suppression),
    }
