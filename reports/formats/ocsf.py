"""findings.ocsf.jsonl: one OCSF Compliance Finding event per finding."""

from __future__ import annotations

from collections.abc import Iterator

from reports.formats.base import RenderInput, SingleFile, utf8
from reports.ocsf import render_ocsf


class Ocsf(SingleFile):
    """findings.ocsf.jsonl."""

    name = "ocsf"
    path = "findings.ocsf.jsonl"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """One JSON event a line."""
        return utf8(render_ocsf(inp.ctx, inp.tool_version))
