"""run.json: tool version, rule pack and config hashes, scope, times and result counts."""

from __future__ import annotations

from collections.abc import Iterator

from reports.formats.base import RenderInput, SingleFile, utf8
from reports.runinfo import render_run


class Run(SingleFile):
    """run.json."""

    name = "run"
    path = "run.json"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The run's metadata."""
        return utf8(render_run(inp.ctx, inp.tool_version))
