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
from scanner.remediate.workflow import Applied, ApplyOptions, apply_file
from scanner.simulator import SimulatedDatadog, SimulatorThread, demo_estate
from scanner.simulator.model import Estate
from scanner.store.database import open_store
from scanner.timeutil import utcnow
from tests.cli_helpers import write_toml
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


def scanned_estate(folder: Path, *, write_pairs: bool = False) -> Iterator[Scanned]:
    """Serve the demo estate (every org with a write key pair if asked), scan it once."""
    estate = demo_estate(utcnow())
    if write_pairs:
        for target in list(estate.targets):
            estate.add_write_pair(target.name)
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
def writable(tmp_path: Path) -> Iterator[Scanned]:
    """The demo estate with write key pairs, scanned for this test alone (it may change
    the estate: apply it)."""
    yield from scanned_estate(tmp_path, write_pairs=True)


def apply(scanned: Scanned, plan: str = "plan", *, dry_run: bool = False,
          config: Config | None = None, approved_by: str = "Jane Doe") -> Applied:
    """`ddaudit apply` of folder/<plan>/plan.json as the CLI runs it, confirmed."""
    return apply_file(scanned.folder / plan / "plan.json", config or scanned.config,
                      ApplyOptions(approved_by, dry_run), policy=FAST_RETRIES)


def outcomes(applied: Applied) -> dict[str, list[str]]:
    """Outcome -> the resource ids that got it."""
    found: dict[str, list[str]] = {}
    for o in applied.outcomes:
        found.setdefault(o.outcome, []).append(o.action.resource_id)
    return found


def write_config(config: Config, folder: Path, *, signing_key: Path | None = None
                 ) -> tuple[Path, dict[str, str]]:
    """`config` as ddaudit.toml with its write key pairs (and signing key); the env."""
    path, env = write_toml(config, folder)
    lines = path.read_text().splitlines()
    out: list[str] = []
    for line in lines:
        out.append(line)
        if line.startswith("api_url = "):  # the last key of each target block
            i = len([x for x in out if x == "[[targets]]"]) - 1
            target = config.targets[i]
            if target.write_api_key is not None and target.write_app_key is not None:
                env[f"W{i}"], env[f"X{i}"] = (target.write_api_key.reveal(),
                                              target.write_app_key.reveal())
                out += [f'write_api_key_env = "W{i}"', f'write_app_key_env = "X{i}"']
    if signing_key is not None:
        out += ["", "[evidence]", f'signing_key = "{signing_key}"']
    path.write_text("\n".join(out) + "\n")
    return path, env
