"""The remediation workflow from the command line, and its evidence folder under verify."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from scanner.cli import cli
from scanner.errors import ConfigError
from scanner.remediate import cli as remediation_cli
from tests.cli_helpers import ddaudit
from tests.remediate.conftest import Scanned, write_config

pytestmark = pytest.mark.slow


def _signing_key(folder: Path) -> Path:
    path = folder / "signing.pem"
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    os.chmod(path, 0o600)
    return path


def test_plan_apply_verify_scan_diff_from_the_command_line(writable: Scanned,
                                                           tmp_path: Path) -> None:
    key = _signing_key(tmp_path)
    toml, env = write_config(writable.config, tmp_path, signing_key=key)

    def run(*args: str) -> tuple[int, str]:
        result = ddaudit(*args, env=env, cwd=tmp_path)
        text = result.stdout + result.stderr
        for secret in (v for k, v in env.items() if k != "PATH"):
            assert secret not in text
        return result.returncode, text

    code, text = run("plan", "--config", str(toml), "--rules", "DDA-KEY-007,DDA-MAP-001",
                     "--output", "plans")
    assert code == 0, text
    plan = json.loads((tmp_path / "plans" / "plan.json").read_text())
    count = len(plan["actions"])
    code, text = run("apply", "plans/plan.json", "--config", str(toml), "--approved-by",
                     "Jane Doe", "--dry-run")
    assert code == 0 and f"{count} would act" in text, text
    code, text = run("apply", "plans/plan.json", "--config", str(toml), "--approved-by",
                     "Jane Doe", "--yes")
    assert code == 0 and f"{count} done" in text, text
    evidence = writable.config.output / "remediation" / plan["plan_id"]
    assert f"evidence: {evidence}" in text
    assert (evidence / "manifest.sig").is_file() and (evidence / "plan.md").is_file()

    code, text = run("verify", str(evidence), "--public-key", str(key))
    assert code == 0, text
    assert f"remediation: plan {plan['plan_id']}" in text and "matches" in text
    actions = evidence / "actions.jsonl"
    original = actions.read_bytes()
    actions.write_bytes(original.replace(b'"done"', b'"failed"', 1))
    code, text = run("verify", str(evidence))
    assert code == 1 and "tampered: actions.jsonl" in text
    actions.write_bytes(original)
    scan_manifest = writable.config.output / plan["scan"]["id"] / "manifest.json"
    scan_manifest.write_bytes(scan_manifest.read_bytes() + b" ")
    code, text = run("verify", str(evidence))
    assert code == 1 and "chain:" in text
    scan_manifest.write_bytes(scan_manifest.read_bytes()[:-1])

    code, text = run("scan", "--config", str(toml))
    assert code in (1, 3), text
    code, text = run("diff", "--config", str(toml), "--format", "json")
    diff = json.loads(text[:text.rindex("}") + 1])
    marked = {f["id"] for f in diff["resolved"] if f["remediated_by"] == plan["plan_id"]}
    planned = {f["finding_id"] for a in plan["actions"] for f in (*a["answers"],
                                                                  *a["also_resolves"])}
    assert marked == planned


def test_a_declined_or_unattended_apply_sends_nothing(writable: Scanned, tmp_path: Path) -> None:
    toml, env = write_config(writable.config, tmp_path)
    assert ddaudit("plan", "--config", str(toml), "--output", "p", env=env,
                   cwd=tmp_path).returncode == 0
    writable.server.sim.request_log.clear()
    result = ddaudit("apply", "p/plan.json", "--config", str(toml), "--approved-by", "Jane",
                     env=env, cwd=tmp_path)
    assert result.returncode == 2 and "pass --yes" in result.stderr
    assert writable.server.sim.request_log == []
    assert not (writable.config.output / "remediation").exists()


def test_on_a_terminal_apply_shows_the_summary_and_asks(
    writable: Scanned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    toml, env = write_config(writable.config, tmp_path)
    writable.plan()
    plan = writable.folder / "plan" / "plan.json"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(remediation_cli, "on_terminal", lambda: True)
    runner = CliRunner()
    args = ["apply", str(plan), "--config", str(toml), "--approved-by", "Jane Doe"]
    writable.server.sim.request_log.clear()
    declined = runner.invoke(cli, args, input="n\n")
    sha = json.loads(plan.read_text())["sha256"]
    assert f"SHA-256 {sha}" in declined.output and "Apply these" in declined.output
    assert isinstance(declined.exception, ConfigError) and "not confirmed" in str(
        declined.exception)
    assert writable.server.sim.request_log == []
    accepted = runner.invoke(cli, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "done" in accepted.output and writable.server.sim.writes
