"""The peer: the same enumeration scripted with the official `datadog-api-client` (async).

This is what a user would otherwise write: for each org, one endpoint after another,
paging with the client's `*_with_pagination` where the spec has `x-pagination` (users,
teams) and by hand elsewhere (stop at a short page), with the client's own retries on
(`enable_retry`: on 429 it sleeps X-RateLimit-Reset, at most `max_retries` times). Orgs
run concurrently, one coroutine each, on one event loop.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.ours import RunResult, peak_rss_mb
from bench.simproc import PAGE, TargetInfo


def _official(module: str, name: str) -> Any:
    """A class of the official client (imported here only: it is heavy, and untyped)."""
    return getattr(importlib.import_module(f"datadog_api_client.{module}"), name)


async def _paged(call: Callable[..., Awaitable[Any]], **kwargs: Any) -> int:
    """Loop `page[number]` by hand until a short page; return the items seen."""
    seen, number = 0, 0
    while True:
        response = await call(page_size=PAGE, page_number=number, **kwargs)
        seen += len(response.data)
        if len(response.data) < PAGE:
            return seen
        number += 1


async def enumerate_org(target: TargetInfo) -> int:
    """Read everything ddaudit reads from one org; return the number of items."""
    Configuration = _official("configuration", "Configuration")
    AsyncApiClient = _official("api_client", "AsyncApiClient")
    OrgsV1 = _official("v1.api.organizations_api", "OrganizationsApi")
    OrgsV2 = _official("v2.api.organizations_api", "OrganizationsApi")
    UsersApi = _official("v2.api.users_api", "UsersApi")
    RolesApi = _official("v2.api.roles_api", "RolesApi")
    KeyManagementApi = _official("v2.api.key_management_api", "KeyManagementApi")
    AuthNMappingsApi = _official("v2.api.authn_mappings_api", "AuthNMappingsApi")
    kinds = _official("v2.model.authn_mapping_resource_type", "AuthNMappingResourceType")
    TeamsApi = _official("v2.api.teams_api", "TeamsApi")
    OrgConnectionsApi = _official("v2.api.org_connections_api", "OrgConnectionsApi")
    OktaIntegrationApi = _official("v2.api.okta_integration_api", "OktaIntegrationApi")

    configuration = Configuration(host=target.url)
    configuration.api_key["apiKeyAuth"] = target.api_key
    configuration.api_key["appKeyAuth"] = target.app_key
    configuration.enable_retry = True
    items = 0
    async with AsyncApiClient(configuration) as client:
        managed = await OrgsV2(client).list_orgs()
        public_id = next(i.attributes.public_id for i in managed.included
                         if i.id == managed.data.relationships.current_org.data.id)
        await OrgsV1(client).get_org(public_id)
        items += 1
        async for _ in UsersApi(client).list_users_with_pagination(page_size=PAGE):
            items += 1
        roles = RolesApi(client)
        items += await _paged(roles.list_roles)
        items += len((await roles.list_permissions()).data)
        keys = KeyManagementApi(client)
        items += await _paged(keys.list_application_keys, include="owned_by")
        items += await _paged(keys.list_api_keys)
        mappings = AuthNMappingsApi(client)
        for kind in (kinds.ROLE, kinds.TEAM):
            items += await _paged(mappings.list_authn_mappings, resource_type=kind)
        async for _ in TeamsApi(client).list_teams_with_pagination(page_size=PAGE):
            items += 1
        offset = 0
        while True:
            page = await OrgConnectionsApi(client).list_org_connections(limit=1000,
                                                                        offset=offset)
            items += len(page.data)
            offset += len(page.data)
            if len(page.data) < 1000:
                break
        items += len((await OktaIntegrationApi(client).list_okta_accounts()).data)
    return items


def run_peer(targets: list[TargetInfo]) -> RunResult:
    """Enumerate every org concurrently with the official async client."""

    async def main() -> list[int | BaseException]:
        return await asyncio.gather(*(enumerate_org(t) for t in targets),
                                    return_exceptions=True)

    started = time.perf_counter()
    results = asyncio.run(main())
    wall = time.perf_counter() - started
    failures = [r for r in results if isinstance(r, BaseException)]
    note = f"{len(failures)} of {len(targets)} orgs failed" if failures else "all orgs listed"
    if failures:
        note += f" (first: {type(failures[0]).__name__}: {str(failures[0])[:120]})"
    return RunResult(wall=wall, peak_rss_mb=peak_rss_mb(), note=note,
                     rows=sum(r for r in results if isinstance(r, int)))
