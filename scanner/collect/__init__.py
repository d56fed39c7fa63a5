"""Collectors, one module per Datadog API family, their registry and the per-target scheduler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping

from scanner.collect.base import Coverage, Done, Family, ScannedOrg, TargetContext, guarded
from scanner.collect.connections import OKTA_ACCOUNTS, ORG_CONNECTIONS
from scanner.collect.identity import check_key_pair
from scanner.collect.keys import API_KEYS, APPLICATION_KEYS
from scanner.collect.mappings import AUTHN_MAPPINGS, TEAMS
from scanner.collect.orgs import ORGS
from scanner.collect.roles import PERMISSIONS, ROLES
from scanner.collect.tokens import ACCESS_TOKENS, OAUTH_CLIENTS
from scanner.collect.users import USERS
from scanner.store.schema import ENDPOINTS

log = logging.getLogger(__name__)


def _register(*families: Family) -> dict[str, Family]:
    registry = {f.endpoint: f for f in families}
    if list(registry) != list(ENDPOINTS):
        raise RuntimeError("the collector registry must list exactly schema.ENDPOINTS, in "
                           f"that order: {list(registry)} != {list(ENDPOINTS)}")
    for family in families:
        unknown = [n for n in family.needs if n not in registry]
        if unknown:
            raise RuntimeError(f"family {family.endpoint} needs unknown {unknown}")
    return registry


# Every API family, one line each, in coverage order (schema.ENDPOINTS).
FAMILIES: Mapping[str, Family] = _register(
    ORGS, USERS, ROLES, PERMISSIONS, APPLICATION_KEYS, API_KEYS, AUTHN_MAPPINGS, TEAMS,
    ORG_CONNECTIONS, OKTA_ACCOUNTS, ACCESS_TOKENS, OAUTH_CLIENTS,
)


async def collect_target(ctx: TargetContext, endpoints: Collection[str] | None = None,
                         known: Mapping[str, Done] | None = None) -> list[Coverage]:
    """Collect `endpoints` (default: all) of one target; one coverage record each.

    Each family starts as soon as the families it needs are done, whether collected now
    or `known` (restored from a stored scan, when a resume collects only some). Each is
    guarded on its own (see `guarded`): one that fails, expectedly or not, costs its
    endpoint only, and what needs it is given its failed Done. A full collection starts
    with the key-pair check: a pair the site refuses outright (see `check_key_pair`) is
    named as such on every endpoint, and nothing more is asked.
    """
    wanted = [e for e in FAMILIES if endpoints is None or e in endpoints]
    if "orgs" in wanted:
        refused = await check_key_pair(ctx.client, ctx.target.site)
        if refused is not None:
            refused = ctx.client.scrub(refused)
            # One line says it all: no warning per endpoint repeats it.
            log.warning("target %s: %s; nothing else was requested", ctx.target.name, refused)
            return [Coverage(e, "forbidden", 0, None, refused) for e in wanted]
    loop = asyncio.get_running_loop()
    running: dict[str, asyncio.Future[Done]] = {e: loop.create_future() for e in wanted}
    restored = dict(known or {})
    missing = {n for e in wanted for n in FAMILIES[e].needs} - set(running) - set(restored)
    if missing:
        raise ValueError(f"collecting {wanted} needs {sorted(missing)}, neither collected "
                         "nor known")
    if "orgs" in restored and isinstance(restored["orgs"].value, ScannedOrg):
        ctx.identify(restored["orgs"].value)

    async def run(family: Family) -> Coverage:
        done = running[family.endpoint]
        try:
            inputs = {n: (await running[n]) if n in running else restored[n]
                      for n in family.needs}
            result = await guarded(family, ctx, inputs)
            done.set_result(result)
            return result.coverage
        finally:
            if not done.done():  # cancelled, or a fatal error: nothing may wait forever
                done.cancel()

    return list(await asyncio.gather(*(run(FAMILIES[e]) for e in wanted)))


__all__ = ["FAMILIES", "Coverage", "Done", "Family", "ScannedOrg", "TargetContext",
           "collect_target"]
