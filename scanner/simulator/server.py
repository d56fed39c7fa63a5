"""aiohttp fake of the Datadog API: one loopback listener per site, many orgs per site.

Besides the GET listings (`ROUTES`) it serves the writes remediation uses
(`WRITE_ROUTES`, handlers_writes.py), which change the estate so later reads show it.
Every request, answered or not, lands in `SimulatedDatadog.request_log` as a
`RequestRecord(method, path, status, key_pair)`; `key_pair` is the name of the key pair
that sent it (a scan target's name, or `<name>-write` for a pair from
`Estate.add_write_pair`), never a key. `sim.writes` is the part that was not a GET, so
a test can prove a dry run sent none.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from aiohttp import web

from scanner.simulator import handlers as h
from scanner.simulator import handlers_events as he
from scanner.simulator import handlers_keys as hk
from scanner.simulator import handlers_tokens as ht
from scanner.simulator import handlers_writes as hw
from scanner.simulator.faults import FaultInjector
from scanner.simulator.limits import LimitCounters, RateLimiter, RateLimits
from scanner.simulator.model import Estate, Org, SimTarget
from scanner.simulator.query import BadRequest
from scanner.simulator.thread import SimulatorThread
from scanner.timeutil import utcnow

Handler = Callable[[h.Ctx], h.Answer]
# Awaited with (target, request) for every authenticated request, before its limits.
Hook = Callable[[SimTarget, web.Request], Awaitable[None]]
HTML_429 = ("<html><head><title>429 Too Many Requests</title></head><body><center>"
            "<h1>429 Too Many Requests</h1></center></body></html>")


@dataclass(frozen=True)
class Route:
    """A path, its handler and the permissions (any one of them) it requires.

    `content_type` is that of its answers; `jsonapi_errors`: its 400 and 403 bodies are
    JSON:API error objects (`JSONAPIErrorResponse`), not strings (`APIErrorResponse`).
    `method` is GET but for a write; `listing` is the listing path a write goes with:
    a site not offering that listing (`Org.missing_endpoints`) answers it 404 too.
    """

    path: str
    handler: Handler
    permissions: tuple[str, ...] = ()
    rate_bucket: str = "default"
    content_type: str = "application/json"
    jsonapi_errors: bool = False
    method: str = "GET"
    listing: str | None = None

    @property
    def offered_as(self) -> str:
        """The path `Org.missing_endpoints` names when the org's site lacks this route."""
        return self.listing or self.path

    def error(self, status: int, message: str) -> dict[str, Any]:
        """The body of a 400 or 403 answer of this route."""
        if not self.jsonapi_errors:
            return {"errors": [message]}
        title = {400: "Bad Request", 403: "Forbidden"}.get(status, "Error")
        return {"errors": [{"status": str(status), "title": title, "detail": message}]}


