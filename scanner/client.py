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
import re
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from dataclasses import dataclass
from typing import Any

import aiohttp

from scanner.config import Target, check_custom_url
from scanner.errors import APIError, ForbiddenError, RateLimitedError
from scanner.paging import (
    LARGEST_PAGE,
    PAGE_SIZE,
    FanOut,
    Page,
    as_page,
    max_page_size,
    page_total,
    pages_for,
)
from scanner.permissions import needs_text
from scanner.sites import api_base_url
from scanner.throttle import OrgThrottle

log = logging.getLogger(__name__)

FAN_OUT = 8  # pages of one listing in flight at once, once its total is known
LARGE_PAGES = 2  # pages above PAGE_SIZE alive at once in a whole collection (memory)
MAX_IN_FLIGHT = 8  # requests of one org on the wire at once (its share of the sockets)
# An id taken from an API answer and put into a request path: nothing that could climb
# out of the path (`..`, `/`), start a query or fragment, or be percent-decoded later.
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
# What a Datadog key looks like: 32 (API key) or 40 (application key) hex digits.
_KEY_SHAPED = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32})(?![0-9A-Fa-f])")
SCRUBBED = "***"
MIN_SECRET = 8  # shorter values are no key Datadog issues; replacing them would garble text


def scrub_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each of `secrets`, and every 32- or 40-hex-digit run, replaced by ***."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, SCRUBBED)
    return _KEY_SHAPED.sub(SCRUBBED, text)


