"""Fixtures for operations tests: a served demo estate, configs on each backend, the CLI."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from scanner.client import RetryPolicy
from scanner.config import Config
from scanner.demo import simulator_config
from scanner.simulator import EstateSpec, SimulatorThread, generate_estate
from scanner.simulator.model import Estate
from scanner.timeutil import utcnow
from tests.cli_helpers import ddaudit, write_toml

__all__ = ["FAST", "ddaudit", "ddaudit_async", "write_toml"]

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, timeout=5)


@pytest.fixture
def estate() -> Estate:
    """The demo estate, generated for a scan starting now, with every key pair whole.

    The demo estate's one key pair without org_app_keys_read leaves its application keys
    partial in every scan; these tests need scans that can complete (resume, shards).
    """
    return generate_estate(EstateSpec(key_gaps=()), now=utcnow())


@pytest.fixture
def sim_config(estate: Estate, server: SimulatorThread, tmp_path: Path, db_url: str) -> Config:
    """A config scanning the whole estate through the simulator into `db_url`."""
    config = simulator_config(estate, dict(server.urls), tmp_path / "out", db_url)
    return replace(config, fail_on="critical")


def ddaudit_async(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start the CLI in a child process without waiting for it."""
    return subprocess.Popen([sys.executable, "-m", "scanner.cli", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
