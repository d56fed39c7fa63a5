"""The Datadog HTTP client: authentication, retries with backoff, and the three paging styles.

Policy (what to retry, how long to wait, how to page) stays here; the I/O is one
aiohttp session per scan, shared by every target.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from scanner.config import Target
from scanner.errors import APIError, ForbiddenError, RateLimitedError
from scanner.sites import api_base_url
from scanner.throttle import OrgThrottle

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # the API's maximum; a larger page[size] is a 400


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry: 429 (honouring X-RateLimit-Reset), 5xx and timeouts."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for retry number `attempt` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def rate_limit_wait(self, headers: Mapping[str, str], attempt: int) -> float:
        """Seconds to wait after a 429: the bucket's reset, plus a little jitter."""
        reset = headers.get("X-RateLimit-Reset")
        try:
            seconds = float(reset) if reset is not None else None
        except ValueError:
            seconds = None
        if seconds is None or seconds < 0:
            return self.backoff(attempt)
        return min(self.max_delay, seconds) + random.uniform(0, 0.25)


@dataclass
class Page:
    """One page of a list endpoint: its items, `included` objects and `meta`."""

    data: list[dict[str, Any]]
    included: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClientStats:
    """Request counters for one client (one target)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0


class DatadogClient:
    """Read-only access to one org through its key pair."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        target: Target,
        *,
        allow_custom_endpoints: bool = False,
        policy: RetryPolicy | None = None,
        throttle: OrgThrottle | None = None,
    ) -> None:
        self._session = session
        self._target = target
        self._policy = policy or RetryPolicy()
        self.throttle = throttle or OrgThrottle()
        if target.api_url and allow_custom_endpoints:
            self.base_url = target.api_url.rstrip("/")
        else:
            self.base_url = api_base_url(target.site)
        self.stats = ClientStats()

    def _headers(self) -> dict[str, str]:
        return {
            "DD-API-KEY": self._target.api_key.reveal(),
            "DD-APPLICATION-KEY": self._target.app_key.reveal(),
            "Accept": "application/json",
        }

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET `path` and return its decoded JSON body; raise an APIError when it fails."""
        url = self.base_url + path
        query = {k: str(v) for k, v in (params or {}).items()}
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self._once(path, url, query, attempt)
            except _Retry as retry:
                if attempt >= self._policy.max_attempts:
                    if retry.status == 429:
                        raise RateLimitedError(
                            f"GET {path}: rate limited on {attempt} attempts", status=429
                        ) from None
                    raise APIError(f"GET {path}: {retry.reason} after {attempt} attempts",
                                   status=retry.status) from None
                self.stats.retries += 1
                log.debug("retrying GET %s in %.2fs: %s", path, retry.wait, retry.reason)
                await asyncio.sleep(retry.wait)
                continue
            return result

    async def _once(self, path: str, url: str, query: dict[str, str], attempt: int) -> Any:
        timeout = aiohttp.ClientTimeout(total=self._policy.timeout)
        ticket = await self.throttle.acquire(path)
        status: int | None = None
        headers: Mapping[str, str] = {}
        self.stats.requests += 1
        try:
            async with self._session.get(
                url, params=query, headers=self._headers(), timeout=timeout,
                allow_redirects=False,
            ) as resp:
                status, headers = resp.status, resp.headers
                body = await resp.read()
        except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise _Retry(None, f"{exc.__class__.__name__}", self._policy.backoff(attempt)) from None
        finally:
            self.throttle.release(ticket, status, headers)
        if status == 429:
            self.stats.rate_limited += 1
            raise _Retry(429, "HTTP 429", self._policy.rate_limit_wait(headers, attempt))
        if status >= 500:
            raise _Retry(status, f"HTTP {status}", self._policy.backoff(attempt))
        if 300 <= status < 400:
            # Never follow: a redirect could carry the keys to another host.
            raise APIError(f"GET {path}: refused to follow a redirect (HTTP {status})",
                           status=status)
        if status >= 400:
            message = f"GET {path}: HTTP {status}: {_error_text(body)}"
            if status in (401, 403):
                raise ForbiddenError(message, status=status)
            raise APIError(message, status=status)
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _Retry(status, "malformed JSON body", self._policy.backoff(attempt)) from None

    async def get_page(self, path: str, params: Mapping[str, str | int] | None = None) -> Page:
        """GET a JSON:API document and wrap it as a Page."""
        body = await self.get(path, params)
        return _as_page(body, path)

    async def pages_by_number(
        self, path: str, params: Mapping[str, str | int] | None = None,
        *, total_of: str = "total_count", fan_out: int = 8,
    ) -> AsyncIterator[Page]:
        """Yield every page of a 0-based `page[number]` listing, PAGE_SIZE items a page.

        Once the first page reports the API's total, the remaining pages are fetched
        concurrently (`fan_out` at a time) and yielded as they arrive. Without a total,
        or when the last expected page is still full (the total grew), paging goes on
        one page at a time until a short page.
        """

        def query(number: int) -> dict[str, str | int]:
            return {**(params or {}), "page[size]": PAGE_SIZE, "page[number]": number}

        first = await self.get_page(path, query(0))
        yield first
        if len(first.data) < PAGE_SIZE:
            return
        total = page_total(first.meta, total_of)
        number, previous = 1, first
        if total is not None:
            last = max(0, math.ceil(total / PAGE_SIZE) - 1)
            async for number, page in self._fetch_concurrently(path, query, 1, last, fan_out):
                yield page
                if number == last:
                    previous = page
            if len(previous.data) < PAGE_SIZE or last == 0:
                return
            number = last + 1
        while True:
            page = await self.get_page(path, query(number))
            if page.data and _ids(page) == _ids(previous):
                raise APIError(f"GET {path}: page {number} repeats page {number - 1} "
                               "(pagination loop)")
            yield page
            if len(page.data) < PAGE_SIZE:
                return
            number, previous = number + 1, page

    async def _fetch_concurrently(
        self, path: str, query: Callable[[int], dict[str, str | int]],
        start: int, stop: int, width: int,
    ) -> AsyncIterator[tuple[int, Page]]:
        """Fetch pages start..stop with at most `width` in flight; yield as they complete."""
        numbers = iter(range(start, stop + 1))
        running: dict[asyncio.Task[Page], int] = {}

        def launch() -> None:
            for number in numbers:
                running[asyncio.ensure_future(self.get_page(path, query(number)))] = number
                if len(running) >= width:
                    return

        launch()
        try:
            while running:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in sorted(done, key=running.__getitem__):
                    number = running.pop(task)
                    yield number, task.result()
                launch()
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def pages_by_offset(self, path: str, *, limit: int = 1000) -> AsyncIterator[Page]:
        """Yield every page of a `limit`/`offset` listing (org connections)."""
        offset = 0
        while True:
            page = await self.get_page(path, {"limit": limit, "offset": offset})
            yield page
            total = page_total(page.meta, "total_count")
            offset += len(page.data)
            if len(page.data) < limit or (total is not None and offset >= total):
                return


class _Retry(Exception):
    def __init__(self, status: int | None, reason: str, wait: float) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.wait = wait


def page_total(meta: Mapping[str, Any], key: str) -> int | None:
    """Read `meta.page.<key>` (falling back to the other total) as an int, if present."""
    page = meta.get("page") if isinstance(meta, Mapping) else None
    if not isinstance(page, Mapping):
        return None
    for name in (key, "total_filtered_count", "total_count"):
        value = page.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _as_page(body: Any, path: str) -> Page:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise APIError(f"GET {path}: response has no 'data' list")
    included = body.get("included")
    meta = body.get("meta")
    return Page(
        data=[d for d in body["data"] if isinstance(d, dict)],
        included=[i for i in included if isinstance(i, dict)] if isinstance(included, list)
        else [],
        meta=meta if isinstance(meta, dict) else {},
    )


def _ids(page: Page) -> list[object]:
    return [item.get("id") for item in page.data]


def _error_text(body: bytes) -> str:
    try:
        errors = json.loads(body).get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e) for e in errors)[:200]
    except (ValueError, AttributeError, UnicodeDecodeError):
        pass
    return "no error detail"
