"""listings/<type>.csv: every collected population of the scan, one CSV per type, for sampling."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from reports.formats.base import Renderer, RenderInput
from reports.listings import listing_csv


class Listings(Renderer):
    """listings/<type>.csv, one per population (a type no longer collected is removed)."""

    name = "listings"
    stale = ("listings/*.csv",)

    def paths(self, inp: RenderInput) -> Sequence[str]:
        """One path per listing."""
        return [listing.path for listing in inp.listings]

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The listing's CSV, streamed from the database."""
        listing = next(x for x in inp.listings if x.path == path)
        if inp.engine is None:
            raise ValueError("listings are read from the snapshot: RenderInput needs its engine")
        for text in listing_csv(inp.engine, listing):
            yield text.encode("utf-8")