def path_segment(value: object, what: str) -> str:
    """`value` as one request-path segment, or APIError when it is not a plain id.

    Ids read from answers go into later paths; a hostile `../api_keys/ID#` would otherwise
    turn a listing into the single-key GET that returns a secret.
    """
    if isinstance(value, str) and _SAFE_SEGMENT.fullmatch(value) and ".." not in value:
        return value
    shown = repr(value)[:40]
    raise APIError(f"refused to put {what} {shown} into a request path: not a plain id")


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
        max_in_flight: int = MAX_IN_FLIGHT,
        large_pages: asyncio.Semaphore | None = None,
    ) -> None:
        self._session = session
        self._target = target
        # Shared by every client of a collection: pages larger than PAGE_SIZE alive at once
        # (fetched and not yet consumed), so memory does not grow with the page size.
        self._large_pages = large_pages
        self._policy = policy or RetryPolicy()
        self.throttle = throttle or OrgThrottle()
        # A slow org holds at most this many sockets, so it never starves the others.
        self._wire = asyncio.Semaphore(max_in_flight)
        if target.api_url and allow_custom_endpoints:
            # Checked again here, so no Config built by hand can send keys in clear text.
            check_custom_url(target.api_url, f"target '{target.name}' api_url")
            self.base_url = target.api_url.rstrip("/")
        else:
            self.base_url = api_base_url(target.site)
        self.stats = ClientStats()
        self._page_sizes: dict[str, int] = {}  # listing path -> page size learned this scan
        self._answers: dict[str, Any] = {}  # path -> answer (or APIError) of `get_once`

    def scrub(self, text: str) -> str:
        """`text` with this target's key values, and anything shaped like a key, as ***.

        Error text partly comes from the API's answers, which may echo what was sent; it
        is stored (coverage), rendered (reports) and logged, so it never carries a key.
        """
        return scrub_secrets(text, (self._target.api_key.reveal(), self._target.app_key.reveal()))

    def _headers(self) -> dict[str, str]:
        return {
            "DD-API-KEY": self._target.api_key.reveal(),
            "DD-APPLICATION-KEY": self._target.app_key.reveal(),
            "Accept": "application/json",
        }

    async def get(self, path: str, params: Mapping[str, str | int] | None = None,
                  *, like: str | None = None) -> Any:
        """GET `path` and return its decoded JSON body; raise an APIError when it fails.

        `like`: an endpoint whose rate-limit bucket `path` is expected to share.
        """
        try:
            return await self._get(path, params, like)
        except APIError as exc:
            raise exc.__class__(self.scrub(str(exc)), status=exc.status) from None

    async def delete(self, path: str, *, like: str | None = None) -> int:
        """DELETE `path` (remediation writes only); return the success status (200-299).

        Paced, retried and refused exactly as reads are (429 and 5xx retried: a DELETE is
        idempotent); a 404 raises APIError with status 404, a 401/403 ForbiddenError.
        Only `ddaudit apply` calls it, on a client built with the target's write pair.
        """
        try:
            return int(await self._get(path, None, like, method="DELETE"))
        except APIError as exc:
            raise exc.__class__(self.scrub(str(exc)), status=exc.status) from None

    async def _get(self, path: str, params: Mapping[str, str | int] | None,
                   like: str | None, *, method: str = "GET") -> Any:
        url = self.base_url + path
        query = {k: str(v) for k, v in (params or {}).items()}
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self._once(path, url, query, attempt, like, method)
            except _Retry as retry:
                if attempt >= self._policy.max_attempts:
                    if retry.status == 429:
                        raise RateLimitedError(
                            f"{method} {path}: rate limited on {attempt} attempts", status=429
                        ) from None
                    raise APIError(f"{method} {path}: {retry.reason} after {attempt} attempts",
                                   status=retry.status) from None
                self.stats.retries += 1
                log.debug("retrying %s %s in %.2fs: %s", method, path, retry.wait, retry.reason)
                await asyncio.sleep(retry.wait)
                continue
            return result

    async def _once(self, path: str, url: str, query: dict[str, str], attempt: int,
                    like: str | None, method: str = "GET") -> Any:
        timeout = aiohttp.ClientTimeout(total=self._policy.timeout)
        ticket = await self.throttle.acquire(path, like=like)
        status: int | None = None
        headers: Mapping[str, str] = {}
        self.stats.requests += 1
        try:
            # ssl=True: certificates are always verified; no setting turns that off.
            async with self._wire, self._session.request(
                method, url, params=query, headers=self._headers(), timeout=timeout,
                allow_redirects=False, ssl=True,
            ) as resp:
                status, headers, ctype = resp.status, resp.headers, resp.content_type
                body = await resp.read()
        except aiohttp.ClientSSLError as exc:
            raise APIError(f"{method} {path}: TLS verification failed ({exc.__class__.__name__}); "
                           "ddaudit never sends keys without a verified certificate: fix the "
                           "endpoint's certificate or trust its CA in the system store",
                           status=None) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Connection trouble, a cut body, or an answer aiohttp cannot parse (a bad
            # status line or header, ClientResponseError): retried, then this endpoint fails.
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
            raise APIError(f"{method} {path}: refused to follow a redirect (HTTP {status})",
                           status=status)
        if status >= 400:
            # Scrubbed before it is cut short, so no half of a key survives the cut.
            message = f"{method} {path}: HTTP {status}: {self.scrub(_error_text(body))[:200]}"
            if status in (401, 403):
                needs = needs_text(path) if method == "GET" else ""
                raise ForbiddenError(message + needs, status=status)
            raise APIError(message, status=status)
        if method != "GET":
            return status  # a write's answer: its status is the outcome (204 has no body)
        if ctype != "application/json" and not ctype.endswith("+json"):
            # A proxy's login or error page, say: never taken for an (empty) answer.
            raise _Retry(status, f"unexpected content type {ctype or 'none'} "
                         "(expected application/json)", self._policy.backoff(attempt))
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _Retry(status, "malformed JSON body", self._policy.backoff(attempt)) from None

    async def get_once(self, path: str) -> Any:
        """GET `path` at most once for this client: later calls get the same answer or error.

        For answers that do not change during a scan and that several steps read (the key
        pair's own user, asked by the key-pair check and again to identify the org).
        """
        if path not in self._answers:
            try:
                self._answers[path] = await self.get(path)
            except APIError as exc:
                self._answers[path] = exc
        answer = self._answers[path]
        if isinstance(answer, APIError):
            raise answer
        return answer

    async def get_page(self, path: str, params: Mapping[str, str | int] | None = None,
                       *, like: str | None = None) -> Page:
        """GET a JSON:API document and wrap it as a Page."""
        body = await self.get(path, params, like=like)
        return as_page(body, path)

    async def pages_by_number(
        self, path: str, params: Mapping[str, str | int] | None = None,
        *, total_of: str = "total_count", fan_out: int = FAN_OUT, like: str | None = None,
    ) -> AsyncGenerator[Page, None]:
        """Yield every page of a 0-based `page[number]` listing, as large pages as it serves.

        Page 0 is read at the largest size the listing is known to accept (`page_size`),
        and a smaller `meta.page.max_page_size` in its answer is then used. Once page 0
        reports the API's total, the remaining pages are fetched concurrently (`fan_out`
        at a time) and yielded as they arrive; if a later page reports a larger total, the
        pages it adds are fetched too (the caller sees the totals change and marks the
        listing partial). A full last page means the total under-reports (or there is no
        total): paging goes on one page at a time until a short page.
        """
        holding: set[int] = set()  # id() of fetched pages holding a large-page permit

        def query(number: int) -> dict[str, str | int]:
            return {**(params or {}), "page[size]": self.page_size(path),
                    "page[number]": number}

        async def fetch(number: int) -> Page:
            budget = self._large_pages
            if budget is None or self.page_size(path) <= PAGE_SIZE:
                return await self.get_page(path, query(number), like=like)
            await budget.acquire()  # held until the page is consumed
            try:
                page = await self.get_page(path, query(number), like=like)
            except BaseException:
                budget.release()
                raise
            holding.add(id(page))
            return page

        def release(pages: int) -> None:
            for _ in range(pages):
                if self._large_pages is not None:
                    self._large_pages.release()

        try:
            async for page in self._pages(path, fetch, total_of, fan_out):
                yield page
                if id(page) in holding:  # consumed: its permit goes back
                    holding.discard(id(page))
                    release(1)
        finally:
            release(len(holding))  # fetched, never consumed
            holding.clear()

    async def _pages(
        self, path: str, fetch: Callable[[int], Awaitable[Page]], total_of: str, fan_out: int,
    ) -> AsyncGenerator[Page, None]:
        """The pages of `pages_by_number`, in arrival order (see there)."""
        size = self.page_size(path)
        try:
            first = await fetch(0)
        except APIError as exc:
            if exc.status != 400 or size <= PAGE_SIZE:
                raise
            # The listing refuses the larger page: the spec's size is always accepted.
            log.debug("GET %s refused page[size]=%d; using %d", path, size, PAGE_SIZE)
            self._page_sizes[path] = PAGE_SIZE
            first = await fetch(0)
        served = max_page_size(first.meta)
        if served is not None and served < self.page_size(path) and len(first.data) <= served:
            self._page_sizes[path] = served  # page 0 was cut to the listing's maximum
        size = self.page_size(path)
        total = page_total(first.meta, total_of)
        if len(first.data) < size or total is None:
            yield first
            if len(first.data) == size:
                async for page in self._pages_one_by_one(path, fetch, first, 1, size):
                    yield page
            return
        fetched = pages_for(total, size) - 1  # pages 1..fetched are asked for
        fan = FanOut(fetch, range(1, fetched + 1), fan_out)  # before page 0 is processed
        last = first  # the page numbered `fetched`, once it has arrived
        try:
            yield first
            while True:
                async for number, page in fan.results():
                    yield page
                    if number == fetched:
                        last = page
                    grown = page_total(page.meta, total_of)
                    total = max(total, grown) if grown is not None else total
                if (planned := pages_for(total, size) - 1) <= fetched:
                    break
                fan = FanOut(fetch, range(fetched + 1, planned + 1), fan_out)
                fetched = planned
        finally:
            await fan.cancel()
        if len(last.data) == size:
            async for page in self._pages_one_by_one(path, fetch, last, fetched + 1, size):
                yield page

    def page_size(self, path: str) -> int:
        """The page size to ask `path` for: learned this scan, else its known largest."""
        return self._page_sizes.get(path) or LARGEST_PAGE.get(path, PAGE_SIZE)

    async def _pages_one_by_one(
        self, path: str, fetch: Callable[[int], Awaitable[Page]], previous: Page,
        number: int, size: int,
    ) -> AsyncIterator[Page]:
        while True:
            page = await fetch(number)
            if page.data and _ids(page) == _ids(previous):
                raise APIError(f"GET {path}: page {number} repeats page {number - 1} "
                               "(pagination loop)")
            yield page
            if len(page.data) < size:
                return
            number, previous = number + 1, page

    async def pages_by_offset(self, path: str, *,
                              limit: int = 1000) -> AsyncGenerator[Page, None]:
        """Yield every page of a `limit`/`offset` listing (org connections).

        Guarded against a server that ignores `offset`: a page repeating the previous
        one is an APIError, and so is paging on past what the first page's total allows
        (one page of slack for items added meanwhile).
        """
        offset, number = 0, 0
        previous: Page | None = None
        cap: int | None = None
        while True:
            page = await self.get_page(path, {"limit": limit, "offset": offset})
            if previous is not None and page.data and _ids(page) == _ids(previous):
                raise APIError(f"GET {path}: offset {offset} repeats the previous page "
                               "(pagination loop)")
            total = page_total(page.meta, "total_count")
            if cap is None and total is not None:
                cap = max(1, math.ceil(total / limit)) + 1
            if cap is not None and number >= cap:
                raise APIError(f"GET {path}: still full pages at offset {offset}, beyond "
                               "the total the API reported (pagination loop)")
            yield page
            offset += len(page.data)
            number, previous = number + 1, page
            if len(page.data) < limit or (total is not None and offset >= total):
                return


class _Retry(Exception):
    def __init__(self, status: int | None, reason: str, wait: float) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.wait = wait


def _ids(page: Page) -> list[object]:
    return [item.get("id") for item in page.data]


def _error_text(body: bytes) -> str:
    try:
        errors = json.loads(body).get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e) for e in errors)[:4000]
    except (ValueError, AttributeError, UnicodeDecodeError):
        pass
    return "no error detail"



__all__ = ["LARGE_PAGES", "MAX_IN_FLIGHT", "PAGE_SIZE", "ClientStats", "DatadogClient", "Page",
           "RetryPolicy", "page_total", "path_segment", "scrub_secrets"]
