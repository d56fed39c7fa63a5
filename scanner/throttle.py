"""Per-(org, rate-limit bucket) pacing fed by Datadog's X-RateLimit-* headers.

Datadog limits each org per bucket (X-RateLimit-Name) in fixed windows, and the budget is
shared with the org's other automation. Each target gets one `OrgThrottle`; inside it,
each bucket admits a request only while the bucket's remaining budget, less the requests
already in flight, stays above the reserved headroom (default 20% of the limit). Until an
endpoint's bucket is known, one probe request at a time learns it. asyncio-throttle's
sliding window caps the target's overall request rate as a floor of politeness for
endpoints that send no headers at all.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from asyncio_throttle.throttler import Throttler

_ID_SEGMENT = re.compile(r"/(?=[^/]*\d)[0-9a-fA-F-]{8,}(?=/|$)")


def endpoint_key(path: str) -> str:
    """The path with ids replaced, so every service account's key listing shares a key."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0])


@dataclass
class Bucket:
    """What the headers told us of one rate-limit bucket, plus our requests in flight."""

    name: str
    limit: int
    period: float
    remaining: int
    reset_at: float
    in_flight: int = 0
    probe: asyncio.Event | None = None  # set while one request re-learns a new window

    def reserve(self, headroom: float) -> int:
        """Requests of each window left for the org's other clients."""
        return math.ceil(self.limit * headroom)


@dataclass
class Ticket:
    """A permission to send one request; hand it back with the response's headers."""

    endpoint: str
    bucket: Bucket | None
    probe: bool = False


@dataclass
class ThrottleStats:
    """How often and how long requests waited for their bucket."""

    waits: int = 0
    waited_seconds: float = 0.0
    buckets: dict[str, int] = field(default_factory=dict)  # name -> limit seen


# The shortest wait for a window the server says resets "in 0 seconds" (integer header).
MIN_WINDOW_WAIT = 0.1


class OrgThrottle:
    """Paces one org's requests per bucket from the headers, before any 429."""

    def __init__(
        self,
        *,
        headroom: float = 0.2,
        max_rate: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= headroom < 1:
            raise ValueError("headroom must be in [0, 1)")
        self.headroom = headroom
        self._clock = clock
        self._ceiling = Throttler(rate_limit=max_rate, period=1.0)
        self._buckets: dict[str, Bucket] = {}
        self._by_endpoint: dict[str, Bucket] = {}
        self._probing: dict[str, asyncio.Event] = {}
        self._headerless: set[str] = set()  # endpoints that answered without limits
        self.stats = ThrottleStats()

    async def acquire(self, path: str) -> Ticket:
        """Wait until a request to `path` fits its bucket's budget; return its ticket."""
        key = endpoint_key(path)
        while True:
            bucket = self._by_endpoint.get(key)
            if bucket is None and key in self._headerless:
                await self._under_ceiling()
                return Ticket(key, None)
            if bucket is None:
                # Unknown bucket: one request at a time learns it from the headers.
                probe = self._probing.get(key)
                if probe is not None:
                    await probe.wait()
                    continue
                self._probing[key] = asyncio.Event()
                await self._under_ceiling()
                return Ticket(key, None, probe=True)
            if bucket.probe is not None:
                await bucket.probe.wait()
                continue
            now = self._clock()
            if now >= bucket.reset_at:
                # Our estimate says a new window opened: one request confirms it.
                bucket.probe = asyncio.Event()
                bucket.in_flight += 1
                await self._under_ceiling()
                return Ticket(key, bucket, probe=True)
            if bucket.remaining - bucket.in_flight > bucket.reserve(self.headroom):
                bucket.in_flight += 1
                await self._under_ceiling()
                return Ticket(key, bucket)
            delay = bucket.reset_at - now + random.uniform(0.0, 0.02)
            self.stats.waits += 1
            self.stats.waited_seconds += delay
            await asyncio.sleep(delay)

    async def _under_ceiling(self) -> None:
        await self._ceiling.acquire()  # type: ignore[no-untyped-call]

    def release(self, ticket: Ticket, status: int | None, headers: Mapping[str, str]) -> None:
        """Learn from a response's X-RateLimit-* headers (status None: no response came)."""
        bucket = ticket.bucket
        if bucket is not None:
            bucket.in_flight -= 1
        learned = self._learn(ticket, headers, status)
        if learned is None and bucket is None and status is not None and status < 429:
            self._headerless.add(ticket.endpoint)
        if ticket.probe:
            event = self._probing.pop(ticket.endpoint, None) if bucket is None else bucket.probe
            if bucket is not None:
                if learned is None:  # no headers this time: keep the old window's budget
                    bucket.reset_at = self._clock() + bucket.period
                bucket.probe = None
            if event is not None:
                event.set()
        if learned is None and bucket is not None and status == 429:
            bucket.remaining = 0  # a 429 without headers: the window is spent

    def _learn(self, ticket: Ticket, headers: Mapping[str, str],
               status: int | None) -> Bucket | None:
        name = headers.get("X-RateLimit-Name")
        limit = _int(headers.get("X-RateLimit-Limit"))
        if not name or limit is None or limit <= 0:
            return None
        period = _float(headers.get("X-RateLimit-Period")) or 60.0
        remaining = _int(headers.get("X-RateLimit-Remaining"))
        if remaining is None or status == 429:
            remaining = 0 if status == 429 else limit
        reset = _float(headers.get("X-RateLimit-Reset"))
        now = self._clock()
        reset_at = now + max(MIN_WINDOW_WAIT, reset if reset is not None else period)
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = Bucket(name, limit, period, remaining, reset_at)
            self._buckets[name] = bucket
            self.stats.buckets[name] = limit
        elif ticket.probe or status == 429 or reset_at > bucket.reset_at + 1.0:
            # The answer to a probe, a 429, or a clearly later reset: a fresh window view.
            bucket.limit, bucket.period = limit, period
            bucket.remaining, bucket.reset_at = remaining, reset_at
        else:
            # Same window; responses arrive out of order, so the lowest count is the newest.
            bucket.remaining = min(bucket.remaining, remaining)
        self._by_endpoint[ticket.endpoint] = bucket
        self._headerless.discard(ticket.endpoint)
        return bucket


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