# x-permission of each operation in datadog-openapi-subset.yaml, and for the access tokens
# and OAuth clients in datadog-openapi-tokens.yaml (empty: OPEN / none).
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
    # Recorded as application/vnd.api+json (2026-04 cassette).
    Route(ht.TOKENS_PATH, ht.list_access_tokens,
          ("user_app_keys", "org_app_keys_read"), "access_tokens", "application/vnd.api+json"),
    Route(ht.OAUTH_CLIENTS_PATH, ht.list_oauth_clients,
          ("org_authorized_apps_read", "manage_integrations"), "oauth", jsonapi_errors=True),
)
# The writes remediation uses, with their x-permission (any one of them); a write spends
# the rate-limit bucket of the listing it changes and goes through the same faults.
_SA = "/api/v2/service_accounts/{service_account_id}"
WRITE_ROUTES: tuple[Route, ...] = (
    Route("/api/v2/application_keys/{app_key_id}", hw.delete_app_key,
          ("org_app_keys_write",), "keys", method="DELETE"),
    Route(f"{_SA}/application_keys/{{app_key_id}}", hw.delete_sa_app_key,
          ("service_account_write",), "keys", method="DELETE"),
    Route("/api/v2/api_keys/{api_key_id}", hw.delete_api_key,
          ("api_keys_delete",), "keys", method="DELETE"),
    Route(f"{ht.TOKENS_PATH}/{{token_id}}", hw.revoke_personal_token,
          ("org_app_keys_write", "user_app_keys"), "access_tokens", method="DELETE",
          listing=ht.TOKENS_PATH),
    Route(f"{_SA}/access_tokens/{{token_id}}", hw.revoke_service_token,
          ("service_account_write", "org_app_keys_write"), "access_tokens", method="DELETE",
          listing=ht.TOKENS_PATH),
    Route("/api/v2/authn_mappings/{authn_mapping_id}", hw.delete_mapping,
          ("user_access_manage",), "authn_mappings", method="DELETE"),
    Route("/api/v2/users/{user_id}", hw.disable_user,
          ("user_access_manage",), "users", method="DELETE"),
    Route("/api/v2/users/{user_id}", hw.update_user,
          ("user_access_manage",), "users", method="PATCH"),
)
# The name of the key pair that sent the request being answered (set by its endpoint,
# read by the middleware in the same task, for the request log).
_KEY_PAIR: ContextVar[str | None] = ContextVar("ddaudit_sim_key_pair", default=None)


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator answered it; `key_pair` None: no pair matched."""

    method: str
    path: str
    status: int
    key_pair: str | None


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, separators=(",", ":")),
        content_type="application/json",
        headers=headers,
    )


def _under_report(body: dict[str, Any], shortfall: int) -> None:
    """Lower the totals of `meta.page` by `shortfall`, as a stale count would."""
    page = body.get("meta", {}).get("page")
    if isinstance(page, dict):
        for name in ("total_count", "total_filtered_count"):
            if isinstance(page.get(name), int):
                page[name] = max(0, page[name] - shortfall)


def _sizes(org: Org) -> tuple[int, ...]:
    return (len(org.users), len(org.roles), len(org.app_keys), len(org.api_keys),
            len(org.mappings), len(org.teams), len(org.connections), len(org.okta_accounts),
            len(org.access_tokens), len(org.oauth_clients))


class SimulatedDatadog:
    """The fake API for every site of `estate` (`async with SimulatedDatadog(estate) as sim`).

    `limits` sets each bucket's fixed-window limit (see `limits.py`); `latency` delays
    every authenticated request by that many seconds (half on the way in, half on the way
    out), `org_latency` overrides it per org public id; `hooks` run before each request;
    `faults` (a FaultInjector) may answer a request in its own, broken way (faults.py).
    `sites` serves only those sites of the estate (one process per site, say). `cache`
    keeps each answer's body for the next identical request while the org's populations
    keep their sizes (for benchmarks: rendering is then no longer what is measured).
    """

    def __init__(
        self,
        estate: Estate,
        *,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        now: datetime | None = None,
        limits: RateLimits | None = None,
        latency: float = 0.0,
        org_latency: Mapping[str, float] | None = None,
        sites: Sequence[str] | None = None,
        cache: bool = False,
    ) -> None:
        self.estate = estate
        self.host = host
        self.now = now or estate.now or utcnow()
        self.limiter = RateLimiter(limits)
        self.latency = latency
        self.org_latency = dict(org_latency or {})
        self.hooks: list[Hook] = []
        self.faults: FaultInjector | None = None
        self.sites = list(sites) if sites is not None else estate.sites
        self.cache = cache
        self._cache: dict[tuple[object, ...], tuple[int, str]] = {}
        self.rendered = 0  # answers built rather than taken from the cache
        self.request_count = 0
        self.requests: Counter[tuple[str, str]] = Counter()
        self.request_log: list[RequestRecord] = []
        self.events: list[he.PostedEvent] = []  # accepted POST /api/v1/events, in order
        self._ports = dict(ports or {})
        self._runners: dict[str, web.AppRunner] = {}
        self._urls: dict[str, str] = {}

    @property
    def counters(self) -> LimitCounters:
        """Requests, 429s and window peaks per (org, bucket)."""
        return self.limiter.counters

    def reset_counters(self) -> None:
        """Zero every counter and close every rate-limit window."""
        self.limiter.reset()
        self.requests.clear()
        self.request_log.clear()
        self.request_count = 0

    @property
    def writes(self) -> list[RequestRecord]:
        """The logged requests that were not GETs (HEAD included among the reads)."""
        return [r for r in self.request_log if r.method not in ("GET", "HEAD")]

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Open one listener per site (port 0 = a free port)."""
        for site in self.sites:
            app = web.Application(middlewares=[self._middleware])
            for route in ROUTES:
                app.router.add_get(route.path, self._endpoint(route, site))
            for route in WRITE_ROUTES:
                app.router.add_route(route.method, route.path, self._endpoint(route, site))
            app.router.add_post(he.EVENTS_PATH, he.events_handler(self.estate, self.events, site))
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
        for t in self.estate.key_pairs:
            if t.site == site and t.api_key == api and t.app_key == app:
                return t
        return None

    def _endpoint(
        self, route: Route, site: str
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            if route.path == "/api/v1/validate":
                api = request.headers.get("DD-API-KEY")
                if any(t.site == site and t.api_key == api for t in self.estate.key_pairs):
                    return _json(200, {"valid": True})
                return _json(403, {"errors": ["API key required"]})
            target = self._target(request, site)
            if target is None:
                return _json(403, {"errors": ["Forbidden"]})
            _KEY_PAIR.set(target.name)
            payload = await request.read() if route.method != "GET" else b""
            self.requests[(target.org_public_id, request.path)] += 1
            for hook in list(self.hooks):
                await hook(target, request)
            delay = self.org_latency.get(target.org_public_id, self.latency) / 2
            if delay > 0:
                await asyncio.sleep(delay)
            response: web.StreamResponse
            if self.faults is not None:
                response = await self.faults.apply(
                    target, request, route.rate_bucket,
                    lambda req: self._answer(route, target, req, payload))
            else:
                response = self._answer(route, target, request, payload)
            if delay > 0:
                await asyncio.sleep(delay)
            return response

        return handle

    def _answer(self, route: Route, target: SimTarget, request: web.Request,
                payload: bytes = b"") -> web.Response:
        verdict = self.limiter.admit(target.org_public_id, route.rate_bucket)
        headers = verdict.headers
        if verdict.html:
            return web.Response(status=429, text=HTML_429, content_type="text/html",
                                headers=headers)
        if verdict.limited:
            return _json(429, {"errors": ["Too many requests"]}, headers)
        org = self.estate.org(target.org_public_id)
        if route.offered_as in org.missing_endpoints:  # the org's site does not offer it
            return _json(404, {"errors": ["Not found"]}, headers)
        if route.permissions and not set(route.permissions) & target.permissions:
            return _json(403, route.error(403, "Forbidden"), headers)
        if route.method != "GET":
            return self._write(route, org, target, request, payload, headers)
        query = tuple(sorted(i for i in request.query.items() if i != ("page[number]", "0")))
        key = (org.public_id, request.path, query, _sizes(org), target.permissions)
        cached = self._cache.get(key) if self.cache else None
        if cached is None:
            self.rendered += 1
            ctx = h.Ctx(self.estate, org, target, request.query, request.match_info, self.now)
            try:
                status, body = route.handler(ctx)
            except BadRequest as exc:
                status, body = 400, route.error(400, str(exc))
            if org.total_shortfall:
                _under_report(body, org.total_shortfall)
            cached = (status, json.dumps(body, separators=(",", ":")))
            if self.cache:
                self._cache[key] = cached
        return web.Response(status=cached[0], text=cached[1], content_type=route.content_type,
                            headers=headers)

    def _write(self, route: Route, org: Org, target: SimTarget, request: web.Request,
               payload: bytes, headers: dict[str, str]) -> web.Response:
        """Run a write; a success empties the answer cache (a disable keeps the sizes)."""
        ctx = h.Ctx(self.estate, org, target, request.query, request.match_info, self.now,
                    payload)
        try:
            status, answer = route.handler(ctx)
        except BadRequest as exc:
            status, answer = 400, route.error(400, str(exc))
        if status < 300:
            self._cache.clear()
        if status == 204:
            return web.Response(status=204, headers=headers)
        return _json(status, answer, headers)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.request_count += 1
        _KEY_PAIR.set(None)
        response: web.StreamResponse
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            response = _json(404, {"errors": ["Not found"]})
        except web.HTTPMethodNotAllowed:
            response = _json(405, {"errors": ["Method not allowed"]})
        self.request_log.append(
            RequestRecord(request.method, request.path, response.status, _KEY_PAIR.get()))
        return response
