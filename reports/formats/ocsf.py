"""findings.ocsf.jsonl: one OCSF Compliance Finding event per finding."""

from __future__ import annotations

from reports.formats.base import RenderInput, RowRenderer, RowWriter
from reports.ocsf import EventLines
from reports.verdicts import FindingRow


class Ocsf(RowRenderer):
    """findings.ocsf.jsonl."""

    name = "ocsf"
    path = "findings.ocsf.jsonl"
    flags = True  # a finding new since the previous scan is a Create, else an Update

    def writer(self, inp: RenderInput) -> RowWriter:
        """One JSON event a line."""
        return _Writer(EventLines(inp.ctx, inp.tool_version))


class _Writer(RowWriter):
    def __init__(self, lines: EventLines) -> None:
        self.lines = lines

    def row(self, row: FindingRow) -> str:
        return self.lines.line(row.finding, row.new)
