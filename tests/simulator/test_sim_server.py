"""Simulator behaviour: paging, auth, permissions, canaries, counters, threaded mode."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime

import aiohttp

from scanner.simulator.estate import demo_estate
from scanner.simulator.model import Estate
from scanner.simulator.server import SimulatedDatadog
from tests.simulator.simclient import Api


async def test_users_pages_are_zero_based_with_short_last_page(api: Api, estate: Estate) -> None:
    target = estate.targets[2]
    org = estate.org(target.org_public_id)
    seen: list[str] = []
    number = 0
    while True:
        status, body = await api.get(target, "/api/v2/users",
                                     {"page[size]": 7, "page[number]": number})
        assert status == 200
        assert body["meta"]["page"] == {"total_count": len(org.users),
                                        "total_filtered_count": len(org.users),
                                        "max_page_size": 1000}
        seen += [u["id"] for u in body["data"]]
        if len(body["data"]) < 7:
            break
        number += 1
    assert len(body["data"]) == len(org.users) % 7
    assert sorted(seen) == sorted(u.id for u in org.users)
    status, body = await api.get(target, "/api/v2/users")  # default page size 10
    assert len(body["data"]) == 10
    roles = {i["id"] for i in body["included"] if i["type"] == "roles"}
    assert {r["id"] for u in body["data"] for r in u["relationships"]["roles"]["data"]} <= roles


async def test_page_size_limits(api: Api, estate: Estate) -> None:
    target = estate.targets[0]
    bads: list[dict[str, str | int]] = [
        {"page[size]": 101}, {"page[size]": 0}, {"page[size]": "ten"}, {"page[number]": -1}]
    for bad in bads:
        status, body = await api.get(target, "/api/v2/roles", bad)
        assert status == 400 and isinstance(body["errors"][0], str), bad
    # The users listing serves up to 1000 a page (as the 2026 recordings show), no more.
    assert (await api.get(target, "/api/v2/users", {"page[size]": 1000}))[0] == 200
    assert (await api.get(target, "/api/v2/users", {"page[size]": 1001}))[0] == 400
    status, body = await api.get(target, "/api/v2/roles", {"page[size]": 100})
    assert status == 200


async def test_filter_status_and_app_key_meta(api: Api, estate: Estate) -> None:
    target = estate.targets[11]
    org = estate.org(target.org_public_id)
    status, body = await api.get(target, "/api/v2/users",
                                 {"filter[status]": "Disabled", "page[size]": 100})
    assert {u["attributes"]["status"] for u in body["data"]} == {"Disabled"}
    assert body["meta"]["page"]["total_count"] == len(org.users)
    status, body = await api.get(target, "/api/v2/application_keys")
    assert body["meta"] == {"page": {"total_filtered_count": len(org.app_keys)},
                            "max_allowed_per_user": 1000}
    status, body = await api.get(target, "/api/v2/api_keys", {"page[size]": 100})
    assert body["meta"] == {"page": {"total_filtered_count": len(org.api_keys)},
                            "max_allowed": 200}
    leaked = [k for k in body["data"] if k["relationships"]["leak_information"]["data"]]
    assert [k["attributes"]["name"] for k in leaked] == ["leaked-agent"]
    assert {i["type"] for i in body["included"]} == {"leaked_keys"}


async def test_org_connections_limit_offset(api: Api, estate: Estate) -> None:
    target = estate.targets[13]
    org = estate.org(target.org_public_id)
    status, body = await api.get(target, "/api/v2/org_connections")
    assert len(body["data"]) == len(org.connections) == body["meta"]["page"]["total_count"]
    status, part = await api.get(target, "/api/v2/org_connections", {"limit": 2, "offset": 3})
    assert [c["id"] for c in part["data"]] == [c["id"] for c in body["data"][3:5]]
    assert part["data"][0]["type"] == "org_connection"
    assert "name" in part["data"][0]["relationships"]["created_by"]["data"]
    status, _ = await api.get(target, "/api/v2/org_connections", {"limit": "x"})
    assert status == 400


async def test_mappings_by_resource_type(api: Api, estate: Estate) -> None:
    target = estate.targets[12]
    org = estate.org(target.org_public_id)
    _, roles = await api.get(target, "/api/v2/authn_mappings", {"page[size]": 100})
    _, teams = await api.get(target, "/api/v2/authn_mappings", {"resource_type": "team"})
    assert len(roles["data"]) + len(teams["data"]) == len(org.mappings)
    assert all("role" in m["relationships"] for m in roles["data"])
    assert all("team" in m["relationships"] for m in teams["data"])
    status, _ = await api.get(target, "/api/v2/authn_mappings", {"resource_type": "user"})
    assert status == 400
    # total_count counts the org's mappings; total_filtered_count the resource_type's.
    assert roles["meta"]["page"] == {"total_count": len(org.mappings),
                                     "total_filtered_count": len(roles["data"])}
    assert teams["meta"]["page"] == {"total_count": len(org.mappings),
                                     "total_filtered_count": len(teams["data"])}
    assert teams["data"] and len(teams["data"]) < len(org.mappings)


async def test_auth(api: Api, estate: Estate) -> None:
    a, b = estate.targets[0], estate.targets[1]
    status, body = await api.get(a, "/api/v2/users", app_key="f" * 40)
    assert (status, body) == (403, {"errors": ["Forbidden"]})
    status, body = await api.raw(a.site, "/api/v2/users", {})
    assert (status, body) == (403, {"errors": ["Forbidden"]})
    # Another org's keys read that org only, and not on another site.
    _, own = await api.get(b, "/api/v2/users", {"page[size]": 100})
    assert {u["id"] for u in own["data"]} == {u.id for u in estate.org(b.org_public_id).users}
    status, _ = await api.get(b, f"/api/v1/org/{estate.targets[2].org_public_id}")
    assert status == 404
    status, _ = await api.get(estate.targets[2], "/api/v2/users", site=a.site)
    assert status == 403
    status, body = await api.raw(a.site, "/api/v1/validate", {"DD-API-KEY": "nope"})
    assert (status, body) == (403, {"errors": ["API key required"]})
    status, body = await api.raw(a.site, "/api/v1/validate", {"DD-API-KEY": a.api_key})
    assert (status, body) == (200, {"valid": True})


async def test_wrong_app_key_setting(api: Api, estate: Estate) -> None:
    target = estate.targets[3]
    estate.set_app_key(target.name, "a" * 40)
    status, _ = await api.get(target, "/api/v2/roles")
    assert status == 403


async def test_permission_removal_is_per_endpoint(api: Api, estate: Estate) -> None:
    target = estate.targets[4]
    estate.revoke(target.name, "integrations_read")
    status, body = await api.get(target, "/api/v2/integrations/okta/accounts")
    assert (status, body) == (403, {"errors": ["Forbidden"]})
    for path in ("/api/v2/users", "/api/v2/api_keys", "/api/v1/org", "/api/v2/team"):
        status, _ = await api.get(estate.target(target.name), path)
        assert status == 200, path


async def test_gap_org_falls_back_to_service_account_listing(api: Api, estate: Estate) -> None:
    gap = next(t for t in estate.targets if "org_app_keys_read" not in t.permissions)
    status, _ = await api.get(gap, "/api/v2/application_keys")
    assert status == 403
    org = estate.org(gap.org_public_id)
    sa = next(u for u in org.users if u.service_account)
    status, body = await api.get(gap, f"/api/v2/service_accounts/{sa.id}/application_keys")
    assert status == 200
    assert body["meta"]["page"] == {"total_filtered_count": sum(
        k.owner_id == sa.id for k in org.app_keys)}
    assert all("owned_by" not in k["relationships"] for k in body["data"])
    status, body = await api.get(gap, f"/api/v2/service_accounts/{org.current_user_id}"
                                      "/application_keys")
    assert status == 404 and body["errors"]


async def test_unknown_path_and_counters(api: Api, sim: SimulatedDatadog, estate: Estate) -> None:
    target = estate.targets[0]
    status, body = await api.get(target, "/api/v2/nope")
    assert status == 404 and body == {"errors": ["Not found"]}
    before = sim.request_count
    await api.get(target, "/api/v2/permissions")
    await api.get(target, "/api/v2/permissions")
    assert sim.request_count == before + 2
    assert sim.requests[(target.org_public_id, "/api/v2/permissions")] == 2


async def test_rate_limit_headers(api: Api, sim: SimulatedDatadog, estate: Estate) -> None:
    target = estate.targets[0]
    async with api.session.get(sim.base_url(target.site) + "/api/v2/roles",
                               headers={"DD-API-KEY": target.api_key,
                                        "DD-APPLICATION-KEY": target.app_key}) as resp:
        assert resp.headers["X-RateLimit-Name"] == "roles"
        assert int(resp.headers["X-RateLimit-Remaining"]) < int(resp.headers["X-RateLimit-Limit"])


async def test_canaries_only_when_enabled(now: datetime) -> None:
    for enabled in (False, True):
        estate = demo_estate(now, canaries=enabled)
        async with SimulatedDatadog(estate, now=now) as sim:
            text = ""
            async with aiohttp.ClientSession() as session:
                for t in estate.targets:
                    for path in ("/api/v2/integrations/okta/accounts",
                                 "/api/v2/application_keys"):
                        async with session.get(sim.base_url(t.site) + path, headers={
                                "DD-API-KEY": t.api_key, "DD-APPLICATION-KEY": t.app_key}) as r:
                            text += await r.text()
        assert ("CANARY-" in text) is enabled
        assert all(c in text for c in estate.canaries)


def test_threaded_mode(estate: Estate) -> None:
    handle = SimulatedDatadog.start_in_thread(estate)
    try:
        target = estate.targets[5]
        request = urllib.request.Request(
            handle.base_url(target.site) + "/api/v2/permissions",
            headers={"DD-API-KEY": target.api_key, "DD-APPLICATION-KEY": target.app_key})
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 (loopback)
            body = json.load(resp)
        assert any(p["attributes"]["name"] == "org_app_keys_read" for p in body["data"])
        assert set(handle.urls) == set(estate.sites)
    finally:
        handle.stop()
