"""assessment-results.json: OSCAL Assessment Results naming every evidence file by SHA-256."""

from __future__ import annotations

from collections.abc import Iterator

from reports.formats.base import Phase, RenderInput, SingleFile, utf8
from reports.oscal import render_oscal


class Oscal(SingleFile):
    """assessment-results.json; its back-matter lists every file of the evidence phase."""

    name = "oscal"
    path = "assessment-results.json"
    phase = Phase.ASSESSMENT

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The document, compact."""
        return utf8(render_oscal(inp.ctx, inp.written, inp.tool_version))
