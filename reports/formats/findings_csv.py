"""findings.csv: findings.json flattened, one spreadsheet-safe row per finding."""

from __future__ import annotations

from collections.abc import Iterator

from reports.findings_csv import render_findings_csv
from reports.formats.base import RenderInput, SingleFile, utf8


class FindingsCsv(SingleFile):
    """findings.csv."""

    name = "findings-csv"
    path = "findings.csv"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """RFC 4180 rows in the findings.json order."""
        return utf8(render_findings_csv(inp.ctx.report))
