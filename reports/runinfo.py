"""Render run.json: tool version, rule pack hash, config hash (no secrets), scope and times."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from reports.context import ReportContext
from scanner.store.schema import ENDPOINTS
from scanner.timeutil import isoformat_z

SCHEMA = "ddaudit.run/1"


def render_run(ctx: ReportContext, exported_by: str,
               notifications: Sequence[Mapping[str, Any]] = ()) -> str:
    """Return run.json. Every time in it is a recorded scan time from the database.

    `exported_by` is the version of ddaudit that wrote the bundle (it may be newer than the
    one that ran the scan); `notifications` are the scan's recorded deliveries
    (reports.notify.deliveries), sent before the bundle was written.
    """
    report = ctx.report
    scan = report.scan
    duration = (
        None if scan.finished_at is None
        else round((scan.finished_at - scan.started_at).total_seconds(), 3)
    )
    counts = report.counts
    document = {
        "schema": SCHEMA,
        "tool": {"name": "ddaudit", "version": scan.tool_version, "exported_by": exported_by},
        "scan": {
            "id": scan.id,
            "status": scan.status,
            "started_at": isoformat_z(scan.started_at),
            "finished_at": isoformat_z(scan.finished_at),
            "duration_seconds": duration,
        },
        "rulepack": {
            "sha256": scan.rulepack_sha256,
            "metadata_sha256": ctx.pack_sha256,
            "metadata_matches_scan": ctx.pack_matches_scan,
            "rules": [r.rule.id for r in ctx.rules if r.status != "disabled"],
            "disabled": [r.rule.id for r in ctx.rules if r.status == "disabled"],
        },
        "config": {
            "sha256": scan.config_sha256,
            "note": "SHA-256 of the configuration with every credential left out",
        },
        "scope": {
            "sites": sorted({t.site for t in report.targets}),
            "targets": [
                {
                    "target": t.target,
                    "site": t.site,
                    "org_public_id": t.org_public_id,
                    "org_uuid": t.org_uuid,
                    "org_name": t.org_name,
                }
                for t in report.targets
            ],
            "endpoints": list(ENDPOINTS),
        },
        "previous_scan": None if ctx.diff.from_scan is None else ctx.diff.from_scan.id,
        "changes": None if ctx.diff.from_scan is None else {  # index.html reads these
            "new": len(ctx.diff.new), "resolved": len(ctx.diff.resolved),
            "changed": len(ctx.diff.changed), "no_longer_assessed": len(ctx.diff.unassessed),
        },
        "results": {
            "findings": len(report.findings),
            "open": counts.open_total,
            "open_by_severity": dict(counts.open_by_severity),
            "suppressed": counts.suppressed,
            "not_assessed": counts.not_assessed,
            "coverage_incomplete": len(report.incomplete_coverage),
        },
        "notifications": [dict(n) for n in notifications],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
