"""Reports of one scan, written into its output folder: the evidence bundle (docs/outputs.md).

report.html, findings.json, findings.csv, findings.ocsf.jsonl, assessment-results.json,
population.json, listings/<type>.csv, run.json, manifest.json and (when a signing key is
configured) manifest.sig. The same scan always gives the same bytes. Each file is an output
format of reports.formats; reports.bundle assembles them, reports.atomic writes them.
"""

from __future__ import annotations

from reports.bundle import load_context, load_input, write_bundle, write_reports
from reports.context import ReportContext
from reports.findings_json import render_findings_json
from reports.formats import FORMATS, Registry, Renderer, RenderInput
from reports.html import render_html
from reports.load import ScanReport, load_scan

__all__ = [
    "FORMATS", "Registry", "RenderInput", "Renderer", "ReportContext", "ScanReport",
    "load_context", "load_input", "load_scan", "render_findings_json", "render_html",
    "write_bundle", "write_reports",
]
