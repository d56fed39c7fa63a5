"""Collectors and the client against local servers: failures cost only their own endpoint.

No timing is asserted: `asyncio.wait_for` with a generous GUARD only turns a hang (the
bug some of these tests pin down) into a failure instead of a stuck suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web

from scanner import collect
from scanner.client import DatadogClient, Page, RetryPolicy
from scanner.collect import Coverage, TargetContext, collect_target
from scanner.collect.base import Done, Family, Inputs, Tally, consume, guarded
from scanner.config import Secret, Target
from scanner.demo import simulator_config
from scanner.errors import APIError, ForbiddenError
from scanner.pipeline import collect_all, start_scan
from scanner.simulator import EstateSpec, SimulatedDatadog, generate_estate
from scanner.simulator.model import Estate
from scanner.store.database import open_store
from scanner.store.schema import ENDPOINTS
from scanner.timeutil import utcnow

GUARD = 30.0  # hang guard only
POLICY = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01, timeout=5)
API_KEY, APP_KEY = "0123456789abcdef" * 2, "fedcba9876543210" * 2 + "01234567"
SMALL = EstateSpec(sites=("datadoghq.com",), orgs_per_site=2, users_per_org=30,
                   service_accounts_per_org=4, app_keys_per_service_account=2.0,
                   api_keys_per_org=3, roles_per_org=3, mappings_per_org=4,
                   connections_per_org=1, okta_accounts_per_org=1, deliberate=False,
                   key_gaps=((1, "org_app_keys_read"),))


class Rows:
    """A stand-in for the snapshot writer that keeps every row it is handed."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    async def put(self, table: str, rows: list[dict[str, Any]]) -> None:
        self.rows.setdefault(table, []).extend(rows)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    """An aiohttp app answering every GET with `handler`; yields its base URL."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def context(url: str, *, api_key: str = API_KEY, app_key: str = APP_KEY,
                  name: str = "t") -> AsyncIterator[TargetContext]:
    """A TargetContext for a target served at `url`, writing into a `Rows`."""
    async with aiohttp.ClientSession() as session:
        target = Target(name, "datadoghq.com", Secret(api_key), Secret(app_key), url)
        client = DatadogClient(session, target, allow_custom_endpoints=True, policy=POLICY)
        yield TargetContext("s", target, client, Rows())  # type: ignore[arg-type]


def _json(body: object, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _items(start: int, count: int, kind: str = "team") -> list[dict[str, Any]]:
    return [{"id": f"{kind}-{i}", "type": kind, "attributes": {"name": f"n{i}"}}
            for i in range(start, start + count)]


# ---- R3: a malformed HTTP answer is an endpoint failure, not the end of the scan -------


@asynccontextmanager
async def malformed_http() -> AsyncIterator[tuple[str, list[int]]]:
    """A raw server answering every request with an unparseable Content-Length."""
    seen: list[int] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        seen.append(1)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: abc\r\n\r\n{\"data\": []}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.close()
        await server.wait_closed()


async def test_a_malformed_http_answer_is_retried_then_an_api_error() -> None:
    async with malformed_http() as (url, seen), context(url) as ctx:
        with pytest.raises(APIError, match="ClientResponseError after 2 attempts"):
            await ctx.client.get("/api/v2/users")
        assert len(seen) == POLICY.max_attempts
        coverage = (await guarded(collect.FAMILIES["users"], ctx, {})).coverage
    assert coverage.status == "failed"
    assert coverage.error == "GET /api/v2/users: ClientResponseError after 2 attempts"


# ---- R3: an unexpected exception in one family costs that endpoint only ---------------


@pytest.fixture
def estate() -> Estate:
    """A small two-org estate; the second key pair lacks org_app_keys_read."""
    return generate_estate(SMALL, now=utcnow())


async def _collect_with(estate: Estate, index: int,
                        families: dict[str, Any]) -> list[Coverage]:
    """collect_target on target `index` of a served `estate`, with `families` swapped in."""
    target = estate.targets[index]
    saved = dict(collect.FAMILIES)
    registry = cast(dict[str, Family], collect.FAMILIES)
    registry.update({e: replace(registry[e], collect=fn) for e, fn in families.items()})
    try:
        async with SimulatedDatadog(estate) as sim, \
                context(sim.base_url(target.site), api_key=target.api_key,
                        app_key=target.app_key, name=target.name) as ctx:
            return await asyncio.wait_for(collect_target(ctx), GUARD)
    finally:
        registry.clear()
        registry.update(saved)


async def _boom(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
    tally.collected = 3
    raise RuntimeError(f"boom (key {API_KEY} echoed)")


async def test_an_unexpected_exception_costs_its_endpoint_only(estate: Estate) -> None:
    coverage = {c.endpoint: c for c in await _collect_with(estate, 0, {"roles": _boom})}
    assert set(coverage) == set(ENDPOINTS)
    roles = coverage.pop("roles")
    assert (roles.status, roles.collected) == ("failed", 3)
    assert roles.error == "unexpected RuntimeError: boom (key *** echoed)"  # never a key
    assert {c.status for c in coverage.values()} == {"complete"}


async def test_the_key_fallback_never_waits_for_a_user_listing_that_blew_up(
    estate: Estate,
) -> None:
    # Target 1 lacks org_app_keys_read: its keys fall back on the service accounts that
    # the users listing finds. That listing raising must not leave the fallback waiting.
    coverage = {c.endpoint: c for c in await _collect_with(estate, 1, {"users": _boom})}
    assert coverage["users"].status == "failed"
    assert coverage["application_keys"].status == "forbidden"  # nothing to fall back on
    assert coverage["roles"].status == "complete"


async def test_collect_all_isolates_a_target_whose_collector_raises(
    estate: Estate, tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'iso.db'}"
    engine = open_store(database)
    victim = estate.targets[0].name

    async def collector(ctx: TargetContext) -> list[Coverage]:
        if ctx.target.name == victim:
            raise KeyError("no such thing")
        return await collect_target(ctx)

    async with SimulatedDatadog(estate) as sim:
        config = simulator_config(estate, sim.urls, tmp_path / "out", database)
        scan_id, _ = start_scan(engine, config, None)
        results = await asyncio.wait_for(
            collect_all(engine, config, scan_id, policy=POLICY, collector=collector), GUARD)
    by_target = {ctx.target.name: cov for ctx, cov in results}
    lost = by_target.pop(victim)
    assert [c.endpoint for c in lost] == list(ENDPOINTS)
    assert {(c.status, c.error) for c in lost} == {("failed", "unexpected KeyError: 'no such "
                                                   "thing'")}
    (other,) = by_target.values()
    assert len(other) == len(ENDPOINTS) and "failed" not in {c.status for c in other}


# ---- C1: the per-service-account fallback is partial, and says why ---------------------


async def test_the_key_fallback_collects_service_account_keys_but_is_partial(
    estate: Estate,
) -> None:
    org = estate.org(estate.targets[1].org_public_id)
    accounts = {u.id for u in org.users if u.service_account}
    coverage = {c.endpoint: c for c in await _collect_with(estate, 1, {})}
    keys = coverage["application_keys"]
    assert keys.status == "partial"
    assert keys.collected == keys.expected == sum(k.owner_id in accounts for k in org.app_keys)
    assert keys.error == (f"org-wide listing forbidden (needs org_app_keys_read): collected "
                          f"the keys of {len(accounts)} service accounts; keys owned by users "
                          "cannot be listed")


# ---- C5: each resource_type's listing is measured against its filtered total ----------


async def test_mappings_are_counted_against_each_listings_filtered_total(
    estate: Estate,
) -> None:
    org = estate.org(estate.targets[0].org_public_id)
    kinds = {m.resource_type for m in org.mappings}
    assert kinds == {"role", "team"}  # the totals differ, so the wrong one would show
    coverage = {c.endpoint: c for c in await _collect_with(estate, 0, {})}
    mappings = coverage["authn_mappings"]
    assert (mappings.status, mappings.collected, mappings.expected) == (
        "complete", len(org.mappings), len(org.mappings))


# ---- C2: an org whose settings could not be read is not complete ----------------------


def _managed(public_id: str | None) -> dict[str, Any]:
    attributes = {"name": "Acme", **({"public_id": public_id} if public_id else {})}
    return {"data": {"id": "mo", "type": "managed_orgs",
                     "relationships": {"current_org": {"data": {"id": "o1", "type": "orgs"}},
                                       "managed_orgs": {"data": []}}},
            "included": [{"id": "o1", "type": "orgs", "attributes": attributes}]}


@pytest.mark.parametrize(("public_id", "v1_body", "why"), [
    (None, None, "the org's public id is unknown"),
    ("abc123def456", {"errors": []}, "GET /api/v1/org/abc123def456 gave no 'org' object"),
])
async def test_an_org_without_its_settings_is_partial(
    public_id: str | None, v1_body: Any, why: str,
) -> None:
    async def answer(request: web.Request) -> web.Response:
        if request.path == "/api/v2/org":
            return _json(_managed(public_id))
        return _json(v1_body)

    async with serve(answer) as url, context(url) as ctx:
        coverage = (await guarded(collect.FAMILIES["orgs"], ctx, {})).coverage
        rows = ctx.writer.rows["orgs"]  # type: ignore[attr-defined]
    assert coverage.status == "partial" and coverage.collected == 1
    assert coverage.error is not None and why in coverage.error
    assert "SAML and sharing settings were not collected" in coverage.error
    assert rows[0]["relation"] == "self" and rows[0]["saml_enabled"] is None


# ---- D2: teams go through consume(): a total that changes makes them partial ------------


async def test_teams_whose_total_changes_mid_listing_are_partial() -> None:
    async def answer(request: web.Request) -> web.Response:
        number = int(request.query["page[number]"])
        data = _items(0, 100) if number == 0 else _items(100, 50)
        return _json({"data": data, "meta": {"pagination": {"total": 150 + number}}})

    async with serve(answer) as url, context(url) as ctx:
        coverage = (await guarded(collect.FAMILIES["teams"], ctx, {})).coverage
    assert (coverage.status, coverage.collected, coverage.expected) == ("partial", 150, 150)
    assert coverage.error is not None and "total changed from 150 to 151" in coverage.error


# ---- C6: offset paging cannot loop forever ---------------------------------------------


@pytest.mark.parametrize("total", [None, 4])
async def test_offset_paging_stops_when_the_server_ignores_the_offset(
    total: int | None,
) -> None:
    async def answer(request: web.Request) -> web.Response:
        meta = {"page": {"total_count": total}} if total is not None else {}
        return _json({"data": _items(0, 2, "org_connection"), "meta": meta})

    async with serve(answer) as url, context(url) as ctx:
        with pytest.raises(APIError, match="pagination loop"):
            await asyncio.wait_for(_drain(ctx.client.pages_by_offset("/x", limit=2)), GUARD)


async def test_offset_paging_stops_past_the_pages_its_total_allows() -> None:
    served: list[int] = []

    async def answer(request: web.Request) -> web.Response:
        offset = int(request.query["offset"])
        served.append(offset)
        # Fresh items every time, and a total that keeps running ahead of the offset.
        return _json({"data": _items(offset, 2, "org_connection"),
                      "meta": {"page": {"total_count": offset + 5}}})

    async with serve(answer) as url, context(url) as ctx:
        with pytest.raises(APIError, match="beyond the total"):
            await asyncio.wait_for(_drain(ctx.client.pages_by_offset("/x", limit=2)), GUARD)
    assert served == [0, 2, 4, 6, 8]  # ceil(5 / 2) pages, one of slack, and the one refused


async def _drain(pages: AsyncGenerator[Page, None]) -> list[Page]:
    return [p async for p in pages]


# ---- S2: no key reaches an error message ------------------------------------------------


async def test_error_text_echoing_the_keys_is_scrubbed() -> None:
    stray = "9" * 40

    async def answer(request: web.Request) -> web.Response:
        echoed = [f"bad api key {request.headers['DD-API-KEY']}",
                  f"app key {request.headers['DD-APPLICATION-KEY']} lacks a scope",
                  f"not {stray} either"]
        return _json({"errors": echoed}, status=403)

    async with serve(answer) as url, context(url) as ctx:
        with pytest.raises(ForbiddenError) as caught:
            await ctx.client.get("/api/v2/users")
        coverage = (await guarded(collect.FAMILIES["users"], ctx, {})).coverage
    for text in (str(caught.value), coverage.error or ""):
        assert API_KEY not in text and APP_KEY not in text and stray not in text
        assert "bad api key ***; app key *** lacks a scope; not *** either" in text
    assert caught.value.status == 403 and coverage.status == "forbidden"


# ---- R4: a listing abandoned half-way is closed at once ---------------------------------


async def test_consume_closes_the_listing_when_it_fails_half_way() -> None:
    closed: list[bool] = []

    async def pages() -> AsyncGenerator[Page, None]:
        try:
            for n in range(3):
                yield Page(data=_items(n * 2, 2))
        finally:
            closed.append(True)  # a real listing cancels its fetches still in flight here

    def rows(ctx: TargetContext, tally: Tally, page: Page) -> dict[str, list[dict[str, Any]]]:
        raise ValueError("a row that cannot be built")

    listing = pages()  # still referenced here: only an explicit close can run its finally
    async with context("http://127.0.0.1:9") as ctx:
        with pytest.raises(ValueError):
            await consume(ctx, Tally(), listing, rows)
    assert closed == [True]


async def test_pages_in_flight_are_cancelled_when_the_consumer_fails() -> None:
    release = asyncio.Event()

    async def answer(request: web.Request) -> web.Response:
        if request.query["page[number]"] == "0":
            return _json({"data": _items(0, 100), "meta": {"page": {"total_count": 500}}})
        await release.wait()  # pages 1.. stay on the wire
        return _json({"data": [], "meta": {}})

    def rows(ctx: TargetContext, tally: Tally, page: Page) -> dict[str, list[dict[str, Any]]]:
        raise ValueError("a row that cannot be built")

    def fetches() -> list[asyncio.Task[Any]]:
        return [t for t in asyncio.all_tasks() if not t.done()
                and getattr(t.get_coro(), "__qualname__", "") == "DatadogClient.get_page"]

    async with serve(answer) as url, context(url) as ctx:
        listing = ctx.client.pages_by_number("/api/v2/users")
        try:
            with pytest.raises(ValueError):
                await consume(ctx, Tally(), listing, rows)
            assert fetches() == []  # pages 1..4 were cancelled, not left to the collector
        finally:
            release.set()


# ---- issue 12: a token without an id or an owner is unparseable -------------------------


async def test_tokens_without_id_or_owner_make_the_listing_partial() -> None:
    owned = {"owned_by": {"data": {"id": "u1", "type": "users"}}}
    items = [
        {"id": "t1", "type": "personal_access_tokens", "attributes": {"name": "ok"},
         "relationships": owned},
        {"id": "t2", "type": "service_access_tokens", "attributes": {"name": "no owner"}},
        {"type": "personal_access_tokens", "attributes": {"name": "no id"},
         "relationships": owned},
    ]

    async def answer(request: web.Request) -> web.Response:
        if request.path == "/api/v2/personal_access_tokens":
            return _json({"data": items, "meta": {"page": {"total_filtered_count": 3}}})
        return _json({"data": []})

    keys_readable = Done(Coverage("application_keys", "complete", 0, 0), True)
    async with serve(answer) as url, context(url) as ctx:
        done = await guarded(collect.FAMILIES["access_tokens"], ctx,
                             {"application_keys": keys_readable})
        rows = ctx.writer.rows["access_tokens"]  # type: ignore[attr-defined]
    assert [r["id"] for r in rows] == ["t1"]
    assert (done.coverage.status, done.coverage.collected) == ("partial", 1)
    assert "2 item(s) without a usable id were skipped" in (done.coverage.error or "")


async def test_a_token_listing_the_site_does_not_offer_is_unavailable() -> None:
    async def answer(request: web.Request) -> web.Response:
        return _json({"errors": ["Not found"]}, status=404)

    async with serve(answer) as url, context(url) as ctx:
        for endpoint in ("access_tokens", "oauth_clients"):
            inputs = {"application_keys": Done(Coverage("application_keys", "complete", 0, 0),
                                               True)}
            done = await guarded(collect.FAMILIES[endpoint], ctx, inputs)
            assert done.coverage.status == "unavailable", endpoint
            assert "does not offer it" in (done.coverage.error or "")
