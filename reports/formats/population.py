"""population.json: per target and endpoint what was collected, and the listings' row counts."""

from __future__ import annotations

from collections.abc import Iterator

from reports.formats.base import RenderInput, SingleFile, utf8
from reports.listings import render_population


class Population(SingleFile):
    """population.json."""

    name = "population"
    path = "population.json"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The coverage by target, then the listings."""
        return utf8(render_population(inp.ctx.report, inp.listings))
