"""Fixtures for remediation tests: a scanned simulated estate and plans made from it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from scanner.config import Config
from scanner.demo import simulator_config
from scanner.pipeline import ScanOutcome, run_scan
from scanner.remediate.plan import Selection, build_plan, write_plan
from scanner.simulator import SimulatedDatadog, SimulatorThread, demo_estate
from scanner.simulator.model import Estate
from scanner.store.database import open_store
from scanner.timeutil import utcnow
from tests.e2e.conftest import FAST_RETRIES


@dataclass
class Scanned:
    """A simulated estate, its simulator, a config pointed at it, and its first scan."""

    estate: Estate
    server: SimulatorThread
    config: Config
    engine: Engine
    outcome: ScanOutcome
    folder: Path

    def plan(self, selection: Selection | None = None, name: str = "plan") -> dict[str, Any]:
        """Build and write a plan of the latest scan into folder/<name>; the document."""
        document = build_plan(self.engine, self.config.output, None, selection or Selection(),
                              utcnow())
        write_plan(document, self.folder / name)
        return document

    def rescan(self) -> ScanOutcome:
        """Scan again (the estate as it is now)."""
        return run_scan(self.config, self.engine, policy=FAST_RETRIES)


def scanned_estate(folder: Path, estate: Estate | None = None) -> Iterator[Scanned]:
    """Serve `estate` (default: the demo estate), scan it once, and yield the lot."""
    estate = estate or demo_estate(utcnow())
    server = SimulatedDatadog.start_in_thread(estate)
    try:
        database = f"sqlite:///{folder / 'ddaudit.db'}"
        config = simulator_config(estate, dict(server.urls), folder / "out", database)
        engine = open_store(database)
        outcome = run_scan(config, engine, policy=FAST_RETRIES)
        yield Scanned(estate, server, config, engine, outcome, folder)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    """The demo estate scanned once for the module (tests must not change the estate)."""
    yield from scanned_estate(tmp_path_factory.mktemp("scanned"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Scanned]:
    """The demo estate scanned for this test alone (it may change the estate)."""
    yield from scanned_estate(tmp_path)
