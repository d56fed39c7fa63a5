"""A tiny aiohttp client for the simulator tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from scanner.simulator.model import SimTarget
from scanner.simulator.server import SimulatedDatadog


class Api:
    """A tiny client for the running simulator: `await api.get(target, path, params)`."""

    def __init__(self, sim: SimulatedDatadog, session: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.session = session

    async def get(
        self,
        target: SimTarget,
        path: str,
        params: Mapping[str, str | int] | Sequence[tuple[str, str | int]] | None = None,
        *,
        api_key: str | None = None,
        app_key: str | None = None,
        site: str | None = None,
    ) -> tuple[int, Any]:
        """GET `path` as `target` (keys overridable); returns (status, parsed JSON).

        `params` may be pairs, to repeat a key (`[("filter[owned_by]", a), ...]`).
        """
        headers = {"DD-API-KEY": api_key or target.api_key,
                   "DD-APPLICATION-KEY": app_key or target.app_key}
        url = self.sim.base_url(site or target.site) + path
        pairs = params.items() if isinstance(params, Mapping) else (params or ())
        query = [(k, str(v)) for k, v in pairs]
        async with self.session.get(url, headers=headers, params=query) as resp:
            return resp.status, await resp.json(content_type=None)

    async def raw(self, site: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        """GET with exactly `headers`."""
        async with self.session.get(self.sim.base_url(site) + path, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)
