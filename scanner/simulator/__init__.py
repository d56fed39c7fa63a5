"""A fake Datadog API for demos and tests: a seeded estate generator and an aiohttp server."""

from scanner.simulator.estate import EstateSpec, demo_estate, generate_estate
from scanner.simulator.limits import BucketLimit, RateLimits
from scanner.simulator.model import Estate, Org, SimTarget
from scanner.simulator.server import SimulatedDatadog
from scanner.simulator.thread import SimulatorThread

__all__ = [
    "BucketLimit",
    "Estate",
    "EstateSpec",
    "Org",
    "RateLimits",
    "SimTarget",
    "SimulatedDatadog",
    "SimulatorThread",
    "demo_estate",
    "generate_estate",
]
