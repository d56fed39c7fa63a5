"""aiohttp fake of the Datadog API: one loopback listener per site, many orgs per site."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from aiohttp import web

from scanner.simulator import handlers as h
from scanner.simulator import handlers_keys as hk
from scanner.simulator.model import Estate, SimTarget
from scanner.simulator.paging import BadRequest
from scanner.timeutil import utcnow

Handler = Callable[[h.Ctx], h.Answer]


@dataclass(frozen=True)
class Route:
    """A GET path, its handler and the permissions (any one of them) it requires."""

    path: str
    handler: Handler
    permissions: tuple[str, ...] = ()
    rate_bucket: str = "default"


# x-permission of each operation in datadog-openapi-subset.yaml (empty: OPEN / none).
ROUTES: tuple[Route, ...] = (
    Route("/api/v1/validate", h.validate),
    Route("/api/v1/org", h.list_orgs_v1, ("org_management",), "orgs"),
    Route("/api/v1/org/{public_id}", h.get_org_v1, (), "orgs"),
    Route("/api/v2/org", h.list_orgs_v2, ("org_management", "org_connections_write"), "orgs"),
    Route("/api/v2/current_user", h.current_user, (), "users"),
    Route("/api/v2/users", h.list_users, ("user_access_read",), "users"),
    Route("/api/v2/roles", h.list_roles, ("user_access_read",), "roles"),
    Route("/api/v2/permissions", h.list_permissions, ("user_access_read",), "roles"),
    Route("/api/v2/application_keys", hk.list_app_keys, ("org_app_keys_read",), "keys"),
    Route(
        "/api/v2/service_accounts/{service_account_id}/application_keys",
        hk.list_sa_app_keys,
        ("service_account_write",),
        "keys",
    ),
    Route("/api/v2/api_keys", hk.list_api_keys, ("api_keys_read",), "keys"),
    Route("/api/v2/authn_mappings", h.list_mappings, ("user_access_read",), "authn_mappings"),
    Route("/api/v2/team", h.list_teams, ("teams_read",), "teams"),
    Route(
        "/api/v2/org_connections", h.list_connections, ("org_connections_read",), "org_connections"
    ),
    Route("/api/v2/integrations/okta/accounts", h.list_okta, ("integrations_read",), "okta"),
)


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, separators=(",", ":")),
        content_type="application/json",
        headers=headers,
    )


class SimulatedDatadog:
    """The fake API for every site of `estate` (`async with SimulatedDatadog(estate) as sim`)."""

    def __init__(
        self,
        estate: Estate,
        *,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        now: datetime | None = None,
        rate_limit: int = 6000,
        rate_period: int = 60,
    ) -> None:
        self.estate = estate
        self.host = host
        self.now = now or estate.now or utcnow()
        self.rate_limit, self.rate_period = rate_limit, rate_period
        self.request_count = 0
        self.requests: Counter[tuple[str, str]] = Counter()
        self._ports = dict(ports or {})
        self._runners: dict[str, web.AppRunner] = {}
        self._urls: dict[str, str] = {}
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Open one listener per site (port 0 = a free port)."""
        for site in self.estate.sites:
            app = web.Application(middlewares=[self._middleware])
            for route in ROUTES:
                app.router.add_get(route.path, self._endpoint(route, site))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            tcp = web.TCPSite(runner, self.host, self._ports.get(site, 0))
            await tcp.start()
            port = runner.addresses[0][1]
            self._runners[site] = runner
            self._urls[site] = f"http://{self.host}:{port}"

    async def stop(self) -> None:
        """Close every listener."""
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> SimulatedDatadog:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def base_url(self, site: str) -> str:
        """The simulated API base URL of `site`, e.g. `http://127.0.0.1:40123`."""
        return self._urls[site]

    @property
    def urls(self) -> dict[str, str]:
        """Site -> base URL."""
        return dict(self._urls)

    @classmethod
    def start_in_thread(cls, estate: Estate, **kwargs: Any) -> SimulatorThread:
        """Serve from a background thread (for callers that run their own `asyncio.run`)."""
        return SimulatorThread(cls(estate, **kwargs))

    # ---- request handling ------------------------------------------------------------
    def _target(self, request: web.Request, site: str) -> SimTarget | None:
        api = request.headers.get("DD-API-KEY")
        app = request.headers.get("DD-APPLICATION-KEY")
        for t in self.estate.targets:
            if t.site == site and t.api_key == api and t.app_key == app:
                return t
        return None

    def _rate_headers(self, org: str, bucket: str) -> tuple[dict[str, str], bool]:
        now = time.monotonic()
        start, used = self._windows.get((org, bucket), (now, 0))
        if now - start >= self.rate_period:
            start, used = now, 0
        used += 1
        self._windows[(org, bucket)] = (start, used)
        reset = max(1, int(self.rate_period - (now - start)))
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Period": str(self.rate_period),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Name": bucket,
        }, used > self.rate_limit

    def _endpoint(
        self, route: Route, site: str
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            if route.path == "/api/v1/validate":
                api = request.headers.get("DD-API-KEY")
                if any(t.site == site and t.api_key == api for t in self.estate.targets):
                    return _json(200, {"valid": True})
                return _json(403, {"errors": ["API key required"]})
            target = self._target(request, site)
            if target is None:
                return _json(403, {"errors": ["Forbidden"]})
            self.requests[(target.org_public_id, request.path)] += 1
            headers, limited = self._rate_headers(target.org_public_id, route.rate_bucket)
            if limited:
                return _json(429, {"errors": ["Too many requests"]}, headers)
            if route.permissions and not set(route.permissions) & target.permissions:
                return _json(403, {"errors": ["Forbidden"]}, headers)
            ctx = h.Ctx(
                self.estate,
                self.estate.org(target.org_public_id),
                target,
                request.query,
                request.match_info,
                self.now,
            )
            try:
                status, body = route.handler(ctx)
            except BadRequest as exc:
                return _json(400, {"errors": [str(exc)]}, headers)
            return _json(status, body, headers)

        return handle

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.request_count += 1
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _json(404, {"errors": ["Not found"]})
        except web.HTTPMethodNotAllowed:
            return _json(405, {"errors": ["Method not allowed"]})


class SimulatorThread:
    """A SimulatedDatadog running on its own event loop in a daemon thread."""

    def __init__(self, sim: SimulatedDatadog) -> None:
        self.sim = sim
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ddaudit-simulator", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.sim.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.sim.stop())
        self._loop.close()

    @property
    def estate(self) -> Estate:
        """The estate being served."""
        return self.sim.estate

    @property
    def urls(self) -> dict[str, str]:
        """Site -> base URL."""
        return self.sim.urls

    def base_url(self, site: str) -> str:
        """The base URL of `site`."""
        return self.sim.base_url(site)

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)

    def __enter__(self) -> SimulatorThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
