"""Render findings.csv: one row per finding, findings.json flattened, spreadsheet-safe."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from functools import lru_cache
from types import SimpleNamespace

from reports.load import ScanReport
from rules.model import Finding
from scanner.timeutil import isoformat_z as _isoformat_z

# Findings share their first-seen times: each is formatted once.
isoformat_z = lru_cache(maxsize=1024)(_isoformat_z)

COLUMNS: tuple[str, ...] = (
    "id", "rule_id", "severity", "status", "title", "detail", "site", "org_public_id",
    "org_name", "target", "resource_type", "resource_id", "resource_name", "first_seen",
    "controls", "suppression_reason", "suppression_owner", "suppression_ticket",
    "suppression_expires", "owner",
)

# A cell starting with one of these is a formula to Excel, LibreOffice and Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_START)


def safe_cell(value: object) -> str:
    """A CSV cell: None is empty; text a spreadsheet would run as a formula gets a `'` prefix.

    Every name in the evidence comes from the API, so a key named `=HYPERLINK(...)` must
    not become a live formula on the auditor's machine (OWASP "CSV injection").
    """
    if type(value) is str:  # most cells: the same test, sooner
        return "'" + value if value.startswith(_FORMULA_START) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class CsvLines:
    """CSV lines one at a time (RFC 4180: CRLF line ends, minimal quoting), cells made safe."""

    def __init__(self) -> None:
        # writerow returns what its file's write returns: here, the line itself.
        self._writer = csv.writer(SimpleNamespace(write=str), lineterminator="\r\n")

    def line(self, cells: Iterable[object], *, safe: bool = False) -> str:
        """One row's text; `safe`: the cells are already strings made safe."""
        if not safe:  # safe_cell's test, inline for the plain strings most cells are
            cells = [v if type(v) is str and v[:1] not in _FORMULA_FIRST else safe_cell(v)
                     for v in cells]
        text: str = self._writer.writerow(cells)
        return text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text (RFC 4180: CRLF line ends, minimal quoting) with every cell made safe."""
    lines = CsvLines()
    return lines.line(header) + "".join(lines.line(row) for row in rows)


def render_findings_csv(report: ScanReport) -> str:
    """Return findings.csv for `report`, in the findings.json order; controls joined by `;`."""
    lines = CsvLines()
    return lines.line(COLUMNS) + "".join(lines.line(finding_cells(f)) for f in report.findings)


def finding_cells(f: Finding) -> list[object]:
    """The cells of one finding's row (COLUMNS order)."""
    return _row(f)


def _row(f: Finding) -> list[object]:
    supp = f.suppression or {}
    return [
        f.id, f.rule_id, f.severity, f.status, f.title, f.detail, f.site, f.org_public_id,
        f.org_name, f.target, f.resource_type, f.resource_id, f.resource_name,
        isoformat_z(f.first_seen), ";".join(f.controls), supp.get("reason"), supp.get("owner"),
        supp.get("ticket"), supp.get("expires"), f.owner,
    ]
