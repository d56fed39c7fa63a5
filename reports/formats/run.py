"""run.json: tool version, rule pack and config hashes, scope, times and result counts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reports.formats.base import RenderInput, SingleFile, utf8
from reports.notify.ledger import deliveries
from reports.runinfo import render_run


class Run(SingleFile):
    """run.json."""

    name = "run"
    path = "run.json"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The run's metadata, with the notifications the scan's sinks were sent."""
        sent: list[dict[str, Any]] = []
        if inp.engine is not None:
            with inp.engine.connect() as conn:
                sent = deliveries(conn, inp.ctx.report.scan.id)
        return utf8(render_run(inp.ctx, inp.tool_version, sent))
