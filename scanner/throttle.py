"""Per-(org, rate-limit bucket) pacing fed by Datadog's X-RateLimit-* headers.

Datadog limits each org per bucket (X-RateLimit-Name) in fixed windows, and the budget is
shared with the org's other automation. Each target gets one `OrgThrottle`; inside it,
each bucket admits a request only while the bucket's remaining budget, less the requests
already in flight, stays above the reserved headroom (default 20% of the limit).

Windows. Every answer's Reset gives an upper bound on when the window closes; the
earliest such bound of the window is kept. When it passes, one probe request opens the
next window (an "epoch") and the others wait for its headers, so a window another client
has already spent costs one request, not a burst of 429s. Answers to requests of an
older epoch are not taken for news of the current window.

Unknown endpoints. Until an endpoint's bucket is known, one probe at a time learns it,
and while any such probe is in flight it counts against every known bucket of the org
(it may belong to any of them). A caller may name a sibling endpoint (`like`) whose
bucket a new endpoint is expected to share; it is then paced as that bucket at once.

asyncio-throttle's sliding window caps the org's overall request rate, a floor of
politeness for endpoints that send no headers at all. Orgs share nothing.
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

# The shortest wait for a window the server says resets "in 0 seconds" (integer header).
MIN_WINDOW_WAIT = 0.1
# How long a 429 without any header is taken to spend its bucket.
HEADERLESS_429_WAIT = 1.0
# Wake-up spread so the waiters of one bucket do not all fire in the same instant.
WAKE_JITTER = 0.005


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
    epoch: int = 0  # windows opened by our probes
    in_flight: int = 0
    probe: asyncio.Event | None = None  # set while one request opens a new window

    def reserve(self, headroom: float) -> int:
        """Requests of each window left for the org's other clients."""
        return math.ceil(self.limit * headroom)


@dataclass
class Ticket:
    """A permission to send one request; hand it back with the response's headers."""

    endpoint: str
    bucket: Bucket | None
    probe: bool = False
    epoch: int = 0


@dataclass
class ThrottleStats:
    """How often and how long requests waited for their bucket."""

    waits: int = 0
    waited_seconds: float = 0.0
    probes: int = 0
    buckets: dict[str, int] = field(default_factory=dict)  # name -> limit seen


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
        self._unknown = 0  # probes in flight whose bucket is not known yet
        self._headerless: set[str] = set()  # endpoints that answered without limits
        self._changed = asyncio.Event()
        self.stats = ThrottleStats()

    def bucket(self, name: str) -> Bucket | None:
        """What is known of the bucket called `name`, if anything."""
        return self._buckets.get(name)

    async def acquire(self, path: str, *, like: str | None = None) -> Ticket:
        """Wait until a request to `path` fits its bucket's budget; return its ticket."""
        key = endpoint_key(path)
        while True:
            bucket = self._by_endpoint.get(key)
            if bucket is None and like is not None:
                bucket = self._by_endpoint.get(endpoint_key(like))
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
                self._unknown += 1
                self.stats.probes += 1
                return await self._admit(Ticket(key, None, probe=True))
            if bucket.probe is not None:
                await bucket.probe.wait()
                continue
            now = self._clock()
            if now >= bucket.reset_at:
                # The window has closed: one request opens (and reads) the next.
                bucket.probe = asyncio.Event()
                bucket.epoch += 1
                bucket.in_flight += 1
                self.stats.probes += 1
                return await self._admit(Ticket(key, bucket, probe=True, epoch=bucket.epoch))
            if bucket.remaining - bucket.in_flight - self._unknown > bucket.reserve(self.headroom):
                bucket.in_flight += 1
                return await self._admit(Ticket(key, bucket, epoch=bucket.epoch))
            await self._wait(bucket.reset_at - now + random.uniform(0.0, WAKE_JITTER))

    async def _wait(self, timeout: float) -> None:
        """Sleep until the window closes or any answer of this org changes the picture."""
        self.stats.waits += 1
        started = self._clock()
        try:
            await asyncio.wait_for(self._changed.wait(), max(0.0, timeout))
        except TimeoutError:
            pass
        self.stats.waited_seconds += self._clock() - started

    async def _under_ceiling(self) -> None:
        await self._ceiling.acquire()  # type: ignore[no-untyped-call]

    async def _admit(self, ticket: Ticket) -> Ticket:
        """Wait for the org's overall ceiling with `ticket`'s place already taken.

        Cancelled while waiting (its request abandoned), the ticket gives its place back:
        a probe left registered would stall its endpoint or bucket for the rest of the scan.
        """
        try:
            await self._under_ceiling()
        except BaseException:
            self._abandon(ticket)
            raise
        return ticket

    def _abandon(self, ticket: Ticket) -> None:
        """Undo what issuing `ticket` changed, for a request that was never sent."""
        bucket = ticket.bucket
        if bucket is not None:
            bucket.in_flight -= 1
        elif ticket.probe:
            self._unknown -= 1
        if ticket.probe:
            self.stats.probes -= 1
            if bucket is None:
                event = self._probing.pop(ticket.endpoint, None)
            else:
                event, bucket.probe = bucket.probe, None
                bucket.epoch -= 1  # the window it was to open stays to be opened
            if event is not None:
                event.set()
        self._changed.set()
        self._changed = asyncio.Event()

    def release(self, ticket: Ticket, status: int | None, headers: Mapping[str, str]) -> None:
        """Learn from a response's X-RateLimit-* headers (status None: no response came)."""
        bucket = ticket.bucket
        if bucket is not None:
            bucket.in_flight -= 1
        elif ticket.probe:
            self._unknown -= 1
        learned = self._learn(ticket, headers, status)
        if learned is None and bucket is None and status is not None and status < 429:
            self._headerless.add(ticket.endpoint)
        if learned is None and bucket is not None:
            if status == 429:  # a 429 without headers: the window is spent for a while
                bucket.remaining = 0
                bucket.reset_at = max(bucket.reset_at, self._clock() + HEADERLESS_429_WAIT)
            elif ticket.probe:
                # No headers this time (a proxy's answer, say): the window the probe opened
                # is a new one, so its budget is whole; what the old window had left (0
                # after a 429) would stall the bucket a whole period for nothing.
                bucket.remaining = bucket.limit
                bucket.reset_at = self._clock() + bucket.period
        if ticket.probe:
            if bucket is None:
                event = self._probing.pop(ticket.endpoint, None)
            else:
                event, bucket.probe = bucket.probe, None
            if event is not None:
                event.set()
        self._changed.set()
        self._changed = asyncio.Event()

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
        reset_at = self._clock() + max(MIN_WINDOW_WAIT, reset if reset is not None else period)
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = Bucket(name, limit, period, remaining, reset_at)
            self._buckets[name] = bucket
            self.stats.buckets[name] = limit
        elif ticket.bucket is bucket and ticket.epoch != bucket.epoch:
            pass  # an answer from a window we have already left behind
        elif (ticket.probe and ticket.bucket is bucket) or status == 429:
            # The answer that opened this window, or a 429: a fresh view of the window.
            bucket.limit, bucket.period = limit, period
            bucket.remaining, bucket.reset_at = remaining, reset_at
        else:
            # Same window; answers arrive out of order, so the lowest count is the newest,
            # and every Reset bounds the window's end from above: keep the earliest.
            bucket.remaining = min(bucket.remaining, remaining)
            bucket.reset_at = min(bucket.reset_at, reset_at)
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
