"""The benchmark's simulated estate, served from its own process so it weighs nothing here."""

from __future__ import annotations

import asyncio
import math
import multiprocessing
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from scanner.paging import LARGEST_PAGE
from scanner.simulator import EstateSpec, RateLimits, SimulatedDatadog, generate_estate
from scanner.simulator.model import Estate, Org
from scanner.simulator.server import ROUTES

PAGE = 100  # page[size] of every paged listing but the users'
USERS_PAGE = LARGEST_PAGE["/api/v2/users"]  # the users listing serves up to 1000 a page
CONNECTIONS_PAGE = 1000  # org connections: limit


@dataclass(frozen=True)
class TargetInfo:
    """What a client needs to scan one simulated org."""

    name: str
    site: str
    org: str  # public id
    api_key: str
    app_key: str
    url: str


@dataclass(frozen=True)
class BucketNeed:
    """The fewest requests one org must send to a bucket, and how many must go in sequence."""

    requests: int
    chain: int


@dataclass
class EstateInfo:
    """The served estate as the benchmark sees it."""

    targets: list[TargetInfo]
    needs: dict[str, dict[str, BucketNeed]]  # org public id -> bucket -> need
    sizes: dict[str, int] = field(default_factory=dict)


def bucket_of(path: str) -> str:
    """The simulator's rate-limit bucket of a route path."""
    return next(r.rate_bucket for r in ROUTES if r.path == path)


def _pages(items: int, size: int = PAGE) -> int:
    return max(1, math.ceil(items / size))


def org_needs(org: Org, *, org_wide_keys: bool) -> dict[str, BucketNeed]:
    """The minimal requests per bucket to enumerate `org` (see bench/collect.py)."""
    needs: dict[str, list[tuple[int, int]]] = {}

    def add(path: str, requests: int, chain: int) -> None:
        needs.setdefault(bucket_of(path), []).append((requests, chain))

    def listing(path: str, items: int, size: int = PAGE) -> None:
        pages = _pages(items, size)
        add(path, pages, 2 if pages > 1 else 1)  # page 0 must come back before the rest

    # The key-pair check: GET /api/v1/validate (outside every bucket here, and not counted)
    # then the application key's, which also names the org.
    add("/api/v2/current_user", 1, 1)
    add("/api/v1/org/{public_id}", 2, 2)  # /api/v2/org names the org, then its settings
    listing("/api/v2/users", len(org.users), USERS_PAGE)
    listing("/api/v2/roles", len(org.roles))
    add("/api/v2/permissions", 1, 1)
    listing("/api/v2/api_keys", len(org.api_keys))
    users_chain = 2 if _pages(len(org.users), USERS_PAGE) > 1 else 1
    if org_wide_keys:
        listing("/api/v2/application_keys", len(org.app_keys))
    else:
        add("/api/v2/application_keys", 1, 1)  # the 403 that says: fall back
        accounts = [u.id for u in org.users if u.service_account]
        per = [_pages(sum(k.owner_id == a for k in org.app_keys)) for a in accounts]
        probe = 1 if len(per) > 1 else 0  # one account is asked first, then the rest
        add("/api/v2/service_accounts/{service_account_id}/application_keys", sum(per),
            users_chain + probe + (2 if any(p > 1 for p in per) else 1))
    for kind in ("role", "team"):
        listing("/api/v2/authn_mappings", sum(m.resource_type == kind for m in org.mappings))
    listing("/api/v2/team", len(org.teams))
    listing("/api/v2/org_connections", len(org.connections), CONNECTIONS_PAGE)
    add("/api/v2/integrations/okta/accounts", 1, 1)
    for path, items in (("/api/v2/personal_access_tokens", len(org.access_tokens)),
                        ("/api/v2/org_authorized_clients", len(org.oauth_clients))):
        if path not in org.missing_endpoints:  # a site without them answers one 404
            listing(path, items)
    return {b: BucketNeed(sum(r for r, _ in parts), max(c for _, c in parts))
            for b, parts in needs.items()}


