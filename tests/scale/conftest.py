"""Fixtures for collection at scale: a small estate with binding limits, collected whole."""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from scanner.client import RetryPolicy
from scanner.collect import Coverage, TargetContext
from scanner.demo import simulator_config
from scanner.pipeline import collect_all, record_collection, start_scan
from scanner.simulator import EstateSpec, RateLimits, SimulatedDatadog, generate_estate
from scanner.simulator.model import Estate
from scanner.store.database import open_store
from scanner.store.schema import SETTLED
from scanner.timeutil import utcnow

RETRIES = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=2.0, timeout=10)
HEADROOM = 0.2

# One site, three orgs; per org 250 users (one page of 1000), ~340 application keys (4 pages
# of 100).
SPEC = EstateSpec(sites=("datadoghq.com",), orgs_per_site=3, users_per_org=250,
                  service_accounts_per_org=100, app_keys_per_service_account=3.0,
                  api_keys_per_org=10, roles_per_org=6, mappings_per_org=6,
                  deliberate=False, key_gaps=())


def usable(limit: int) -> int:
    """The requests of a window the throttle allows itself at the default headroom."""
    return limit - math.ceil(limit * HEADROOM)


@pytest.fixture
def estate() -> Estate:
    """A fresh small estate."""
    return generate_estate(SPEC, now=utcnow())


@dataclass
class Collected:
    """One whole collection: per target its context and coverage, and the scan status."""

    results: list[tuple[TargetContext, list[Coverage]]]
    status: str

    def coverage(self, target: str, endpoint: str) -> Coverage:
        """The coverage record of one endpoint of one target."""
        for ctx, coverage in self.results:
            for c in coverage:
                if ctx.target.name == target and c.endpoint == endpoint:
                    return c
        raise KeyError((target, endpoint))

    def all_complete(self, *, but: str | None = None) -> bool:
        """True when every endpoint of every target (but `but`) was fully collected."""
        return all(c.status in SETTLED for ctx, cov in self.results for c in cov
                   if ctx.target.name != but)


Collect = Callable[[SimulatedDatadog], Coroutine[Any, Any, Collected]]


@pytest.fixture
def collect(estate: Estate, tmp_path: Path) -> Collect:
    """Collect every target of `estate` from a running simulator, as `ddaudit scan` does."""

    async def run(sim: SimulatedDatadog) -> Collected:
        database = f"sqlite:///{tmp_path / 'scale.db'}"
        engine: Engine = open_store(database)
        config = simulator_config(estate, sim.urls, tmp_path / "out", database)
        scan_id, _ = start_scan(engine, config, "test")
        results = await collect_all(engine, config, scan_id, policy=RETRIES)
        return Collected(results, record_collection(engine, scan_id, results))

    return run


def limits(limit: int, period: int = 1, **kwargs: Any) -> RateLimits:
    """The same fixed-window limit for every bucket."""
    return RateLimits.uniform(limit, period, **kwargs)
