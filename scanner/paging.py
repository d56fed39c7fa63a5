"""Pages of list endpoints: the Page type, the API's totals, and concurrent fetching."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from scanner.errors import APIError

T = TypeVar("T")
PAGE_SIZE = 100  # the spec's maximum, which every v2 listing accepts
# Listings that really accept more per page (and say so in meta.page.max_page_size): the
# users listing answers page[size]=500 with max_page_size 1000 in 2026 recordings.
LARGEST_PAGE: dict[str, int] = {"/api/v2/users": 1000}


@dataclass
class Page:
    """One page of a list endpoint: its items, `included` objects and `meta`."""

    data: list[dict[str, Any]]
    included: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def page_total(meta: Mapping[str, Any], key: str) -> int | None:
    """Read `meta.page.<key>` (falling back to the other total) as an int, if present.

    Teams report theirs as `meta.pagination.total` instead.
    """
    if not isinstance(meta, Mapping):
        return None
    page = meta.get("page")
    pagination = meta.get("pagination")
    candidates: list[object] = []
    if isinstance(page, Mapping):
        candidates += [page.get(n) for n in (key, "total_filtered_count", "total_count")]
    if isinstance(pagination, Mapping):
        candidates.append(pagination.get("total"))
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def max_page_size(meta: Mapping[str, Any]) -> int | None:
    """`meta.page.max_page_size`, the largest page the listing says it serves, if given."""
    page = meta.get("page") if isinstance(meta, Mapping) else None
    value = page.get("max_page_size") if isinstance(page, Mapping) else None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def pages_for(total: int, size: int = PAGE_SIZE) -> int:
    """How many pages of `size` items hold `total` items (at least one)."""
    return max(1, math.ceil(total / size))


def as_page(body: Any, path: str) -> Page:
    """Check a JSON:API list document's shape and wrap it as a Page.

    An item that is not an object becomes `{}`: it has no id, so the collector counts it
    as unparseable (and marks the endpoint partial) instead of it vanishing unnoticed.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise APIError(f"GET {path}: response has no 'data' list")
    included = body.get("included")
    meta = body.get("meta")
    return Page(
        data=[d if isinstance(d, dict) else {} for d in body["data"]],
        included=[i for i in included if isinstance(i, dict)] if isinstance(included, list)
        else [],
        meta=meta if isinstance(meta, dict) else {},
    )


class FanOut(Generic[T]):
    """Fetches `fetch(n)` for every n of `numbers`, at most `width` at a time.

    The first requests leave as soon as the FanOut is built, so a caller can still be
    busy with page 0 while pages 1..width are on the wire. `results()` yields
    (number, result) as they complete; `cancel()` stops whatever is still running.
    """

    def __init__(self, fetch: Callable[[int], Awaitable[T]], numbers: Iterable[int],
                 width: int) -> None:
        if width < 1:
            raise ValueError("width must be at least 1")
        self._fetch = fetch
        self._numbers = iter(numbers)
        self._width = width
        self._running: dict[asyncio.Future[T], int] = {}
        self._launch()

    def _launch(self) -> None:
        while len(self._running) < self._width:
            number = next(self._numbers, None)
            if number is None:
                return
            self._running[asyncio.ensure_future(self._fetch(number))] = number

    async def results(self) -> AsyncIterator[tuple[int, T]]:
        """Yield (number, result) as each fetch completes, lowest number first on ties."""
        try:
            while self._running:
                done, _ = await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
                for task in sorted(done, key=self._running.__getitem__):
                    number = self._running.pop(task)
                    yield number, task.result()
                self._launch()
        finally:
            await self.cancel()

    async def cancel(self) -> None:
        """Cancel the fetches still running (and launch no more)."""
        self._numbers = iter(())
        running, self._running = list(self._running), {}
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
