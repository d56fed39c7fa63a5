"""Fault injection for the simulator: seeded, scoped HTTP failures for hardening tests.

A `Fault` names what goes wrong (its `kind`), where (an org public id, a site, an
fnmatch pattern on the request path, a page number) and how often (the first `times`
matching requests, each with `probability`, drawn from an RNG seeded by `seed`). A
`FaultInjector` holding faults is set as `SimulatedDatadog.faults`; the server then hands
it every authenticated request together with a way to render the normal answer, and the
first fault that fires decides what the client sees instead. A site that is down is not
a fault of the server: leave it out of `SimulatedDatadog(sites=...)` and point its URL at
`closed_port_url()`.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from aiohttp import web

from scanner.simulator.model import SimTarget

# kind -> what the client receives when the fault fires
KINDS: dict[str, str] = {
    "429_json": "HTTP 429, JSON body, X-RateLimit-Reset 0",
    "429_html": "HTTP 429, an edge proxy's HTML page, no rate-limit headers",
    "status": "HTTP `status` (500, 502, 503, 504), JSON or HTML body",
    "timeout": "the answer only after `delay` seconds (past the client's timeout)",
    "reset": "HTTP 200 headers and half the body, then the connection is aborted",
    "truncate": "HTTP 200 whose JSON body is cut in half (Content-Length agrees)",
    "malformed": "HTTP 200 whose body is not JSON",
    "content_type": "HTTP 200 text/html (a login page) instead of JSON",
    "loop": "every page[number] answered with page 0, without totals (a pagination loop)",
    "total_drift": "pages after the first report a total larger by `delta`",
}
Render = Callable[[web.Request], web.Response]
_HTML_429 = ("<html><head><title>429 Too Many Requests</title></head><body><center>"
             "<h1>429 Too Many Requests</h1></center></body></html>")
_LOGIN_PAGE = "<!doctype html><html><body><form action=/login>Sign in</form></body></html>"


@dataclass(frozen=True)
class Fault:
    """One kind of failure, where it applies and how often (see KINDS for the kinds)."""

    kind: str
    org: str | None = None  # org public id; None: every org
    site: str | None = None  # None: every site
    path: str = "*"  # fnmatch pattern on the request path
    page: int | None = None  # only requests for this page[number]; None: any
    times: int | None = None  # fire on the first N matching requests; None: every one
    probability: float = 1.0  # chance that a matching request fires (seeded)
    seed: int = 0
    status: int = 503  # kind "status"
    delay: float = 2.0  # kind "timeout"
    delta: int = 7  # kind "total_drift"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")

    @property
    def transient(self) -> bool:
        """Whether the fault stops by itself (a bounded number of firings)."""
        return self.times is not None


class FaultInjector:
    """Applies `faults` to the simulator's requests, counting what each one did."""

    def __init__(self, faults: Sequence[Fault]) -> None:
        self.faults = list(faults)
        self._rngs = [random.Random(f.seed) for f in self.faults]
        self.matched = [0] * len(self.faults)
        self.fired = [0] * len(self.faults)

    def _fires(self, index: int, target: SimTarget, request: web.Request) -> bool:
        fault = self.faults[index]
        if fault.org is not None and fault.org != target.org_public_id:
            return False
        if fault.site is not None and fault.site != target.site:
            return False
        if not fnmatchcase(request.path, fault.path):
            return False
        if fault.page is not None and request.query.get("page[number]", "0") != str(fault.page):
            return False
        if fault.times is not None and self.fired[index] >= fault.times:
            return False
        self.matched[index] += 1
        if self._rngs[index].random() >= fault.probability:
            return False
        self.fired[index] += 1
        return True

    async def apply(self, target: SimTarget, request: web.Request, bucket: str,
                    render: Render) -> web.StreamResponse:
        """The answer to `request`: a fault's, or `render(request)` when none fires."""
        for index, fault in enumerate(self.faults):
            if self._fires(index, target, request):
                return await _inject(fault, request, bucket, render)
        return render(request)


async def _inject(fault: Fault, request: web.Request, bucket: str,
                  render: Render) -> web.StreamResponse:
    kind = fault.kind
    if kind == "429_json":
        headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Period": "10",
                   "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0",
                   "X-RateLimit-Name": bucket}
        return _json(429, {"errors": ["Too many requests"]}, headers)
    if kind == "429_html":
        return web.Response(status=429, text=_HTML_429, content_type="text/html")
    if kind == "status":
        if fault.status in (502, 504):  # gateways answer with their own HTML page
            return web.Response(status=fault.status, content_type="text/html",
                                text=f"<html><body><h1>{fault.status}</h1></body></html>")
        return _json(fault.status, {"errors": ["Internal Server Error"]})
    if kind == "timeout":
        await asyncio.sleep(fault.delay)
        return render(request)
    if kind == "content_type":
        return web.Response(status=200, text=_LOGIN_PAGE, content_type="text/html")
    if kind == "malformed":
        return web.Response(status=200, text='{"data": [{"id": "x",}', content_type=
                            "application/json")
    if kind == "loop":
        first = request.clone(rel_url=request.rel_url.update_query({"page[number]": "0"}))
        return _rewrite(render(first), _drop_totals)
    if kind == "total_drift":
        answer = render(request)
        if request.query.get("page[number]", "0") == "0":
            return answer
        return _rewrite(answer, lambda body: _shift_totals(body, fault.delta))
    body = _body(render(request))
    if kind == "truncate":
        return web.Response(status=200, body=body[: len(body) // 2],
                            content_type="application/json")
    return await _reset_mid_body(request, body)


async def _reset_mid_body(request: web.Request, body: bytes) -> web.StreamResponse:
    """Send the headers and half of `body`, then abort the connection (kind "reset")."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.abort()
    return response


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers=headers)


def _body(response: web.Response) -> bytes:
    body = response.body
    return bytes(body) if isinstance(body, bytes | bytearray) else b""


def _rewrite(response: web.Response, change: Callable[[Any], None]) -> web.Response:
    """`response` with its JSON body passed through `change` (non-JSON bodies unchanged)."""
    try:
        body = json.loads(_body(response))
    except ValueError:
        return response
    change(body)
    return web.Response(status=response.status, text=json.dumps(body),
                        content_type="application/json", headers=_rate_headers(response))


def _rate_headers(response: web.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit")}


def _drop_totals(body: Any) -> None:
    if isinstance(body, dict):
        body.pop("meta", None)


def _shift_totals(body: Any, delta: int) -> None:
    meta = body.get("meta") if isinstance(body, dict) else None
    for section, keys in (("page", ("total_count", "total_filtered_count")),
                          ("pagination", ("total",))):
        holder = meta.get(section) if isinstance(meta, dict) else None
        if isinstance(holder, dict):
            for key in keys:
                if isinstance(holder.get(key), int):
                    holder[key] += delta


def closed_port_url(host: str = "127.0.0.1") -> str:
    """An http URL on loopback where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    return f"http://{host}:{port}"
