"""report.html: the self-contained page people read."""

from __future__ import annotations

from collections.abc import Iterable

from reports.credentials import load_credentials
from reports.formats.base import RenderInput, RowRenderer, RowWriter
from reports.html import PageWriter
from reports.trends import load_trends
from reports.verdicts import FindingRow


class Html(RowRenderer):
    """report.html."""

    name = "html"
    path = "report.html"
    flags = True  # the explorer's "new" flag and the page's changes since the previous scan
    spooled = True  # the page above the explorer counts and samples every finding

    def writer(self, inp: RenderInput) -> RowWriter:
        """The page, with its stylesheet, script and data inline."""
        scan_id = inp.ctx.report.scan.id
        creds = [] if inp.engine is None else load_credentials(inp.engine, scan_id)
        trends = None if inp.engine is None else load_trends(inp.engine, scan_id)
        return _Writer(PageWriter(inp.ctx, creds, trends))


class _Writer(RowWriter):
    def __init__(self, page: PageWriter) -> None:
        self.page = page

    def head(self) -> str:
        return self.page.head()

    def row(self, row: FindingRow) -> str:
        return self.page.row(row)

    def tail(self, inp: RenderInput) -> Iterable[str]:
        return self.page.tail()
