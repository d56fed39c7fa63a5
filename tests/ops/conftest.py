"""Fixtures for operations tests: a served demo estate, configs on each backend, the CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from scanner.client import RetryPolicy
from scanner.config import Config
from scanner.demo import simulator_config
from scanner.simulator import EstateSpec, SimulatedDatadog, SimulatorThread, generate_estate
from scanner.simulator.model import Estate
from scanner.timeutil import utcnow

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, timeout=5)


@pytest.fixture
def estate() -> Estate:
    """The demo estate, generated for a scan starting now, with every key pair whole.

    The demo estate's one key pair without org_app_keys_read leaves its application keys
    partial in every scan; these tests need scans that can complete (resume, shards).
    """
    return generate_estate(EstateSpec(key_gaps=()), now=utcnow())


@pytest.fixture
def server(estate: Estate) -> Iterator[SimulatorThread]:
    """The simulator serving `estate` on loopback."""
    thread = SimulatedDatadog.start_in_thread(estate)
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def sim_config(estate: Estate, server: SimulatorThread, tmp_path: Path, db_url: str) -> Config:
    """A config scanning the whole estate through the simulator into `db_url`."""
    config = simulator_config(estate, dict(server.urls), tmp_path / "out", db_url)
    return replace(config, fail_on="critical")


def write_toml(config: Config, folder: Path) -> tuple[Path, dict[str, str]]:
    """The config as ddaudit.toml in `folder`, and the environment holding its keys."""
    lines = ["[scan]", "allow_custom_endpoints = true", 'fail_on = "critical"',
             f'database = "{config.database}"', f'output = "{config.output}"', ""]
    env = {"PATH": "/usr/bin:/bin"}
    for i, t in enumerate(config.targets):
        env[f"K{i}"], env[f"A{i}"] = t.api_key.reveal(), t.app_key.reveal()
        lines += ["[[targets]]", f'name = "{t.name}"', f'site = "{t.site}"',
                  f'api_key_env = "K{i}"', f'app_key_env = "A{i}"', f'api_url = "{t.api_url}"',
                  ""]
    trusted = ", ".join(f'"{o}"' for o in sorted(config.trusted_orgs))
    lines += ["[estate]", f"trusted_orgs = [{trusted}]"]
    path = folder / "ddaudit.toml"
    path.write_text("\n".join(lines))
    return path, env


def ddaudit(*args: str, env: dict[str, str], cwd: Path,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a child process."""
    return subprocess.run([sys.executable, "-m", "scanner.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def ddaudit_async(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start the CLI in a child process without waiting for it."""
    return subprocess.Popen([sys.executable, "-m", "scanner.cli", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
