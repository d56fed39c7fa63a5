"""report.html: the self-contained page people read."""

from __future__ import annotations

from collections.abc import Iterator

from reports.credentials import load_credentials
from reports.formats.base import RenderInput, SingleFile, utf8
from reports.html import render_html


class Html(SingleFile):
    """report.html."""

    name = "html"
    path = "report.html"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The page, with its stylesheet, script and data inline."""
        creds = [] if inp.engine is None else load_credentials(inp.engine, inp.ctx.report.scan.id)
        return utf8(render_html(inp.ctx, creds))
