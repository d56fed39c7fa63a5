"""Fixtures for the simulator tests: a fixed clock, the demo estate, a running simulator."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from scanner.simulator.estate import demo_estate
from scanner.simulator.model import Estate
from scanner.simulator.server import SimulatedDatadog

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # so `tests.oracle` imports however pytest was started
    sys.path.insert(0, str(ROOT))

from tests.simulator.simclient import Api  # noqa: E402

NOW = datetime(2026, 11, 21, 2, 0, 0)


@pytest.fixture
def now() -> datetime:
    """The scan start time every generated age is measured from."""
    return NOW


@pytest.fixture
def estate(now: datetime) -> Estate:
    """A fresh demo estate (tests may revoke permissions on it)."""
    return demo_estate(now)


@pytest.fixture
async def sim(estate: Estate, now: datetime) -> AsyncIterator[SimulatedDatadog]:
    """The simulator serving `estate` on one loopback port per site."""
    async with SimulatedDatadog(estate, now=now) as server:
        yield server


@pytest.fixture
async def api(sim: SimulatedDatadog) -> AsyncIterator[Api]:
    """A client for `sim`."""
    async with aiohttp.ClientSession() as session:
        yield Api(sim, session)
