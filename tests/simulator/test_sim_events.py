"""POST /api/v1/events: the key checked (API key only), the body validated, events recorded, 202."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from scanner.simulator.model import Estate
from scanner.simulator.server import SimulatedDatadog


async def _post(sim: SimulatedDatadog, site: str, key: str | None,
                body: Any) -> tuple[int, Any]:
    headers = {} if key is None else {"DD-API-KEY": key}
    async with aiohttp.ClientSession() as session, session.post(
            sim.base_url(site) + "/api/v1/events", json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_an_event_posted_with_an_api_key_is_recorded_and_answered_202(
        sim: SimulatedDatadog, estate: Estate) -> None:
    target = estate.targets[0]
    body = {"title": "ddaudit scan s1 complete", "text": "%%% \nhello\n %%%",
            "tags": ["ddaudit_scan_id:s1"], "alert_type": "success",
            "aggregation_key": "ddaudit-scan"}
    status, answer = await _post(sim, target.site, target.api_key, body)
    assert status == 202 and answer["status"] == "ok"
    assert answer["event"]["id"] == 1 and answer["event"]["tags"] == ["ddaudit_scan_id:s1"]
    assert [(e.site, e.org_public_id, e.body) for e in sim.events] == [
        (target.site, target.org_public_id, body)]


@pytest.mark.parametrize("body, error", [
    ({"text": "x"}, "Missing or empty required field 'title'"),
    ({"title": "t", "text": ""}, "Missing or empty required field 'text'"),
    ({"title": "t", "text": "x" * 4001}, "'text' is longer than 4000 characters"),
    ({"title": "t", "text": "x", "alert_type": "panic"}, "'alert_type' must be one of"),
    ({"title": "t", "text": "x", "tags": "a,b"}, "'tags' must be a list of strings"),
    (["not", "an", "object"], "Event must be a JSON object"),
])
async def test_a_malformed_event_is_a_400(sim: SimulatedDatadog, estate: Estate, body: Any,
                                          error: str) -> None:
    target = estate.targets[0]
    status, answer = await _post(sim, target.site, target.api_key, body)
    assert status == 400 and answer["errors"][0].startswith(error) and sim.events == []


async def test_a_wrong_or_missing_key_or_another_sites_key_is_a_403(
        sim: SimulatedDatadog, estate: Estate) -> None:
    target = estate.targets[0]
    other = next(t for t in estate.targets if t.site != target.site)
    body = {"title": "t", "text": "x"}
    for key, site in ((None, target.site), ("0" * 32, target.site),
                      (other.api_key, target.site), (target.app_key, target.site)):
        status, answer = await _post(sim, site, key, body)
        assert (status, answer) == (403, {"errors": ["Forbidden"]})
    assert sim.events == []
