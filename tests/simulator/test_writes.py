"""The simulator's write endpoints: effects on later reads, permissions, limits, request log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from scanner.demo import simulator_config
from scanner.simulator import permissions as perms
from scanner.simulator.estate import EstateSpec, generate_estate
from scanner.simulator.faults import Fault, FaultInjector
from scanner.simulator.limits import RateLimits
from scanner.simulator.model import Estate, Org, SimTarget
from scanner.simulator.server import WRITE_ROUTES, RequestRecord, SimulatedDatadog
from tests.simulator.simclient import Api

TOKENS = "/api/v2/personal_access_tokens"


async def send(api: Api, target: SimTarget, method: str, path: str,
               body: object = None) -> tuple[int, Any]:
    """`method path` as `target`; (status, parsed JSON or None for an empty body)."""
    headers = {"DD-API-KEY": target.api_key, "DD-APPLICATION-KEY": target.app_key}
    data = None if body is None else json.dumps(body)
    async with api.session.request(method, api.sim.base_url(target.site) + path,
                                   headers=headers, data=data) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if text else None


def org_of(estate: Estate, target: SimTarget) -> Org:
    return estate.org(target.org_public_id)


@pytest.fixture
def scan(estate: Estate) -> SimTarget:
    return estate.targets[0]


@pytest.fixture
def writer(estate: Estate, scan: SimTarget) -> SimTarget:
    return estate.add_write_pair(scan.name)


def without(estate: Estate, pair: SimTarget, *names: str) -> SimTarget:
    estate.revoke(pair.name, *names)
    return next(t for t in estate.write_targets if t.name == pair.name)


async def test_delete_app_key_leaves_the_listing(
    api: Api, estate: Estate, scan: SimTarget, writer: SimTarget
) -> None:
    org = org_of(estate, scan)
    victim, kept = org.app_keys[0].id, org.app_keys[1].id
    _, before = await api.get(scan, "/api/v2/application_keys")
    assert await send(api, scan, "DELETE", f"/api/v2/application_keys/{victim}") == (
        403, {"errors": ["Forbidden"]})  # the scan pair lacks org_app_keys_write
    assert await send(api, writer, "DELETE", f"/api/v2/application_keys/{victim}") == (204, None)
    _, after = await api.get(scan, "/api/v2/application_keys")
    ids = {k["id"] for k in after["data"]}
    assert victim not in ids and kept in ids
    assert after["meta"]["page"]["total_filtered_count"] == (
        before["meta"]["page"]["total_filtered_count"] - 1)
    status, body = await send(api, writer, "DELETE", f"/api/v2/application_keys/{victim}")
    assert status == 404 and body == {"errors": [f"{victim} not found"]}
    narrow = without(estate, writer, "org_app_keys_write")
    assert (await send(api, narrow, "DELETE", f"/api/v2/application_keys/{kept}"))[0] == 403
    assert kept in {k.id for k in org.app_keys}


async def test_delete_service_account_key_only_its_own(
    api: Api, estate: Estate, scan: SimTarget, writer: SimTarget
) -> None:
    org = org_of(estate, scan)
    sa, other = [u for u in org.users
                 if u.service_account and any(k.owner_id == u.id for k in org.app_keys)][:2]
    key = next(k for k in org.app_keys if k.owner_id == sa.id)
    path = f"/api/v2/service_accounts/{sa.id}/application_keys"
    assert (await send(api, writer, "DELETE",
                       f"/api/v2/service_accounts/{other.id}/application_keys/{key.id}"))[0] == 404
    assert (await send(api, writer, "DELETE",
                       f"/api/v2/service_accounts/nobody/application_keys/{key.id}"))[0] == 404
    _, before = await api.get(scan, path)
    assert await send(api, writer, "DELETE", f"{path}/{key.id}") == (204, None)
    _, after = await api.get(scan, path)
    assert key.id not in {k["id"] for k in after["data"]}
    assert after["meta"]["page"]["total_filtered_count"] == (
        before["meta"]["page"]["total_filtered_count"] - 1)
    _, org_wide = await api.get(scan, "/api/v2/application_keys", {"filter[owned_by]": sa.id})
    assert key.id not in {k["id"] for k in org_wide["data"]}
    rest = next(k for k in org.app_keys if k.owner_id == other.id)
    narrow = without(estate, writer, "service_account_write")
    assert (await send(api, narrow, "DELETE", f"/api/v2/service_accounts/{other.id}"
                       f"/application_keys/{rest.id}")) == (403, {"errors": ["Forbidden"]})


async def test_delete_api_key(api: Api, estate: Estate, scan: SimTarget,
                              writer: SimTarget) -> None:
    org = org_of(estate, scan)
    victim = org.api_keys[0].id
    assert (await send(api, scan, "DELETE", f"/api/v2/api_keys/{victim}"))[0] == 403
    assert await send(api, writer, "DELETE", f"/api/v2/api_keys/{victim}") == (204, None)
    _, after = await api.get(scan, "/api/v2/api_keys", {"page[size]": 100})
    assert victim not in {k["id"] for k in after["data"]}
    assert after["meta"]["page"]["total_filtered_count"] == len(org.api_keys) == 9
    assert (await send(api, writer, "DELETE", f"/api/v2/api_keys/{victim}"))[0] == 404
    narrow = without(estate, writer, "api_keys_delete")
    assert (await send(api, narrow, "DELETE", f"/api/v2/api_keys/{org.api_keys[0].id}"))[0] == 403


async def test_delete_authn_mapping(api: Api, estate: Estate, scan: SimTarget,
                                    writer: SimTarget) -> None:
    org = org_of(estate, scan)
    victim = next(m for m in org.mappings if m.resource_type == "role")
    _, before = await api.get(scan, "/api/v2/authn_mappings")
    assert (await send(api, scan, "DELETE", f"/api/v2/authn_mappings/{victim.id}"))[0] == 403
    assert await send(api, writer, "DELETE", f"/api/v2/authn_mappings/{victim.id}") == (204, None)
    _, after = await api.get(scan, "/api/v2/authn_mappings")
    assert victim.id not in {m["id"] for m in after["data"]}
    for total in ("total_count", "total_filtered_count"):
        assert after["meta"]["page"][total] == before["meta"]["page"][total] - 1
    assert (await send(api, writer, "DELETE", f"/api/v2/authn_mappings/{victim.id}"))[0] == 404


async def test_revoke_tokens_is_idempotent_and_they_leave_the_listing(
    api: Api, estate: Estate, scan: SimTarget, writer: SimTarget
) -> None:
    org = org_of(estate, scan)
    pat = next(t for t in org.access_tokens if t.kind == "personal")
    sat = next(t for t in org.access_tokens if t.kind == "service")
    sat_path = f"/api/v2/service_accounts/{sat.owner_id}/access_tokens/{sat.id}"
    _, before = await api.get(scan, TOKENS)
    assert (await send(api, writer, "DELETE", f"{TOKENS}/{sat.id}"))[0] == 404  # a SAT's id
    for _ in range(2):  # a revoked token answers 204 again, as recorded
        assert await send(api, writer, "DELETE", f"{TOKENS}/{pat.id}") == (204, None)
        assert await send(api, writer, "DELETE", sat_path) == (204, None)
    _, after = await api.get(scan, TOKENS)
    assert not {pat.id, sat.id} & {t["id"] for t in after["data"]}
    assert after["meta"]["page"]["total_filtered_count"] == (
        before["meta"]["page"]["total_filtered_count"] - 2)
    wrong_owner = f"/api/v2/service_accounts/{org.current_user_id}/access_tokens/{sat.id}"
    assert (await send(api, writer, "DELETE", wrong_owner))[0] == 404
    assert (await send(api, writer, "DELETE", f"{TOKENS}/unknown-token"))[0] == 404


async def test_user_app_keys_alone_revokes_only_its_own_tokens(
    api: Api, estate: Estate, scan: SimTarget
) -> None:
    org = org_of(estate, scan)
    own = next(t for t in org.access_tokens if t.owner_id == org.current_user_id)
    other = next(t for t in org.access_tokens
                 if t.kind == "personal" and t.owner_id != org.current_user_id)
    pair = estate.add_write_pair(scan.name, {"user_app_keys"})
    assert await send(api, pair, "DELETE", f"{TOKENS}/{other.id}") == (
        403, {"errors": ["Forbidden"]})
    assert (await send(api, pair, "DELETE", f"{TOKENS}/{own.id}"))[0] == 204
    nothing = estate.add_write_pair(scan.name, set())
    assert (await send(api, nothing, "DELETE", f"{TOKENS}/{other.id}"))[0] == 403
    assert other in org.access_tokens


async def test_token_writes_404_where_the_site_has_no_token_endpoints(
    api: Api, estate: Estate, scan: SimTarget, writer: SimTarget
) -> None:
    org = org_of(estate, scan)
    org.missing_endpoints = frozenset({TOKENS})
    sat = next(t for t in org.access_tokens if t.kind == "service")
    for path in (f"{TOKENS}/{sat.id}",
                 f"/api/v2/service_accounts/{sat.owner_id}/access_tokens/{sat.id}"):
        assert (await send(api, writer, "DELETE", path))[0] == 404
    assert sat in org.access_tokens


async def test_disable_service_account_shows_in_the_users_listing(
    api: Api, estate: Estate, scan: SimTarget, writer: SimTarget, now: datetime
) -> None:
    org = org_of(estate, scan)
    sa = next(u for u in org.users if u.service_account and not u.is_disabled)
    assert (await send(api, scan, "DELETE", f"/api/v2/users/{sa.id}"))[0] == 403
    for _ in range(2):  # disabling a disabled user changes nothing and still succeeds
        assert await send(api, writer, "DELETE", f"/api/v2/users/{sa.id}") == (204, None)
    _, listed = await api.get(scan, "/api/v2/users", {"filter[status]": "Disabled"})
    shown = next(u for u in listed["data"] if u["id"] == sa.id)["attributes"]
    assert (shown["disabled"], shown["status"]) == (True, "Disabled")
    assert org.user(sa.id) is not None and org.user(sa.id).modified_at == now  # type: ignore[union-attr]
    assert await send(api, writer, "DELETE", "/api/v2/users/nobody") == (
        404, {"errors": ["nobody not found"]})


async def test_patch_user_disables_and_reenables(
    api: Api, estate: Estate, scan: SimTarget, writer: SimTarget
) -> None:
    org = org_of(estate, scan)
    sa = next(u for u in org.users if u.service_account and not u.is_disabled)

    def patch(disabled: object, user_id: str = sa.id) -> dict[str, Any]:
        return {"data": {"type": "users", "id": user_id,
                         "attributes": {"disabled": disabled, "name": "ignored"}}}

    status, body = await send(api, writer, "PATCH", f"/api/v2/users/{sa.id}", patch(True))
    assert status == 200 and body["data"]["id"] == sa.id
    assert (body["data"]["attributes"]["disabled"], body["data"]["attributes"]["status"]) == (
        True, "Disabled")
    _, listed = await api.get(scan, "/api/v2/users", {"filter": sa.email})
    assert listed["data"][0]["attributes"]["status"] == "Disabled"
    status, body = await send(api, writer, "PATCH", f"/api/v2/users/{sa.id}", patch(False))
    assert (status, body["data"]["attributes"]["status"]) == (200, "Active")
    assert (await send(api, writer, "PATCH", f"/api/v2/users/{sa.id}", patch("yes")))[0] == 400
    assert (await send(api, writer, "PATCH", f"/api/v2/users/{sa.id}", {"x": 1}))[0] == 400
    assert (await send(api, writer, "PATCH", f"/api/v2/users/{sa.id}",
                       patch(True, "someone-else")))[0] == 400
    assert await send(api, writer, "PATCH", "/api/v2/users/nobody", patch(True, "nobody")) == (
        404, {"errors": ["nobody not found"]})
    assert (await send(api, scan, "PATCH", f"/api/v2/users/{sa.id}", patch(True)))[0] == 403
    assert org.user(sa.id) is not None and not org.user(sa.id).disabled  # type: ignore[union-attr]


def test_the_scan_pair_passes_only_the_writes_its_read_permissions_imply() -> None:
    # Listing a service account's keys needs service_account_write and the scanner holds
    # user_app_keys, so, as against the real API, only the client keeps the scan pair
    # from those writes; every other write needs a permission the scan pair lacks.
    passes = {(r.method, r.path) for r in WRITE_ROUTES
              if set(r.permissions) & perms.SCANNER_PERMISSIONS}
    assert passes == {
        ("DELETE", "/api/v2/service_accounts/{service_account_id}/application_keys/{app_key_id}"),
        ("DELETE", "/api/v2/service_accounts/{service_account_id}/access_tokens/{token_id}"),
        ("DELETE", "/api/v2/personal_access_tokens/{token_id}"),
    }
    assert all(set(r.permissions) & perms.WRITE_PAIR_PERMISSIONS for r in WRITE_ROUTES)


async def test_request_log_names_method_status_and_key_pair(
    api: Api, sim: SimulatedDatadog, estate: Estate, scan: SimTarget, writer: SimTarget
) -> None:
    key = org_of(estate, scan).api_keys[0].id
    sim.reset_counters()
    await api.get(scan, "/api/v2/api_keys")
    await send(api, writer, "DELETE", f"/api/v2/api_keys/{key}")
    await send(api, scan, "DELETE", f"/api/v2/api_keys/{key}")
    await send(api, SimTarget("x", scan.site, "", "wrong", "wrong", frozenset()),
               "DELETE", f"/api/v2/api_keys/{key}")
    await send(api, writer, "POST", "/api/v2/api_keys")
    assert sim.request_log == [
        RequestRecord("GET", "/api/v2/api_keys", 200, scan.name),
        RequestRecord("DELETE", f"/api/v2/api_keys/{key}", 204, writer.name),
        RequestRecord("DELETE", f"/api/v2/api_keys/{key}", 403, scan.name),
        RequestRecord("DELETE", f"/api/v2/api_keys/{key}", 403, None),
        RequestRecord("POST", "/api/v2/api_keys", 405, None),
    ]
    assert sim.writes == sim.request_log[1:]
    logged = repr(sim.request_log)
    assert not any(secret in logged for secret in
                   (scan.api_key, scan.app_key, writer.api_key, writer.app_key))
    sim.reset_counters()
    assert sim.request_log == [] and sim.writes == []


async def test_writes_spend_the_listing_bucket_and_meet_faults(
    estate: Estate, now: datetime, scan: SimTarget, writer: SimTarget
) -> None:
    org = org_of(estate, scan)
    first, second = org.api_keys[0].id, org.api_keys[1].id
    async with SimulatedDatadog(estate, now=now, limits=RateLimits.uniform(2, 60)) as sim, \
            aiohttp.ClientSession() as session:
        api = Api(sim, session)
        sim.faults = FaultInjector([Fault("status", path=f"/api/v2/api_keys/{first}", times=1)])
        assert (await send(api, writer, "DELETE", f"/api/v2/api_keys/{first}"))[0] == 503
        assert first in {k.id for k in org.api_keys}  # the failed write changed nothing
        assert (await send(api, writer, "DELETE", f"/api/v2/api_keys/{first}"))[0] == 204
        assert (await send(api, writer, "DELETE", f"/api/v2/api_keys/{second}"))[0] == 204
        status, _ = await api.get(writer, "/api/v2/api_keys")  # same org, same "keys" bucket
        assert status == 429
        assert sim.counters.limited[(scan.org_public_id, "keys")] == 1


async def test_a_cached_listing_shows_a_disable(estate: Estate, now: datetime,
                                                scan: SimTarget, writer: SimTarget) -> None:
    sa = next(u for u in org_of(estate, scan).users if u.service_account and not u.is_disabled)
    async with SimulatedDatadog(estate, now=now, cache=True) as sim, \
            aiohttp.ClientSession() as session:
        api = Api(sim, session)
        query = {"filter": sa.email}
        _, before = await api.get(scan, "/api/v2/users", query)
        await send(api, writer, "DELETE", f"/api/v2/users/{sa.id}")
        _, after = await api.get(scan, "/api/v2/users", query)
        assert before["data"][0]["attributes"]["disabled"] is False
        assert after["data"][0]["attributes"]["disabled"] is True


def test_estate_spec_and_demo_config_carry_write_pairs(now: datetime, tmp_path: Any) -> None:
    spec = EstateSpec(sites=("datadoghq.com",), users_per_org=5, service_accounts_per_org=2,
                      deliberate=False, write_permissions=frozenset({"api_keys_delete"}))
    estate = generate_estate(spec, now=now)
    assert [w.name for w in estate.write_targets] == [f"{t.name}-write" for t in estate.targets]
    pair = estate.write_pair(estate.targets[0].name)
    assert pair is not None and pair.permissions == {"api_keys_delete"}
    assert {pair.api_key, pair.app_key}.isdisjoint({estate.targets[0].api_key,
                                                    estate.targets[0].app_key})
    assert len(estate.key_pairs) == 2 * len(estate.targets)
    urls = {"datadoghq.com": "http://127.0.0.1:1"}
    config = simulator_config(estate, urls, tmp_path, "sqlite://")
    assert all(t.can_write for t in config.targets)
    assert config.targets[0].write_app_key is not None
    assert config.targets[0].write_app_key.reveal() == pair.app_key
    plain = generate_estate(EstateSpec(sites=("datadoghq.com",), users_per_org=5,
                                       deliberate=False), now=now)
    assert plain.write_targets == []
    assert not any(t.can_write for t in simulator_config(plain, urls, tmp_path,
                                                         "sqlite://").targets)
