"""Access tokens and OAuth clients: the two listings, their views and the estate's scenarios."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from scanner.simulator.estate import TOKENS_AT
from scanner.simulator.model import AccessToken, Estate, OAuthClient, Org
from scanner.simulator.permissions import EVERYDAY, PRIVILEGED
from scanner.simulator.server import SimulatedDatadog
from tests.simulator.simclient import Api

TOKENS = "/api/v2/personal_access_tokens"
CLIENTS = "/api/v2/org_authorized_clients"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")  # as the GET recordings
PORTION = re.compile(r"^(ddpat_|ddsat_)?[A-Za-z0-9]{22}$")


def _org(estate: Estate, index: int = TOKENS_AT) -> Org:
    return estate.org(estate.targets[index].org_public_id)


def token(org: Org, name: str) -> AccessToken:
    return next(t for t in org.access_tokens if t.name == name)


def client(org: Org, name: str) -> OAuthClient:
    return next(c for c in org.oauth_clients if c.name == name)


async def _all_pages(api: Api, estate: Estate, path: str, size: int,
                     extra: dict[str, str | int] | None = None) -> list[dict[str, Any]]:
    target = estate.targets[TOKENS_AT]
    items: list[dict[str, Any]] = []
    number = 0
    while True:
        status, body = await api.get(target, path,
                                     {"page[size]": size, "page[number]": number, **(extra or {})})
        assert status == 200, body
        items += body["data"]
        if len(body["data"]) < size:
            return items
        number += 1


async def test_tokens_page_from_zero_with_a_short_last_page(api: Api, estate: Estate) -> None:
    org = _org(estate)
    target = estate.targets[TOKENS_AT]
    total = len(org.access_tokens)
    assert total % 4  # so the last page is short
    status, body = await api.get(target, TOKENS, {"page[size]": 4})  # page[number] 0
    assert status == 200
    assert set(body) == {"data", "meta"}  # no links, no included
    assert body["meta"] == {"page": {"total_filtered_count": total}}  # no total_count
    first = [i["id"] for i in body["data"]]
    status, body = await api.get(target, TOKENS, {"page[size]": 4, "page[number]": 1})
    assert not set(first) & {i["id"] for i in body["data"]}
    items = await _all_pages(api, estate, TOKENS, 4)
    assert len(items) == total and len({i["id"] for i in items}) == total
    assert sorted(i["id"] for i in items) == sorted(t.id for t in org.access_tokens)
    # default: sorted by name, 10 a page
    status, body = await api.get(target, TOKENS)
    assert len(body["data"]) == 10
    names = [i["attributes"]["name"] for i in items]
    assert names == sorted(names, key=str.lower)
    status, body = await api.get(target, TOKENS, {"page[number]": 99})
    assert status == 200 and body["data"] == []
    for bad in ({"page[size]": 101}, {"page[size]": 0}, {"page[number]": -1},
                {"page[size]": "ten"}, {"sort": "owner"}):
        status, body = await api.get(target, TOKENS, bad)
        assert status == 400 and isinstance(body["errors"][0], str), bad
    assert (await api.get(target, TOKENS, {"page[size]": 100}))[0] == 200


async def test_tokens_sort(api: Api, estate: Estate) -> None:
    target = estate.targets[TOKENS_AT]
    status, body = await api.get(target, TOKENS, {"page[size]": 100, "sort": "-created_at"})
    stamps = [i["attributes"]["created_at"] for i in body["data"]]
    assert stamps == sorted(stamps, reverse=True)
    status, body = await api.get(target, TOKENS, {"page[size]": 100, "sort": "expires_at"})
    expiries = [i["attributes"]["expires_at"] for i in body["data"]]
    dated = [e for e in expiries if e is not None]
    assert dated == sorted(dated) and expiries[len(dated):] == [None]  # sat-forever last


async def test_personal_and_service_tokens_in_one_list(api: Api, estate: Estate) -> None:
    org = _org(estate)
    items = await _all_pages(api, estate, TOKENS, 100)
    kinds = {i["type"] for i in items}
    assert kinds == {"personal_access_tokens", "service_access_tokens"}
    for item in items:
        t = next(t for t in org.access_tokens if t.id == item["id"])
        owner = item["relationships"]["owned_by"]["data"]
        assert owner == {"id": t.owner_id,
                         "type": "users" if t.kind == "personal" else "service_account"}
        assert item["type"] == ("personal_access_tokens" if t.kind == "personal"
                                else "service_access_tokens")
        attributes = item["attributes"]
        assert "key" not in attributes  # the secret is only in create answers
        assert set(attributes) - {"modified_at"} == {
            "created_at", "expires_at", "last_used_at", "name", "public_portion", "scopes"}
        assert attributes["scopes"] == list(t.scopes)
        for name in ("created_at", "expires_at", "last_used_at", "modified_at"):
            value = attributes.get(name)
            assert value is None or STAMP.match(value), (name, value)
    forever = next(i for i in items if i["attributes"]["name"] == "sat-forever")
    assert forever["attributes"]["expires_at"] is None
    never = next(i for i in items if i["attributes"]["name"] == "sat-never-used-old")
    assert never["attributes"]["last_used_at"] is None


async def test_modified_at_only_once_edited(api: Api, estate: Estate) -> None:
    org = _org(estate)
    items = {i["attributes"]["name"]: i["attributes"]
             for i in await _all_pages(api, estate, TOKENS, 100)}
    assert "modified_at" in items["pat-dashboards"]
    assert token(org, "pat-dashboards").modified_at is not None
    assert "modified_at" not in items["pat-long-lived"]  # absent, not null
    for t in org.access_tokens:
        assert ("modified_at" in items[t.name]) == (t.modified_at is not None)


async def test_public_portion_with_and_without_prefix(api: Api, estate: Estate) -> None:
    items = {i["attributes"]["name"]: i for i in await _all_pages(api, estate, TOKENS, 100)}
    for item in items.values():
        assert PORTION.match(item["attributes"]["public_portion"])
    stale = items["pat-stale"]["attributes"]["public_portion"]  # an April 2026 PAT
    assert len(stale) == 22 and not stale.startswith("dd")
    assert items["pat-long-lived"]["attributes"]["public_portion"].startswith("ddpat_")
    assert items["sat-forever"]["attributes"]["public_portion"].startswith("ddsat_")


async def test_filter_owned_by_takes_repeated_keys(api: Api, estate: Estate) -> None:
    org = _org(estate)
    target = estate.targets[TOKENS_AT]
    a = token(org, "pat-long-lived").owner_id
    b = token(org, "sat-never-used-old").owner_id
    status, body = await api.get(target, TOKENS, [("filter[owned_by]", a),
                                                  ("filter[owned_by]", b),
                                                  ("page[size]", 100)])
    assert status == 200
    want = {t.id for t in org.access_tokens if t.owner_id in (a, b)}
    assert {i["id"] for i in body["data"]} == want
    assert body["meta"]["page"]["total_filtered_count"] == len(want) >= 7
    status, body = await api.get(target, TOKENS, {"filter[owned_by]": b})
    assert {i["attributes"]["name"] for i in body["data"]} == {
        "sat-never-used-old", "sat-new-unused"}
    status, body = await api.get(target, TOKENS, {"filter": "PAT-OF"})
    assert {i["attributes"]["name"] for i in body["data"]} == {
        "pat-of-departed", "pat-of-stranger", "pat-of-pending"}


async def test_user_app_keys_alone_lists_own_tokens(api: Api, estate: Estate) -> None:
    org = _org(estate)
    target = estate.targets[TOKENS_AT]
    estate.revoke(target.name, "org_app_keys_read", "user_app_keys")
    assert (await api.get(target, TOKENS))[0] == 403
    estate.grant(target.name, "user_app_keys")
    status, body = await api.get(target, TOKENS, {"page[size]": 100})
    assert status == 200
    own = [t for t in org.access_tokens if t.owner_id == org.current_user_id]
    assert own and len(own) < len(org.access_tokens)
    assert {i["id"] for i in body["data"]} == {t.id for t in own}
    assert body["meta"]["page"]["total_filtered_count"] == len(own)
    other = token(org, "pat-long-lived").owner_id
    status, body = await api.get(target, TOKENS, {"filter[owned_by]": other})
    assert status == 200 and body["data"] == []
    estate.grant(target.name, "org_app_keys_read")
    status, body = await api.get(target, TOKENS, {"page[size]": 100})
    assert len(body["data"]) == len(org.access_tokens)


async def test_oauth_clients(api: Api, estate: Estate) -> None:
    org = _org(estate)
    target = estate.targets[TOKENS_AT]
    total = len(org.oauth_clients)
    items = await _all_pages(api, estate, CLIENTS, 3)
    assert sorted(i["id"] for i in items) == sorted(c.id for c in org.oauth_clients)
    status, body = await api.get(target, CLIENTS, {"page[size]": 3, "page[number]": 1})
    assert status == 200 and set(body) == {"data", "meta"}
    assert body["meta"] == {"page": {"total_count": total, "total_filtered_count": total}}
    names = [next(c.name for c in org.oauth_clients if c.id == i["id"]) for i in items]
    assert names == sorted(names, key=str.lower)  # by oauth2_client.name
    by_id = {i["id"]: i for i in items}
    stale, never = client(org, "oauth-stale"), client(org, "oauth-never")
    assert by_id[never.id]["attributes"] == {"disabled": False, "last_exercised": None,
                                             "user_count": 1}
    item = by_id[stale.id]
    assert item["relationships"]["oauth2_client"]["data"] == {"id": stale.client_id,
                                                              "type": "oauth2_clients"}
    grants = item["relationships"]["user_authorized_clients"]
    assert len(grants["data"]) == stale.user_count == 3
    assert grants["links"]["related"] == f"{CLIENTS}/{stale.id}/user_authorized_clients"
    status, body = await api.get(target, CLIENTS, {"filter[disabled]": "true"})
    disabled = {c.id for c in org.oauth_clients if c.disabled}
    assert {i["id"] for i in body["data"]} == disabled
    assert body["meta"]["page"] == {"total_count": total, "total_filtered_count": len(disabled)}
    status, body = await api.get(target, CLIENTS, {"filter[oauth2_client][name]": "oauth-"})
    assert body["meta"]["page"]["total_filtered_count"] == 4
    assert (await api.get(target, CLIENTS, {"page[size]": 101}))[0] == 400
    assert (await api.get(target, CLIENTS, {"sort": "last_exercised"}))[0] == 400


async def test_forbidden_without_any_of_the_permissions(api: Api, estate: Estate) -> None:
    target = estate.targets[TOKENS_AT]
    estate.revoke(target.name, "org_app_keys_read", "user_app_keys", "org_authorized_apps_read",
                  "manage_integrations")
    status, body = await api.get(target, TOKENS)
    assert status == 403 and body == {"errors": ["Forbidden"]}
    status, body = await api.get(target, CLIENTS)
    assert status == 403 and body["errors"][0]["title"] == "Forbidden"
    estate.grant(target.name, "manage_integrations")  # the other permission of the OR
    assert (await api.get(target, CLIENTS))[0] == 200
    estate.grant(target.name, "user_app_keys")
    assert (await api.get(target, TOKENS))[0] == 200


async def test_not_found_on_the_token_less_site(api: Api, estate: Estate) -> None:
    ap2 = [t for t in estate.targets if t.site == "ap2.datadoghq.com"]
    assert len(ap2) == 2
    for target in ap2:
        for path in (TOKENS, CLIENTS):
            status, body = await api.get(target, path)
            assert (status, body) == (404, {"errors": ["Not found"]})
        assert (await api.get(target, "/api/v2/api_keys"))[0] == 200
    estate.revoke(ap2[0].name, "org_app_keys_read")  # 404 comes before any permission check
    assert (await api.get(ap2[0], TOKENS))[0] == 404
    others = [o for o in estate.orgs if o.site != "ap2.datadoghq.com"]
    assert all(not o.missing_endpoints for o in others)


async def test_token_listing_content_type(sim: SimulatedDatadog, estate: Estate) -> None:
    target = estate.targets[TOKENS_AT]
    headers = {"DD-API-KEY": target.api_key, "DD-APPLICATION-KEY": target.app_key}
    async with aiohttp.ClientSession() as session:
        for path, ctype in ((TOKENS, "application/vnd.api+json"),
                            (CLIENTS, "application/json")):
            async with session.get(sim.base_url(target.site) + path, headers=headers) as resp:
                assert resp.status == 200 and resp.content_type == ctype


# ---- the estate: scenarios and clean filler --------------------------------------------
def _days(now: datetime, then: datetime) -> float:
    return (now - then) / timedelta(days=1)


def test_token_scenarios(estate: Estate, now: datetime) -> None:
    org = _org(estate)
    assert org.site == "datadoghq.eu"
    assert estate.targets[TOKENS_AT].permissions >= {"org_app_keys_read",
                                                     "org_authorized_apps_read"}
    users = {u.id: u for u in org.users}

    def owner(name: str) -> str:
        return users[token(org, name).owner_id].name or ""

    def lifetime(t: AccessToken) -> float:
        assert t.expires_at is not None
        return _days(t.expires_at, t.created_at)

    # TOK-001
    assert token(org, "sat-forever").expires_at is None
    assert token(org, "sat-forever").kind == "service"
    assert 29 < _days(token(org, "sat-expiring").expires_at or now, now) < 31
    # TOK-002
    assert lifetime(token(org, "pat-long-lived")) == 310
    assert lifetime(token(org, "pat-short-lived")) == 80
    # TOK-003 (the org tracks token use: most tokens were used)
    stale = token(org, "pat-stale")
    assert stale.last_used_at is not None and 120 <= _days(now, stale.last_used_at) < 121
    old = token(org, "sat-never-used-old")
    assert old.last_used_at is None and _days(now, old.created_at) > 199
    assert old.expires_at is not None and old.expires_at > now
    recent = token(org, "pat-recent")
    assert recent.last_used_at is not None and _days(now, recent.last_used_at) < 6
    new = token(org, "sat-new-unused")
    assert new.last_used_at is None and _days(now, new.created_at) < 21
    # TOK-004
    assert users[token(org, "pat-of-departed").owner_id].is_disabled
    assert token(org, "pat-of-stranger").owner_id not in users
    retired = users[token(org, "sat-of-disabled-sa").owner_id]
    assert retired.service_account and retired.is_disabled
    pending = users[token(org, "pat-of-pending").owner_id]
    assert pending.status == "Pending" and not pending.is_disabled
    # TOK-005
    assert set(token(org, "sat-user-admin").scopes) & PRIVILEGED
    assert not set(token(org, "pat-dashboards").scopes) & PRIVILEGED
    # OAUTH-001
    assert not client(org, "oauth-stale").disabled
    assert _days(now, client(org, "oauth-stale").last_exercised or now) > 99
    assert client(org, "oauth-never").last_exercised is None
    assert _days(now, client(org, "oauth-recent").last_exercised or now) < 6
    assert client(org, "oauth-disabled-stale").disabled
    # SA-002 / SA-003 counting tokens
    for name, keys, tokens in (("svc-token-only", 0, 1), ("svc-mixed-creds", 2, 1),
                               ("svc-batch-jobs", 0, 2)):
        sa = next(u for u in org.users if u.name == name)
        assert sa.service_account and not sa.is_disabled
        assert sum(k.owner_id == sa.id for k in org.app_keys) == keys
        assert sum(t.owner_id == sa.id for t in org.access_tokens) == tokens
    assert _days(now, next(u for u in org.users if u.name == "svc-token-only").created_at) > 399
    assert owner("sat-expiring") == "svc-token-only"
    assert owner("pat-long-lived") == owner("pat-stale")


def test_filler_tokens_and_clients_are_clean(estate: Estate, now: datetime) -> None:
    scenario = _org(estate)
    for org in estate.orgs:
        if org is scenario:
            continue
        users = {u.id: u for u in org.users}
        keys = {k.owner_id for k in org.app_keys}
        assert len(org.access_tokens) >= (6 if org in estate.scanned_orgs else 0)
        for t in org.access_tokens:
            assert t.expires_at is not None and t.expires_at > now
            assert _days(t.expires_at, t.created_at) < 90
            assert t.last_used_at is not None and _days(now, t.last_used_at) < 30
            assert t.last_used_at >= t.created_at
            assert set(t.scopes) <= set(EVERYDAY)
            assert t.prefixed
            u = users[t.owner_id]
            assert not u.is_disabled and u.status == "Active"
            assert u.service_account == (t.kind == "service")
            if u.service_account:  # a young account holding this token only
                assert t.owner_id not in keys and _days(now, u.created_at) < 27
        assert any(t.owner_id == org.current_user_id for t in org.access_tokens) or not (
            org.access_tokens)
        for c in org.oauth_clients:
            assert c.disabled or (c.last_exercised is not None
                                  and _days(now, c.last_exercised) < 30)