def estate_info(estate: Estate, urls: dict[str, str]) -> EstateInfo:
    """Targets, per-bucket needs and sizes of the served part (`urls`' sites) of the estate."""
    served = [t for t in estate.targets if t.site in urls]
    targets = [TargetInfo(t.name, t.site, t.org_public_id, t.api_key, t.app_key, urls[t.site])
               for t in served]
    needs = {}
    for t in served:
        org = estate.org(t.org_public_id)
        needs[t.org_public_id] = org_needs(org, org_wide_keys="org_app_keys_read" in t.permissions)
    orgs = [estate.org(t.org_public_id) for t in served]
    sizes = {
        "orgs": len(orgs),
        "users": sum(len(o.users) for o in orgs),
        "service_accounts": sum(u.service_account for o in orgs for u in o.users),
        "application_keys": sum(len(o.app_keys) for o in orgs),
        "api_keys": sum(len(o.api_keys) for o in orgs),
    }
    return EstateInfo(targets, needs, sizes)


def _serve(conn: Connection, spec: EstateSpec, site: str, now: datetime, limits: RateLimits,
           latency: float) -> None:
    async def main() -> None:
        estate = generate_estate(spec, now=now)  # seeded: every process builds the same
        async with SimulatedDatadog(estate, now=now, limits=limits, latency=latency,
                                    sites=[site], cache=True) as sim:
            conn.send(("ready", estate_info(estate, sim.urls)))
            loop = asyncio.get_running_loop()
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                if command == "counters":
                    conn.send(sim.counters.as_dict())
                elif command == "reset":
                    sim.limiter.limits = limits
                    sim.reset_counters()
                    sim.rendered = 0
                    conn.send("ok")
                elif command == "unlimited":
                    sim.limiter.limits = RateLimits.uniform(10**9, 1)
                    conn.send("ok")
                elif command == "rendered":
                    conn.send(sim.rendered)
                else:
                    conn.send("bye")
                    return

    asyncio.run(main())


class SimulatorProcess:
    """`with SimulatorProcess(spec, ...) as sim:` serves each site from its own process.

    The sites of a real estate are separate services; one process each also keeps the
    simulator's own CPU from being what the benchmark measures.
    """

    def __init__(self, spec: EstateSpec, *, now: datetime, limits: RateLimits,
                 latency: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        for site in spec.sites:
            conn, child = ctx.Pipe()
            process = ctx.Process(target=_serve, args=(child, spec, site, now, limits, latency),
                                  name=f"ddaudit-bench-sim-{site}", daemon=True)
            process.start()
            self._conns.append(conn)
            self._processes.append(process)
        self.info = EstateInfo([], {}, {})
        for conn in self._conns:
            if not conn.poll(600):
                raise RuntimeError("the simulator did not start")
            tag, part = conn.recv()
            assert tag == "ready"
            self.info.targets += part.targets
            self.info.needs.update(part.needs)
            for name, count in part.sizes.items():
                self.info.sizes[name] = self.info.sizes.get(name, 0) + count

    def counters(self) -> dict[str, dict[str, int]]:
        """The simulators' counters, merged (see scanner.simulator.limits.LimitCounters)."""
        merged: dict[str, dict[str, int]] = {}
        for part in self._call("counters"):
            for name, values in part.items():
                merged.setdefault(name, {}).update(values)
        return merged

    def reset(self) -> None:
        """Restore the limits, zero the counters and close every rate-limit window."""
        self._call("reset")

    def unlimited(self) -> None:
        """Lift every limit (for a warm-up pass that fills the answer cache)."""
        self._call("unlimited")

    def rendered(self) -> int:
        """Answers built since the last reset rather than served from the cache."""
        return sum(self._call("rendered"))

    def _call(self, command: str) -> list[Any]:
        for conn in self._conns:
            conn.send(command)
        return [conn.recv() for conn in self._conns]

    def stop(self) -> None:
        """Stop the child processes."""
        try:
            self._call("stop")
        except (BrokenPipeError, EOFError, OSError):
            pass
        for process in self._processes:
            process.join(10)

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
