"""The Datadog client: base URLs, headers, paging styles, retries and error mapping."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses

from scanner.client import DatadogClient, RetryPolicy
from scanner.config import Secret, Target
from scanner.errors import APIError, ForbiddenError, RateLimitedError

FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01, timeout=5)
TARGET = Target("t", "datadoghq.eu", Secret("a" * 32), Secret("b" * 40))
BASE = "https://api.datadoghq.eu"


@pytest.fixture()
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _users(n: int, start: int = 0) -> list[dict[str, object]]:
    return [{"id": f"u{i}", "type": "users", "attributes": {}} for i in range(start, start + n)]


async def test_base_url_is_the_site_unless_custom_endpoints_are_allowed(
    session: aiohttp.ClientSession,
) -> None:
    custom = Target("t", "datadoghq.eu", TARGET.api_key, TARGET.app_key, "http://127.0.0.1:9")
    assert DatadogClient(session, custom).base_url == BASE
    allowed = DatadogClient(session, custom, allow_custom_endpoints=True)
    assert allowed.base_url == "http://127.0.0.1:9"


async def test_sends_both_keys_and_pages_from_zero(session: aiohttp.ClientSession) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        url = re.compile(re.escape(BASE) + r"/api/v2/roles\?.*")
        mock.get(url, payload={"data": _users(100), "meta": {"page": {"total_count": 130}}})
        mock.get(url, payload={"data": _users(30, 100), "meta": {"page": {"total_count": 130}}})
        pages = [p async for p in client.pages_by_number("/api/v2/roles")]
        calls = [(str(k[1]), c) for k, v in mock.requests.items() for c in v]
    assert [len(p.data) for p in pages] == [100, 30]
    numbers = sorted(c.kwargs["params"]["page[number]"] for _, c in calls)
    assert numbers == ["0", "1"]
    headers = calls[0][1].kwargs["headers"]
    assert headers["DD-API-KEY"] == "a" * 32 and headers["DD-APPLICATION-KEY"] == "b" * 40
    assert all(c.kwargs["params"]["page[size]"] == "100" for _, c in calls)


async def test_a_full_last_page_reads_on_to_a_short_page(
    session: aiohttp.ClientSession,
) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        url = re.compile(re.escape(BASE) + r"/api/v2/roles\?.*")
        meta = {"page": {"total_count": 100}}  # the total under-reports: 220 exist
        mock.get(url, payload={"data": _users(100), "meta": meta})
        mock.get(url, payload={"data": _users(100, 100), "meta": meta})
        mock.get(url, payload={"data": _users(20, 200), "meta": meta})
        pages = [p async for p in client.pages_by_number("/api/v2/roles")]
        numbers = [c.kwargs["params"]["page[number]"] for v in mock.requests.values() for c in v]
    assert [len(p.data) for p in pages] == [100, 100, 20]
    assert numbers == ["0", "1", "2"]


async def test_a_full_page_repeating_forever_is_a_pagination_loop(
    session: aiohttp.ClientSession,
) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        url = re.compile(re.escape(BASE) + r"/api/v2/roles\?.*")
        mock.get(url, payload={"data": _users(100), "meta": {"page": {"total_count": 100}}},
                 repeat=True)
        with pytest.raises(APIError, match="pagination loop"):
            _ = [p async for p in client.pages_by_number("/api/v2/roles")]


async def test_users_are_asked_for_1000_a_page_and_fall_back_to_100_on_a_400(
    session: aiohttp.ClientSession,
) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        url = re.compile(re.escape(BASE) + r"/api/v2/users\?.*")
        mock.get(url, status=400, payload={"errors": ["page[size] must be at most 100"]})
        mock.get(url, payload={"data": _users(100), "meta": {"page": {"total_count": 150}}})
        mock.get(url, payload={"data": _users(50, 100), "meta": {"page": {"total_count": 150}}})
        pages = [p async for p in client.pages_by_number("/api/v2/users")]
        sizes = [c.kwargs["params"]["page[size]"] for v in mock.requests.values() for c in v]
    assert [len(p.data) for p in pages] == [100, 50]
    assert sizes == ["1000", "100", "100"]
    assert client.page_size("/api/v2/users") == 100  # remembered for the rest of the scan


async def test_a_smaller_max_page_size_in_the_answer_is_learnt(
    session: aiohttp.ClientSession,
) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        url = re.compile(re.escape(BASE) + r"/api/v2/users\?.*")
        meta = {"page": {"total_count": 900, "max_page_size": 500}}
        mock.get(url, payload={"data": _users(500), "meta": meta})  # page 0, cut to 500
        mock.get(url, payload={"data": _users(400, 500), "meta": meta})
        pages = [p async for p in client.pages_by_number("/api/v2/users")]
        params = [c.kwargs["params"] for v in mock.requests.values() for c in v]
    assert [len(p.data) for p in pages] == [500, 400]
    assert [(p["page[size]"], p["page[number]"]) for p in params] == [("1000", "0"),
                                                                      ("500", "1")]


async def test_offset_paging_for_org_connections(session: aiohttp.ClientSession) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        url = re.compile(re.escape(BASE) + r"/api/v2/org_connections\?.*")
        mock.get(url, payload={"data": _users(2), "meta": {"page": {"total_count": 3}}})
        mock.get(url, payload={"data": _users(1, 2), "meta": {"page": {"total_count": 3}}})
        pages = [p async for p in client.pages_by_offset("/api/v2/org_connections", limit=2)]
        offsets = [c.kwargs["params"]["offset"] for v in mock.requests.values() for c in v]
    assert [len(p.data) for p in pages] == [2, 1]
    assert offsets == ["0", "2"]


async def test_retries_429_honouring_reset_then_succeeds(session: aiohttp.ClientSession) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        url = BASE + "/api/v2/permissions"
        mock.get(url, status=429, body="<html>Too Many Requests</html>",
                 headers={"X-RateLimit-Reset": "0", "Content-Type": "text/html"})
        mock.get(url, status=503, payload={"errors": ["unavailable"]})
        mock.get(url, payload={"data": []})
        body = await client.get("/api/v2/permissions")
    assert body == {"data": []}
    assert client.stats.retries == 2 and client.stats.rate_limited == 1


async def test_gives_up_after_the_last_attempt(session: aiohttp.ClientSession) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        mock.get(BASE + "/api/v2/roles", status=429, headers={"X-RateLimit-Reset": "0"},
                 repeat=True)
        with pytest.raises(RateLimitedError):
            await client.get("/api/v2/roles")
    assert client.stats.requests == 3


async def test_403_is_forbidden_with_the_api_text(session: aiohttp.ClientSession) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        mock.get(BASE + "/api/v2/users", status=403, payload={"errors": ["Forbidden"]})
        with pytest.raises(ForbiddenError,
                           match=r"HTTP 403: Forbidden \(needs user_access_read\)"):
            await client.get("/api/v2/users")
    assert client.stats.retries == 0


async def test_redirects_are_refused_not_followed(session: aiohttp.ClientSession) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        mock.get(BASE + "/api/v2/users", status=302,
                 headers={"Location": "https://evil.example/steal"})
        with pytest.raises(APIError, match="redirect"):
            await client.get("/api/v2/users")
        assert len(mock.requests) == 1


async def test_malformed_json_is_retried_then_fails(session: aiohttp.ClientSession) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        mock.get(BASE + "/api/v2/users", body="{not json", repeat=True)
        with pytest.raises(APIError, match="malformed JSON"):
            await client.get("/api/v2/users")


async def test_remaining_pages_are_fetched_concurrently(session: aiohttp.ClientSession) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    in_flight = 0
    peak = 0

    async def page(url: object, **kwargs: Any) -> CallbackResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        number = int(kwargs["params"]["page[number]"])
        size = 100 if number < 4 else 50
        return CallbackResult(payload={"data": _users(size, number * 100),
                                       "meta": {"page": {"total_count": 450}}})

    with aioresponses() as mock:
        mock.get(re.compile(re.escape(BASE) + r"/api/v2/roles\?.*"), callback=page, repeat=True)
        pages = [p async for p in client.pages_by_number("/api/v2/roles")]
    assert sorted(len(p.data) for p in pages) == [50, 100, 100, 100, 100]
    assert peak >= 3  # pages 1..4 were in flight together once page 0 gave the total


async def test_a_page_that_repeats_forever_is_an_error(session: aiohttp.ClientSession) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        url = re.compile(re.escape(BASE) + r"/api/v2/teams\?.*")
        mock.get(url, payload={"data": _users(100), "meta": {}}, repeat=True)
        with pytest.raises(APIError, match="pagination loop"):
            _ = [p async for p in client.pages_by_number("/api/v2/teams")]


async def test_delete_returns_its_status_and_retries_like_a_read(
    session: aiohttp.ClientSession,
) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        url = BASE + "/api/v2/api_keys/k1"
        mock.delete(url, status=429, headers={"X-RateLimit-Reset": "0"})
        mock.delete(url, status=503)
        mock.delete(url, status=204)
        assert await client.delete("/api/v2/api_keys/k1") == 204
        sent = [c for (method, _), calls in mock.requests.items() for c in calls
                if method == "DELETE"]
    assert len(sent) == 3 and client.stats.retries == 2 and client.stats.rate_limited == 1
    assert sent[0].kwargs["allow_redirects"] is False


async def test_delete_maps_404_and_403_and_never_follows_redirects(
    session: aiohttp.ClientSession,
) -> None:
    client = DatadogClient(session, TARGET, policy=FAST)
    with aioresponses() as mock:
        mock.delete(BASE + "/api/v2/api_keys/gone", status=404, payload={"errors": ["nope"]})
        mock.delete(BASE + "/api/v2/api_keys/locked", status=403,
                    payload={"errors": ["Forbidden " + "b" * 40]})
        mock.delete(BASE + "/api/v2/api_keys/moved", status=302,
                    headers={"Location": "https://elsewhere.example/"})
        with pytest.raises(APIError) as gone:
            await client.delete("/api/v2/api_keys/gone")
        with pytest.raises(ForbiddenError) as locked:
            await client.delete("/api/v2/api_keys/locked")
        with pytest.raises(APIError) as moved:
            await client.delete("/api/v2/api_keys/moved")
    assert gone.value.status == 404 and "DELETE /api/v2/api_keys/gone" in str(gone.value)
    assert locked.value.status == 403 and "b" * 40 not in str(locked.value)
    assert moved.value.status == 302 and "redirect" in str(moved.value)
