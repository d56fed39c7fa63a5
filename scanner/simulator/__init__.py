"""A fake Datadog API for demos and tests: a seeded estate generator and an aiohttp server."""

from scanner.simulator.estate import EstateSpec, demo_estate, generate_estate
from scanner.simulator.model import Estate, Org, SimTarget
from scanner.simulator.server import SimulatedDatadog, SimulatorThread

__all__ = [
    "Estate",
    "EstateSpec",
    "Org",
    "SimTarget",
    "SimulatedDatadog",
    "SimulatorThread",
    "demo_estate",
    "generate_estate",
]
