"""findings.json: every finding and the coverage of the scan (schema ddaudit.findings/1)."""

from __future__ import annotations

from collections.abc import Iterator

from reports.findings_json import render_findings_json
from reports.formats.base import RenderInput, SingleFile, utf8


class FindingsJson(SingleFile):
    """findings.json."""

    name = "findings-json"
    path = "findings.json"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The document, indented, in report order."""
        return utf8(render_findings_json(inp.ctx.report))
