"""Collectors, one module per Datadog API family, and the per-target collection plan."""

from __future__ import annotations

import asyncio
import logging

from scanner.collect.base import Coverage, Family, TargetContext, guarded
from scanner.collect.connections import collect_okta_accounts, collect_org_connections
from scanner.collect.identity import check_key_pair
from scanner.collect.keys import collect_api_keys, collect_application_keys
from scanner.collect.mappings import collect_authn_mappings, collect_teams
from scanner.collect.orgs import collect_orgs
from scanner.collect.roles import collect_permissions, collect_roles
from scanner.collect.users import collect_users
from scanner.store.schema import ENDPOINTS

log = logging.getLogger(__name__)

# Endpoint name (docs/outputs.md) -> collector; `orgs` runs first since it names the org.
FAMILIES: dict[str, Family] = {
    "users": collect_users,
    "roles": collect_roles,
    "permissions": collect_permissions,
    "application_keys": collect_application_keys,
    "api_keys": collect_api_keys,
    "authn_mappings": collect_authn_mappings,
    "teams": collect_teams,
    "org_connections": collect_org_connections,
    "okta_accounts": collect_okta_accounts,
}


async def collect_target(ctx: TargetContext) -> list[Coverage]:
    """Collect every API family of one target; return one coverage record per endpoint.

    Each family is guarded on its own (see `guarded`): one that fails, expectedly or not,
    costs its endpoint only. A key pair the site refuses outright (see `check_key_pair`)
    is named as such on every endpoint, and nothing more is asked.
    """
    refused = await check_key_pair(ctx)
    if refused is not None:
        refused = ctx.client.scrub(refused)
        # One line says it all: no warning per endpoint repeats it.
        log.warning("target %s: %s; nothing else was requested", ctx.target.name, refused)
        return [Coverage(e, "forbidden", 0, None, refused) for e in ENDPOINTS]
    results = [await guarded("orgs", collect_orgs, ctx)]
    users: asyncio.Future[Coverage] = asyncio.get_running_loop().create_future()
    ctx.users_coverage = users

    async def run(endpoint: str, family: Family) -> Coverage:
        coverage: Coverage | None = None
        try:
            coverage = await guarded(endpoint, family, ctx)
            return coverage
        finally:
            # The application-key fallback waits for this, however `users` ended.
            if endpoint == "users" and not users.done():
                users.set_result(coverage or Coverage("users", "failed", 0, None,
                                                      "the user listing did not finish"))

    results += await asyncio.gather(*(run(name, fam) for name, fam in FAMILIES.items()))
    return results


__all__ = ["FAMILIES", "Coverage", "TargetContext", "collect_target"]
