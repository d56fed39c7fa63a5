"""findings.csv: findings.json flattened, one spreadsheet-safe row per finding."""

from __future__ import annotations

from reports.findings_csv import COLUMNS, CsvLines, finding_cells
from reports.formats.base import RenderInput, RowRenderer, RowWriter
from reports.verdicts import FindingRow


class FindingsCsv(RowRenderer):
    """findings.csv."""

    name = "findings-csv"
    path = "findings.csv"

    def writer(self, inp: RenderInput) -> RowWriter:
        """RFC 4180 rows in the findings.json order."""
        return _Writer()


class _Writer(RowWriter):
    def __init__(self) -> None:
        self.lines = CsvLines()

    def head(self) -> str:
        return self.lines.line(COLUMNS)

    def row(self, row: FindingRow) -> str:
        return self.lines.line(finding_cells(row.finding))
