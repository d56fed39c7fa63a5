"""Serve a SimulatedDatadog from a daemon thread, for callers that run their own event loop."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.simulator.model import Estate
    from scanner.simulator.server import SimulatedDatadog


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
