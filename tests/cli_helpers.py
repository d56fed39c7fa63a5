"""Helpers for tests that drive the `ddaudit` CLI in a child process against the simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scanner.config import Config


def write_toml(config: Config, folder: Path) -> tuple[Path, dict[str, str]]:
    """The config as ddaudit.toml in `folder`, and the environment holding its keys."""
    lines = ["[scan]", "allow_custom_endpoints = true", 'fail_on = "critical"',
             f'database = "{config.database}"', f'output = "{config.output}"', ""]
    env = {"PATH": "/usr/bin:/bin"}
    for i, t in enumerate(config.targets):
        env[f"K{i}"], env[f"A{i}"] = t.api_key.reveal(), t.app_key.reveal()
        lines += ["[[targets]]", f'name = "{t.name}"', f'site = "{t.site}"',
                  f'api_key_env = "K{i}"', f'app_key_env = "A{i}"', f'api_url = "{t.api_url}"',
                  *([f'owner = "{t.owner}"'] if t.owner else []), ""]
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


