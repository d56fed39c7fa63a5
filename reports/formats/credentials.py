"""listings/credentials.csv: every API key, application key, token and OAuth client."""

from __future__ import annotations

from collections.abc import Iterator

from reports.credentials import csv_chunks, load_credentials
from reports.formats.base import RenderInput, SingleFile


class Credentials(SingleFile):
    """listings/credentials.csv (no rows but the header without a snapshot engine)."""

    name = "credentials"
    path = "listings/credentials.csv"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The inventory's rows, streamed in batches."""
        rows = [] if inp.engine is None else load_credentials(inp.engine, inp.ctx.report.scan.id)
        for chunk in csv_chunks(rows):
            yield chunk.encode("utf-8")
