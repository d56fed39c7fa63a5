"""assessment-results.json: OSCAL Assessment Results naming every evidence file by SHA-256."""

from __future__ import annotations

from collections.abc import Iterable

from reports.formats.base import Phase, RenderInput, RowRenderer, RowWriter
from reports.oscal import OscalDocument
from reports.verdicts import FindingRow


class Oscal(RowRenderer):
    """assessment-results.json; its back-matter lists every file of the evidence phase."""

    name = "oscal"
    path = "assessment-results.json"
    phase = Phase.ASSESSMENT

    def writer(self, inp: RenderInput) -> RowWriter:
        """The document, compact, one observation per finding (written with the evidence;
        the back-matter, which names the evidence files by hash, in this phase)."""
        return _Writer(OscalDocument(inp.ctx, inp.tool_version))


class _Writer(RowWriter):
    def __init__(self, document: OscalDocument) -> None:
        self.document = document

    def head(self) -> str:
        return self.document.head()

    def row(self, row: FindingRow) -> str:
        return self.document.observation(row.finding)

    def tail(self, inp: RenderInput) -> Iterable[str]:
        return (self.document.tail(inp.written),)
