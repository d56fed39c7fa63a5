"""report.html: the self-contained page people read."""

from __future__ import annotations

from collections.abc import Iterator

from reports.credentials import load_credentials
from reports.formats.base import RenderInput, SingleFile, utf8
from reports.html import render_html
from reports.trends import load_trends


class Html(SingleFile):
    """report.html."""

    name = "html"
    path = "report.html"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The page, with its stylesheet, script and data inline."""
        scan_id = inp.ctx.report.scan.id
        creds = [] if inp.engine is None else load_credentials(inp.engine, scan_id)
        trends = None if inp.engine is None else load_trends(inp.engine, scan_id)
        return utf8(render_html(inp.ctx, creds, trends))
