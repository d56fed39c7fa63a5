"""The simulator's rate limits: fixed windows per (org, bucket), the headers, the counters."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from scanner.simulator import server as server_module
from scanner.simulator.limits import BucketLimit, RateLimiter, RateLimits
from scanner.simulator.model import Estate
from scanner.simulator.server import SimulatedDatadog

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Period", "X-RateLimit-Remaining",
           "X-RateLimit-Reset", "X-RateLimit-Name")


class Clock:
    """A hand-wound clock for the limiter."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fixed_windows_per_org_and_bucket_with_their_own_limits() -> None:
    clock = Clock()
    limits = RateLimits(default=BucketLimit(3, 10), buckets={"users": BucketLimit(2, 5)})
    limiter = RateLimiter(limits, clock)
    first = limiter.admit("org-a", "users")
    assert first.headers == {"X-RateLimit-Limit": "2", "X-RateLimit-Period": "5",
                             "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "5",
                             "X-RateLimit-Name": "users"}
    clock.now += 1.5
    second = limiter.admit("org-a", "users")
    assert not second.limited and second.headers["X-RateLimit-Remaining"] == "0"
    assert second.headers["X-RateLimit-Reset"] == "4"  # 3.5 s left, rounded up
    third = limiter.admit("org-a", "users")
    assert third.limited and third.headers["X-RateLimit-Remaining"] == "0"
    # Another org, and another bucket of the same org, have their own budgets.
    assert not limiter.admit("org-b", "users").limited
    assert limiter.admit("org-a", "roles").headers["X-RateLimit-Remaining"] == "2"
    # The window closes `period` seconds after it opened; the next request opens another.
    clock.now += 3.5
    fresh = limiter.admit("org-a", "users")
    assert not fresh.limited and fresh.headers["X-RateLimit-Remaining"] == "1"
    counters = limiter.counters
    assert counters.requests[("org-a", "users")] == 4
    assert counters.limited[("org-a", "users")] == 1
    assert counters.windows[("org-a", "users")] == 2
    assert counters.peak_window[("org-a", "users")] == 2
    assert counters.after_429[("org-a", "users")] == 0


def test_requests_that_ignore_a_429_are_counted() -> None:
    limiter = RateLimiter(RateLimits.uniform(1, 10), Clock())
    limiter.admit("o", "keys")
    assert limiter.admit("o", "keys").limited
    assert limiter.admit("o", "keys").limited
    assert limiter.counters.after_429[("o", "keys")] == 1


def test_other_clients_spend_budget_that_is_not_counted_as_ours() -> None:
    limiter = RateLimiter(RateLimits.uniform(5, 10), Clock())
    limiter.spend("o", "users", 3)
    verdict = limiter.admit("o", "users")
    assert verdict.headers["X-RateLimit-Remaining"] == "1"
    assert limiter.counters.peak_window[("o", "users")] == 1
    assert limiter.counters.other_clients[("o", "users")] == 3
    limiter.reset()
    assert not limiter.counters.requests and limiter.admit("o", "users").headers[
        "X-RateLimit-Remaining"] == "4"


def test_every_nth_429_is_html() -> None:
    limiter = RateLimiter(RateLimits.uniform(1, 10, html_429_every=2), Clock())
    limiter.admit("o", "b")
    verdicts = [limiter.admit("o", "b") for _ in range(4)]
    assert [v.html for v in verdicts] == [False, True, False, True]
    assert all(v.limited for v in verdicts)
    assert limiter.counters.as_dict()["html_429"] == {"o/b": 2}


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        BucketLimit(0, 10)


async def _get(session: aiohttp.ClientSession, url: str, target: Any,
               params: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    headers = {"DD-API-KEY": target.api_key, "DD-APPLICATION-KEY": target.app_key}
    async with session.get(url, headers=headers, params=params) as resp:
        return resp.status, dict(resp.headers), await resp.text()


async def test_headers_on_every_answer_and_html_429s(estate: Estate) -> None:
    target = estate.targets[0]
    estate.revoke(target.name, "integrations_read")
    limits = RateLimits(default=BucketLimit(100, 60), buckets={"roles": BucketLimit(2, 60)},
                        html_429_every=2)
    async with SimulatedDatadog(estate, limits=limits) as sim, aiohttp.ClientSession() as s:
        base = sim.base_url(target.site)
        answers = [
            await _get(s, base + "/api/v2/integrations/okta/accounts", target),  # 403
            await _get(s, base + "/api/v2/users", target, {"page[size]": "1001"}),  # 400
        ]
        answers += [await _get(s, base + "/api/v2/roles", target) for _ in range(4)]
        assert [a[0] for a in answers] == [403, 400, 200, 200, 429, 429]
        assert all(set(HEADERS) <= set(h) for _, h, _ in answers)
        (_, json_429, body_a), (_, html_429, body_b) = answers[4:]
        assert json_429["Content-Type"].startswith("application/json") and "errors" in body_a
        assert html_429["Content-Type"].startswith("text/html") and "<html>" in body_b
        assert html_429["X-RateLimit-Name"] == "roles"
        org = target.org_public_id
        assert sim.counters.requests[(org, "roles")] == 4
        assert sim.counters.limited[(org, "roles")] == 2
        assert sim.counters.html_429[(org, "roles")] == 1
        sim.reset_counters()
        assert sim.request_count == 0 and not sim.counters.requests


async def test_latency_per_org_and_hooks(estate: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        if seconds > 0:
            slept.append(seconds)
        await real_sleep(0)

    slow, fast = estate.targets[0], estate.targets[1]
    seen: list[tuple[str, str]] = []

    async def hook(target: Any, request: Any) -> None:
        seen.append((target.name, request.query.get("page[number]", "-")))

    async with SimulatedDatadog(estate, latency=0.02, org_latency={slow.org_public_id: 0.5}
                                ) as sim, aiohttp.ClientSession() as s:
        sim.hooks.append(hook)
        monkeypatch.setattr(server_module.asyncio, "sleep", fake_sleep)
        await _get(s, sim.base_url(slow.site) + "/api/v2/users", slow, {"page[number]": "2"})
        await _get(s, sim.base_url(fast.site) + "/api/v2/permissions", fast)
    assert slept == [0.25, 0.25, 0.01, 0.01]  # half on the way in, half on the way out
    assert seen == [(slow.name, "2"), (fast.name, "-")]


async def test_cached_answers_follow_the_population(estate: Estate) -> None:
    target = estate.targets[0]
    org = estate.org(target.org_public_id)
    async with SimulatedDatadog(estate, cache=True) as sim, aiohttp.ClientSession() as s:
        url = sim.base_url(target.site) + "/api/v2/users"
        first = await _get(s, url, target, {"page[size]": "100"})
        again = await _get(s, url, target, {"page[size]": "100", "page[number]": "0"})
        assert first[2] == again[2] and sim.rendered == 1
        org.users.append(org.users[0])
        changed = await _get(s, url, target, {"page[size]": "100"})
        assert changed[2] != first[2] and sim.rendered == 2
