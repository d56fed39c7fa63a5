"""The per-(org, bucket) throttle: learns buckets from headers, keeps headroom, honours reset."""

from __future__ import annotations

import asyncio

import pytest

from scanner.throttle import OrgThrottle, endpoint_key


def _headers(limit: int, remaining: int, reset: float, name: str = "users") -> dict[str, str]:
    return {"X-RateLimit-Name": name, "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Period": "10", "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset)}


def test_endpoint_keys_fold_ids() -> None:
    template = "/api/v2/service_accounts/{}/application_keys"
    a = endpoint_key(template.format("9919ec9b-ebc7-49ee-8dc8-03626e717cca"))
    b = endpoint_key(template.format("00000000-0000-4000-8000-000000000001"))
    assert a == b == "/api/v2/service_accounts/{id}/application_keys"
    assert endpoint_key("/api/v2/users") == "/api/v2/users"
    assert endpoint_key("/api/v1/org/abc123def456") == "/api/v1/org/{id}"


async def test_only_one_probe_until_the_bucket_is_known() -> None:
    throttle = OrgThrottle()
    first = await throttle.acquire("/api/v2/users")
    second = asyncio.ensure_future(throttle.acquire("/api/v2/users"))
    await asyncio.sleep(0.02)
    assert not second.done()  # waits for the probe's headers
    throttle.release(first, 200, _headers(100, 99, 5))
    ticket = await asyncio.wait_for(second, 1)
    assert ticket.bucket is not None and ticket.bucket.limit == 100


async def test_keeps_the_headroom_free_and_waits_for_reset() -> None:
    throttle = OrgThrottle(headroom=0.2)
    probe = await throttle.acquire("/api/v2/users")
    throttle.release(probe, 200, _headers(10, 9, 0.3))
    # 9 left, 2 reserved for the org's other clients: 7 more may go now, not an 8th.
    tickets = [await asyncio.wait_for(throttle.acquire("/api/v2/users"), 0.05) for _ in range(7)]
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(throttle.acquire("/api/v2/users"), 0.1)
    for t in tickets:
        throttle.release(t, 200, _headers(10, 2, 0.2))
    # After the reset a single request re-learns the window, then the budget is back.
    ticket = await asyncio.wait_for(throttle.acquire("/api/v2/users"), 1.0)
    assert ticket.probe
    throttle.release(ticket, 200, _headers(10, 9, 10))
    again = await asyncio.wait_for(throttle.acquire("/api/v2/users"), 0.05)
    assert not again.probe
    assert throttle.stats.waits >= 1


async def test_a_429_spends_the_window_until_its_reset() -> None:
    throttle = OrgThrottle()
    probe = await throttle.acquire("/api/v2/roles")
    throttle.release(probe, 200, _headers(100, 80, 5, name="roles"))
    ticket = await throttle.acquire("/api/v2/roles")
    throttle.release(ticket, 429, _headers(100, 0, 0.3, name="roles"))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(throttle.acquire("/api/v2/roles"), 0.1)


async def test_buckets_are_shared_by_name_not_by_path() -> None:
    throttle = OrgThrottle()
    for path in ("/api/v2/users", "/api/v2/roles"):
        t = await throttle.acquire(path)
        throttle.release(t, 200, _headers(5, 2, 5, name="shared"))
    # remaining 2, reserve 1: one request for either path, then both wait.
    await asyncio.wait_for(throttle.acquire("/api/v2/roles"), 0.05)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(throttle.acquire("/api/v2/users"), 0.1)


async def test_limits_of_one_org_never_delay_another() -> None:
    slow, fast = OrgThrottle(), OrgThrottle()
    t = await slow.acquire("/api/v2/users")
    slow.release(t, 429, _headers(10, 0, 5))
    for _ in range(20):
        t = await asyncio.wait_for(fast.acquire("/api/v2/users"), 0.05)
        fast.release(t, 200, _headers(1000, 900, 5))
