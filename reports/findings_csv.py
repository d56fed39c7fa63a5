"""Render findings.csv: one row per finding, findings.json flattened, spreadsheet-safe."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from reports.load import ScanReport
from rules.model import Finding
from scanner.timeutil import isoformat_z

COLUMNS: tuple[str, ...] = (
    "id", "rule_id", "severity", "status", "title", "detail", "site", "org_public_id",
    "org_name", "target", "resource_type", "resource_id", "resource_name", "first_seen",
    "controls", "suppression_reason", "suppression_owner", "suppression_ticket",
    "suppression_expires", "owner",
)

# A cell starting with one of these is a formula to Excel, LibreOffice and Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A CSV cell: None is empty; text a spreadsheet would run as a formula gets a `'` prefix.

    Every name in the evidence comes from the API, so a key named `=HYPERLINK(...)` must
    not become a live formula on the auditor's machine (OWASP "CSV injection").
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text (RFC 4180: CRLF line ends, minimal quoting) with every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()


def render_findings_csv(report: ScanReport) -> str:
    """Return findings.csv for `report`, in the findings.json order; controls joined by `;`."""
    return write_csv(COLUMNS, (_row(f) for f in report.findings))


def _row(f: Finding) -> list[object]:
    supp = f.suppression or {}
    return [
        f.id, f.rule_id, f.severity, f.status, f.title, f.detail, f.site, f.org_public_id,
        f.org_name, f.target, f.resource_type, f.resource_id, f.resource_name,
        isoformat_z(f.first_seen), ";".join(f.controls), supp.get("reason"), supp.get("owner"),
        supp.get("ticket"), supp.get("expires"), f.owner,
    ]
