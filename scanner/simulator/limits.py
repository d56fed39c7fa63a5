"""Per-(org, bucket) fixed-window rate limits with Datadog's headers, and request counters.

A window of a bucket opens with the first request after the previous window closed and
lasts the bucket's period; it admits `limit` requests, then answers 429 until it closes.
Every answer carries X-RateLimit-Limit, -Period, -Remaining, -Reset (whole seconds until
the window closes, rounded up, so a client that waits that long is never early) and
-Name. The counters let tests and benchmarks check a client's manners: requests and 429s
per (org, bucket), the most requests admitted in any one window, and requests that came
back inside a window after it had already answered 429 (a client ignoring Reset).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]  # (org public id, bucket name)


@dataclass(frozen=True)
class BucketLimit:
    """A bucket's budget: `limit` requests per fixed window of `period` seconds."""

    limit: int
    period: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period < 1:
            raise ValueError("a bucket needs a positive limit and period")


@dataclass(frozen=True)
class RateLimits:
    """The limits of every bucket (`default` for any bucket not named in `buckets`).

    `html_429_every`: every Nth 429 answer is an HTML page instead of JSON (0: never),
    as an edge proxy in front of the API sometimes sends.
    """

    default: BucketLimit = BucketLimit(6000, 60)
    buckets: Mapping[str, BucketLimit] = field(default_factory=dict)
    html_429_every: int = 0

    def of(self, bucket: str) -> BucketLimit:
        """The limit of `bucket`."""
        return self.buckets.get(bucket, self.default)

    @classmethod
    def uniform(cls, limit: int, period: int, **kwargs: Any) -> RateLimits:
        """The same limit for every bucket."""
        return cls(default=BucketLimit(limit, period), **kwargs)


@dataclass
class _Window:
    start: float
    used: int = 0
    others: int = 0  # of `used`, spent by the org's other automation
    limited: bool = False  # this window has answered 429 at least once


@dataclass
class LimitCounters:
    """What the limiter saw, per (org, bucket)."""

    requests: Counter[Key] = field(default_factory=Counter)
    admitted: Counter[Key] = field(default_factory=Counter)
    limited: Counter[Key] = field(default_factory=Counter)
    html_429: Counter[Key] = field(default_factory=Counter)
    peak_window: Counter[Key] = field(default_factory=Counter)  # most admitted in a window
    windows: Counter[Key] = field(default_factory=Counter)  # windows opened
    after_429: Counter[Key] = field(default_factory=Counter)  # requests ignoring a Reset
    other_clients: Counter[Key] = field(default_factory=Counter)  # budget spent by others

    def as_dict(self) -> dict[str, dict[str, int]]:
        """A plain, picklable copy: counter name -> "org/bucket" -> count."""
        out: dict[str, dict[str, int]] = {}
        for name in self.__dataclass_fields__:
            counter: Counter[Key] = getattr(self, name)
            out[name] = {f"{org}/{bucket}": n for (org, bucket), n in sorted(counter.items())}
        return out


@dataclass(frozen=True)
class Verdict:
    """The limiter's answer to one request: its headers, and whether to answer 429."""

    headers: dict[str, str]
    limited: bool
    html: bool = False


class RateLimiter:
    """Fixed windows per (org, bucket), opened by the first request after the last closed."""

    def __init__(self, limits: RateLimits | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or RateLimits()
        self._clock = clock
        self._windows: dict[Key, _Window] = {}
        self.counters = LimitCounters()

    def _window(self, key: Key, period: int) -> _Window:
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now - window.start >= period:
            window = _Window(now)
            self._windows[key] = window
            self.counters.windows[key] += 1
        return window

    def admit(self, org: str, bucket: str) -> Verdict:
        """Count one request of `org` against `bucket`; say whether it is over the limit."""
        key = (org, bucket)
        rule = self.limits.of(bucket)
        window = self._window(key, rule.period)
        self.counters.requests[key] += 1
        if window.limited:
            self.counters.after_429[key] += 1
        limited = window.used >= rule.limit
        html = False
        if limited:
            window.limited = True
            self.counters.limited[key] += 1
            every = self.limits.html_429_every
            html = every > 0 and self.counters.limited[key] % every == 0
            if html:
                self.counters.html_429[key] += 1
        else:
            window.used += 1
            self.counters.admitted[key] += 1
            ours = window.used - window.others
            self.counters.peak_window[key] = max(self.counters.peak_window[key], ours)
        return Verdict(self._headers(window, rule, bucket), limited, html)

    def _headers(self, window: _Window, rule: BucketLimit, bucket: str) -> dict[str, str]:
        left = rule.period - (self._clock() - window.start)
        return {
            "X-RateLimit-Limit": str(rule.limit),
            "X-RateLimit-Period": str(rule.period),
            "X-RateLimit-Remaining": str(max(0, rule.limit - window.used)),
            "X-RateLimit-Reset": str(max(1, math.ceil(left))),
            "X-RateLimit-Name": bucket,
        }

    def spend(self, org: str, bucket: str, requests: int) -> None:
        """The org's other automation spends `requests` of the current window now."""
        key = (org, bucket)
        rule = self.limits.of(bucket)
        window = self._window(key, rule.period)
        taken = max(0, min(requests, rule.limit - window.used))
        window.used += taken
        window.others += taken
        self.counters.other_clients[key] += taken

    def reset(self) -> None:
        """Close every window and zero the counters (between two benchmark runs)."""
        self._windows.clear()
        self.counters = LimitCounters()
