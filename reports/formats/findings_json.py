"""findings.json: every finding and the coverage of the scan (schema ddaudit.findings/1)."""

from __future__ import annotations

from collections.abc import Iterable

from reports import findings_json
from reports.formats.base import RenderInput, RowRenderer, RowWriter
from reports.verdicts import FindingRow


class FindingsJson(RowRenderer):
    """findings.json."""

    name = "findings-json"
    path = "findings.json"

    def writer(self, inp: RenderInput) -> RowWriter:
        """The document, indented, in report order."""
        return _Writer(inp)


class _Writer(RowWriter):
    def __init__(self, inp: RenderInput) -> None:
        self.report = inp.ctx.report
        self.first = True

    def head(self) -> str:
        return findings_json.head(self.report)

    def row(self, row: FindingRow) -> str:
        text = findings_json.finding(row.finding, first=self.first)
        self.first = False
        return text

    def tail(self, inp: RenderInput) -> Iterable[str]:
        return (findings_json.tail(not self.first),)
