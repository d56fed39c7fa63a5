"""Fixtures for end-to-end runs: a simulated estate served on loopback and a scan runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from scanner.client import RetryPolicy
from scanner.config import Config
from scanner.demo import simulator_config
from scanner.pipeline import ScanOutcome, run_scan
from scanner.simulator import SimulatorThread, demo_estate
from scanner.simulator.model import Estate
from scanner.store.database import open_store
from scanner.store.schema import SETTLED
from scanner.timeutil import utcnow

FAST_RETRIES = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, timeout=5)


@dataclass
class ScanRun:
    """One finished scan: its outcome and its findings.json, parsed."""

    outcome: ScanOutcome
    document: dict[str, Any]
    config: Config

    def short(self) -> set[tuple[str, str, str]]:
        """(target, endpoint, status) of every coverage row that is not complete."""
        return {(c["target"], c["endpoint"], c["status"]) for c in self.document["coverage"]
                if c["status"] not in SETTLED}

    def keys(self, status: str | None = None) -> set[tuple[str, str, str, str, str]]:
        """(rule, site, org, resource type, resource id) of the findings, by status."""
        return {
            (f["rule_id"], f["site"], f["org_public_id"], f["resource_type"], f["resource_id"])
            for f in self.document["findings"]
            if status is None or f["status"] == status
        }


def key_gap(estate: Estate) -> set[tuple[str, str, str]]:
    """The coverage every scan of `estate` lacks: application keys and access tokens of key
    pairs without org_app_keys_read (the demo estate has one) are partial."""
    return {(t.name, endpoint, "partial") for t in estate.targets
            if "org_app_keys_read" not in t.permissions
            for endpoint in ("application_keys", "access_tokens")}


@pytest.fixture
def estate() -> Estate:
    """The demo estate, generated for a scan starting now."""
    return demo_estate(utcnow())


@pytest.fixture
def config(estate: Estate, server: SimulatorThread, tmp_path: Path) -> Config:
    """A config scanning every target of `estate` through the simulator."""
    database = f"sqlite:///{tmp_path / 'ddaudit.db'}"
    return simulator_config(estate, dict(server.urls), tmp_path / "out", database)


@pytest.fixture
def scan(tmp_path: Path) -> Callable[..., ScanRun]:
    """Run a whole scan with `config` (and overrides) and load its findings.json."""

    def run(config: Config, **overrides: Any) -> ScanRun:
        config = replace(config, **overrides) if overrides else config
        outcome = run_scan(config, open_store(config.database), policy=FAST_RETRIES)
        assert outcome.report is not None
        document = json.loads((outcome.report.parent / "findings.json").read_text())
        return ScanRun(outcome, document, config)

    return run
