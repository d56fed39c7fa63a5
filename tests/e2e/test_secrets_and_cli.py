"""Secrets never reach the database, the output or the logs; the CLI's codes and errors."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner import logs
from scanner.demo import simulator_config
from scanner.simulator import EstateSpec, SimulatedDatadog, demo_estate, generate_estate
from scanner.timeutil import utcnow
from tests.cli_helpers import ddaudit, write_toml
from tests.e2e.conftest import ScanRun, key_gap

pytestmark = pytest.mark.slow


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_no_canary_or_credential_reaches_database_output_or_logs(
    tmp_path: Path, scan: Callable[..., ScanRun], capfd: pytest.CaptureFixture[str]
) -> None:
    estate = demo_estate(utcnow(), canaries=True)
    assert len(estate.canaries) >= 4
    secrets = [*estate.canaries]
    secrets += [t.api_key for t in estate.targets] + [t.app_key for t in estate.targets]
    logs.configure(verbose=True)  # debug lines too
    with SimulatedDatadog.start_in_thread(estate) as server:
        config = simulator_config(estate, dict(server.urls), tmp_path / "out",
                                  f"sqlite:///{tmp_path / 'ddaudit.db'}")
        run = scan(config)
    out, err = capfd.readouterr()
    assert run.short() == key_gap(estate)  # everything else was collected
    haystack = _all_bytes(tmp_path) + out.encode() + err.encode()
    assert b"collecting target" in haystack  # the logs were captured
    assert b"Acme" in haystack  # and the database and reports hold the estate
    leaked = [s for s in secrets if s.encode() in haystack]
    assert leaked == []


def test_cli_scan_writes_reports_and_exits_by_severity(tmp_path: Path) -> None:
    # Every key pair whole, so the scan is complete and its findings set the exit code.
    estate = generate_estate(EstateSpec(key_gaps=()), now=utcnow())
    with SimulatedDatadog.start_in_thread(estate) as server:
        config = simulator_config(estate, dict(server.urls), tmp_path / "out",
                                  f"sqlite:///{tmp_path / 'ddaudit.db'}")
        _, env = write_toml(config, tmp_path)
        result = ddaudit("scan", "--config", "ddaudit.toml", "--database",
                          f"sqlite:///{tmp_path / 'cli.db'}", "--output", "out",
                          env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # the demo estate has a critical finding
    report = Path(result.stdout.strip().split(": ", 1)[1])
    assert (tmp_path / report).is_file() or report.is_file()
    document = json.loads((tmp_path / report).with_name("findings.json").read_text())
    assert any(f["severity"] == "critical" for f in document["findings"])


def test_cli_bad_config_is_one_line_exit_2_and_sends_nothing(tmp_path: Path) -> None:
    estate = demo_estate(utcnow())
    with SimulatedDatadog.start_in_thread(estate) as server:
        url = server.base_url(estate.targets[0].site)
        (tmp_path / "ddaudit.toml").write_text(
            "[scan]\nallow_custom_endpoints = true\n[[targets]]\nname = \"a\"\n"
            f"site = \"datadoghq.com\"\napi_key_env = \"NOPE\"\napp_key_env = \"A\"\n"
            f"api_url = \"{url}\"\n")
        result = ddaudit("scan", "--config", "ddaudit.toml", env={"A": "x"}, cwd=tmp_path)
        assert server.sim.request_count == 0
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "NOPE is not set" in result.stderr and "Traceback" not in result.stderr


def test_cli_scan_leaks_no_canary_or_credential_and_keeps_files_private(tmp_path: Path) -> None:
    estate = demo_estate(utcnow(), canaries=True)
    okta = [c for c in estate.canaries if c.startswith(("CANARY-okta-secret", "CANARY-okta-api"))]
    stray = [c for c in estate.canaries if c.startswith("CANARY-appkey")]  # a `key` field
    assert okta and stray
    with SimulatedDatadog.start_in_thread(estate) as server:
        config = simulator_config(estate, dict(server.urls), tmp_path / "out",
                                  f"sqlite:///{tmp_path / 'ddaudit.db'}")
        _, env = write_toml(config, tmp_path)
        result = subprocess.run(
            ["sh", "-c", f'umask 022 && exec "{sys.executable}" -m scanner.cli -v scan '
             f"--config ddaudit.toml --database sqlite:///{tmp_path / 'ddaudit.db'} "
             "--output out"], env=env, cwd=tmp_path, capture_output=True, timeout=120)
    # 3: partial, the one key pair without org_app_keys_read lists its keys incompletely.
    assert result.returncode == 3, result.stderr[-2000:]
    assert b"DEBUG" in result.stderr and b"scan " in result.stdout  # the debug logs too
    credentials = [v for k, v in env.items() if k != "PATH"]
    assert len(credentials) == 2 * len(estate.targets)
    haystack = _all_bytes(tmp_path) + result.stdout + result.stderr
    assert b"Acme" in haystack
    leaked = [s for s in [*estate.canaries, *credentials] if s.encode() in haystack]
    assert leaked == []
    # Owner-only: the output folders 0700, every file in them and the database 0600.
    out = tmp_path / "out"
    for path in [out, *out.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    for db in tmp_path.glob("ddaudit.db*"):
        assert stat.S_IMODE(db.stat().st_mode) == 0o600, db
