"""Whole collections under binding limits: headroom kept, Reset honoured, pages fanned out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from scanner.simulator import SimulatedDatadog
from scanner.simulator.model import Estate, SimTarget
from tests.scale.conftest import Collect, limits, usable

pytestmark = pytest.mark.slow
KEYS = "/api/v2/application_keys"


@pytest.mark.parametrize("others", [False, True], ids=["alone", "with-other-clients"])
async def test_each_bucket_stays_under_its_limit_less_the_headroom(
    estate: Estate, collect: Collect, others: bool
) -> None:
    sim = SimulatedDatadog(estate, limits=limits(5, 1))
    spent: set[tuple[str, int]] = set()

    async def other_automation(target: SimTarget, request: web.Request) -> None:
        # The org's other clients take their 20% share of each window they see open.
        org, bucket = target.org_public_id, _bucket(request.path)
        window = sim.counters.windows[(org, bucket)]
        if (f"{org}/{bucket}", window) not in spent:
            spent.add((f"{org}/{bucket}", window))
            sim.limiter.spend(org, bucket, 1)

    async def slow_sibling(target: SimTarget, request: web.Request) -> None:
        # API keys answer late: the first application-key page comes back while the API
        # keys' first request, whose bucket is not known yet, is still in flight.
        if request.path == "/api/v2/api_keys":
            await asyncio.sleep(0.1)

    sim.hooks.append(slow_sibling)
    if others:
        sim.hooks.append(other_automation)
    async with sim:
        collected = await collect(sim)
    assert collected.status == "complete" and collected.all_complete()
    counters = sim.counters
    assert sum(counters.limited.values()) == 0
    assert counters.peak_window and all(
        peak <= usable(5) - (1 if others else 0) for peak in counters.peak_window.values()
    )
    assert max(counters.windows.values()) >= 2  # the limits did bind
    assert sum(counters.after_429.values()) == 0


def _bucket(path: str) -> str:
    from scanner.simulator.server import ROUTES

    for route in ROUTES:
        parts, wanted = route.path.split("/"), path.split("/")
        if len(parts) == len(wanted) and all(
            p == w or p.startswith("{") for p, w in zip(parts, wanted, strict=True)
        ):
            return route.rate_bucket
    raise KeyError(path)


async def test_reset_is_honoured_after_a_429(estate: Estate, collect: Collect) -> None:
    victim = estate.targets[1]
    sim = SimulatedDatadog(estate, limits=limits(5, 1, html_429_every=2))
    burnt: list[str] = []

    async def burst_elsewhere(target: SimTarget, request: web.Request) -> None:
        # Another client spends the whole users window just before our first request.
        if target.name == victim.name and request.path == "/api/v2/users" and not burnt:
            burnt.append(request.path)
            sim.limiter.spend(target.org_public_id, "users", 5)

    sim.hooks.append(burst_elsewhere)
    async with sim:
        collected = await collect(sim)
    key = (victim.org_public_id, "users")
    assert sim.counters.limited[key] >= 1  # the 429 did come
    assert sum(sim.counters.after_429.values()) == 0  # and nothing came back before Reset
    assert sum(sim.counters.limited.values()) == sim.counters.limited[key] == 1
    assert collected.all_complete() and collected.status == "complete"
    ctx = next(c for c, _ in collected.results if c.target.name == victim.name)
    assert ctx.client.stats.rate_limited == 1 and ctx.client.stats.retries == 1


async def test_remaining_pages_are_fetched_concurrently_and_no_more(
    estate: Estate, collect: Collect
) -> None:
    sim = SimulatedDatadog(estate)
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def hold(target: SimTarget, request: web.Request) -> None:
        if request.path != KEYS or request.query.get("page[number]") in (None, "0"):
            return
        in_flight[target.name] = in_flight.get(target.name, 0) + 1
        peak[target.name] = max(peak.get(target.name, 0), in_flight[target.name])
        await asyncio.sleep(0.05)
        in_flight[target.name] -= 1

    sim.hooks.append(hold)
    async with sim:
        collected = await collect(sim)
    assert collected.all_complete()
    for target in estate.targets:
        keys = len(estate.org(target.org_public_id).app_keys)
        pages = -(-keys // 100)
        assert pages > 2 and keys % 100  # a short last page: nothing to read past it
        assert peak[target.name] == pages - 1  # pages 1.. together once page 0 gave the total
        assert sim.requests[(target.org_public_id, KEYS)] == pages


async def test_a_total_that_changes_mid_scan_marks_the_listing_partial(
    estate: Estate, collect: Collect
) -> None:
    victim = estate.targets[2]
    org = estate.org(victim.org_public_id)
    before = len(org.app_keys)
    grown: list[int] = []

    async def issue(target: SimTarget, request: web.Request) -> None:
        # Between page 0 and the others, 60 keys are created (the total moves by 60).
        if (target.name == victim.name and request.path == KEYS
                and request.query.get("page[number]") == "1" and not grown):
            grown.append(len(org.app_keys))
            org.app_keys.extend(org.app_keys[:60])

    sim = SimulatedDatadog(estate)
    sim.hooks.append(issue)
    async with sim:
        collected = await collect(sim)
    keys = collected.coverage(victim.name, "application_keys")
    assert keys.status == "partial"
    assert keys.error is not None and f"changed from {before} to {before + 60}" in keys.error
    assert collected.status == "partial"
    assert collected.all_complete(but=victim.name)


async def test_a_stalled_org_never_holds_up_the_others(estate: Estate, collect: Collect) -> None:
    stalled = estate.targets[0]
    release = asyncio.Event()
    others_done: list[Any] = []

    async def stall(target: SimTarget, request: web.Request) -> None:
        if target.name == stalled.name and request.path != "/api/v2/org":
            await release.wait()  # every request of this org hangs until the others finish

    sim = SimulatedDatadog(estate)
    sim.hooks.append(stall)

    async def watch_others() -> None:
        expected = {t.org_public_id for t in estate.targets[1:]}
        while True:
            done = {org for (org, path), n in sim.requests.items()
                    if path == "/api/v2/integrations/okta/accounts" and n}
            teams = {org for (org, path), n in sim.requests.items() if path == "/api/v2/team"}
            if expected <= done and expected <= teams and _idle(sim, expected):
                others_done.append(True)
                release.set()
                return
            await asyncio.sleep(0.01)

    async with sim:
        watcher = asyncio.create_task(watch_others())
        collected = await asyncio.wait_for(collect(sim), 30)
        await watcher
    assert others_done and collected.all_complete()


def _idle(sim: SimulatedDatadog, orgs: set[str]) -> bool:
    users = [sim.requests[(org, "/api/v2/users")] for org in orgs]
    keys = [sim.requests[(org, KEYS)] for org in orgs]
    return all(n >= 1 for n in users) and all(n >= 4 for n in keys)


async def test_a_slow_org_holds_at_most_its_share_of_the_sockets(estate: Estate) -> None:
    import aiohttp

    from scanner.client import DatadogClient
    from scanner.config import Secret, Target

    slow, quick = estate.targets[0], estate.targets[1]
    release = asyncio.Event()
    answered: list[str] = []

    async def hang(target: SimTarget, request: web.Request) -> None:
        if target.name == slow.name:
            if answered:  # the first answer teaches the throttle the bucket; then all hang
                await release.wait()
            answered.append(request.path)

    async with SimulatedDatadog(estate) as sim:
        sim.hooks.append(hang)

        def client(session: aiohttp.ClientSession, t: SimTarget) -> DatadogClient:
            target = Target(t.name, t.site, Secret(t.api_key), Secret(t.app_key),
                            sim.base_url(t.site))
            return DatadogClient(session, target, allow_custom_endpoints=True,
                                 max_in_flight=4)

        # Eight sockets per host, as a busy site would leave; the slow org may hold four.
        connector = aiohttp.TCPConnector(limit_per_host=8)
        async with aiohttp.ClientSession(connector=connector) as session:
            stuck = client(session, slow)
            await stuck.get("/api/v2/permissions")
            hanging = [asyncio.create_task(stuck.get("/api/v2/permissions")) for _ in range(12)]
            fine = client(session, quick)
            bodies = await asyncio.wait_for(
                asyncio.gather(*(fine.get("/api/v2/permissions") for _ in range(6))), 5)
            assert all(b["data"] for b in bodies)
            assert sim.requests[(slow.org_public_id, "/api/v2/permissions")] == 1 + 4
            release.set()
            assert len(await asyncio.gather(*hanging)) == 12
            assert sim.requests[(slow.org_public_id, "/api/v2/permissions")] == 1 + 12
