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


class Clock:
    """A hand-wound clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_probe_of_an_unknown_endpoint_counts_against_known_buckets() -> None:
    throttle = OrgThrottle(headroom=0.2)
    probe = await throttle.acquire("/api/v2/application_keys")
    throttle.release(probe, 200, _headers(5, 4, 60, name="keys"))
    unknown = await throttle.acquire("/api/v2/api_keys")  # its bucket may well be "keys"
    assert unknown.probe and unknown.bucket is None
    # 4 left, 1 reserved, 1 perhaps taken by the unknown probe: two more now, not three.
    first = await asyncio.wait_for(throttle.acquire("/api/v2/application_keys"), 0.05)
    await asyncio.wait_for(throttle.acquire("/api/v2/application_keys"), 0.05)
    third = asyncio.ensure_future(throttle.acquire("/api/v2/application_keys"))
    await asyncio.sleep(0.02)
    assert not third.done()
    # The probe turns out to be another bucket's: the waiter goes at once, long before Reset.
    throttle.release(unknown, 200, _headers(100, 99, 60, name="api_keys"))
    await asyncio.wait_for(third, 0.5)
    assert first.bucket is third.result().bucket is throttle.bucket("keys")


async def test_a_new_endpoint_can_be_paced_like_its_sibling() -> None:
    throttle = OrgThrottle(headroom=0.2)
    probe = await throttle.acquire("/api/v2/application_keys")
    throttle.release(probe, 200, _headers(5, 2, 60, name="keys"))
    path = "/api/v2/service_accounts/9919ec9b-ebc7-49ee-8dc8-03626e717cca/application_keys"
    ticket = await asyncio.wait_for(throttle.acquire(path, like="/api/v2/application_keys"),
                                    0.05)
    assert not ticket.probe and ticket.bucket is throttle.bucket("keys")
    with pytest.raises(TimeoutError):  # 2 left, 1 in flight, 1 reserved
        await asyncio.wait_for(throttle.acquire(path, like="/api/v2/application_keys"), 0.05)
    throttle.release(ticket, 200, _headers(5, 1, 60, name="keys"))
    assert throttle.bucket("keys") is not None and throttle.bucket("keys").remaining == 1


async def test_the_earliest_reset_of_a_window_is_kept_and_old_windows_are_ignored() -> None:
    clock = Clock()
    throttle = OrgThrottle(clock=clock)
    probe = await throttle.acquire("/api/v2/users")
    throttle.release(probe, 200, _headers(10, 9, 10))
    a = await throttle.acquire("/api/v2/users")
    b = await throttle.acquire("/api/v2/users")
    clock.now += 0.5
    throttle.release(a, 200, _headers(10, 7, 3))  # Reset in whole seconds, rounded up
    bucket = throttle.bucket("users")
    assert bucket is not None and bucket.reset_at == 103.5 and bucket.remaining == 7
    clock.now = 104.0  # the window has closed: the next request opens the next one
    opener = await throttle.acquire("/api/v2/users")
    assert opener.probe and opener.epoch == 1
    throttle.release(opener, 200, _headers(10, 9, 10))
    throttle.release(b, 200, _headers(10, 1, 1))  # a straggler from the old window
    assert bucket.remaining == 9 and bucket.reset_at == 114.0


async def test_a_429_without_headers_spends_the_bucket_for_a_while() -> None:
    clock = Clock()
    throttle = OrgThrottle(clock=clock)
    probe = await throttle.acquire("/api/v2/users")
    throttle.release(probe, 200, _headers(10, 9, 0.5))
    ticket = await throttle.acquire("/api/v2/users")
    throttle.release(ticket, 429, {"Content-Type": "text/html"})
    bucket = throttle.bucket("users")
    assert bucket is not None and bucket.remaining == 0 and bucket.reset_at == 101.0


async def test_a_headerless_answer_opening_a_new_window_gives_it_a_whole_budget() -> None:
    clock = Clock()
    throttle = OrgThrottle(clock=clock)
    probe = await throttle.acquire("/api/v2/users")
    throttle.release(probe, 429, _headers(10, 0, 1))  # the window is spent
    clock.now += 2  # it has closed
    opener = await throttle.acquire("/api/v2/users")
    assert opener.probe
    throttle.release(opener, 200, {})  # a proxy's answer: no X-RateLimit-* headers
    bucket = throttle.bucket("users")
    assert bucket is not None and bucket.remaining == 10 and bucket.reset_at == clock.now + 10
    ticket = await asyncio.wait_for(throttle.acquire("/api/v2/users"), 1)
    assert not ticket.probe  # admitted at once, not after a whole period


class _Gate:
    """A stand-in for the org's overall ceiling that admits nobody until opened."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waiting = 0

    async def acquire(self) -> None:
        self.waiting += 1
        try:
            await self.opened.wait()
        finally:
            self.waiting -= 1


async def _cancel_at_the_ceiling(throttle: OrgThrottle, gate: _Gate, path: str) -> None:
    """Start an acquire of `path`, cancel it while it waits for the ceiling."""
    task = asyncio.ensure_future(throttle.acquire(path))
    while not gate.waiting:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_acquire_cancelled_at_the_ceiling_leaves_no_probe_behind() -> None:
    throttle = OrgThrottle()
    gate = _Gate()
    throttle._ceiling = gate  # type: ignore[assignment]
    await _cancel_at_the_ceiling(throttle, gate, "/api/v2/users")  # the unknown-bucket probe
    gate.opened.set()
    ticket = await asyncio.wait_for(throttle.acquire("/api/v2/users"), 30)  # hang guard only
    assert ticket.probe and ticket.bucket is None and throttle.stats.probes == 1


async def test_a_cancelled_window_opener_or_admission_gives_its_place_back() -> None:
    clock = Clock()
    throttle = OrgThrottle(clock=clock)
    probe = await throttle.acquire("/api/v2/users")
    throttle.release(probe, 200, _headers(10, 9, 5))
    bucket = throttle.bucket("users")
    assert bucket is not None
    gate = _Gate()
    throttle._ceiling = gate  # type: ignore[assignment]
    await _cancel_at_the_ceiling(throttle, gate, "/api/v2/users")  # an ordinary admission
    assert bucket.in_flight == 0
    clock.now += 10  # the window has closed: the next request would open the next one
    await _cancel_at_the_ceiling(throttle, gate, "/api/v2/users")
    assert (bucket.in_flight, bucket.probe, bucket.epoch) == (0, None, 0)
    gate.opened.set()
    opener = await asyncio.wait_for(throttle.acquire("/api/v2/users"), 30)  # hang guard only
    assert opener.probe and opener.epoch == 1 and bucket.in_flight == 1
