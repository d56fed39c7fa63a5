"""`ddaudit notify --scan ID [--dry-run]` in a child process, and `scan`'s check of sink secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from notify_helpers import HOOK_PATH, HOOK_SECRET, SLACK_PATH
from notify_servers import Receiver
from sqlalchemy import func, select

from scanner.config import Config
from scanner.pipeline import ScanOutcome
from scanner.store import schema
from scanner.store.database import open_store
from tests.cli_helpers import ddaudit, write_toml

Night = Callable[..., tuple[ScanOutcome, dict[str, Any]]]

pytestmark = pytest.mark.slow

SINKS = """
[[notify]]
kind = "webhook"
name = "hook"
url_env = "HOOK_URL"
secret_env = "HOOK_SECRET"
backoff = 0.01

[[notify]]
kind = "slack"
name = "chat"
url_env = "SLACK_URL"
min_severity = "critical"
"""

DOWN = """
[[notify]]
kind = "webhook"
name = "down"
url_env = "DOWN_URL"
attempts = 2
backoff = 0.01
timeout = 2
"""


def _rows(config: Config) -> tuple[int, int]:
    engine = open_store(config.database)
    try:
        with engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (schema.notify_ledger, schema.notify_deliveries))
    finally:
        engine.dispose()


def test_dry_run_needs_no_secret_then_a_send_then_nothing_again(
        sim_config: Config, night: Night, receiver: Receiver, tmp_path: Path) -> None:
    outcome, document = night(sim_config)  # stored, with no sink configured then
    path, env = write_toml(sim_config, tmp_path)
    path.write_text(path.read_text() + SINKS)
    bare = {"PATH": env["PATH"]}  # no Datadog key, no sink secret

    dry = ddaudit("notify", "--config", str(path), "--scan", outcome.scan_id, "--dry-run",
                  env=bare, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "--- 'hook' (webhook): would send new" in dry.stdout
    assert "X-Ddaudit-Signature: sha256=<HMAC of the body under HOOK_SECRET>" in dry.stdout
    assert '"schema": "ddaudit.notification/1"' in dry.stdout
    assert "--- 'chat' (slack): would send new" in dry.stdout
    assert receiver.requests == [] and _rows(sim_config) == (0, 0)

    unset = ddaudit("notify", "--config", str(path), "--scan", outcome.scan_id, env=bare,
                    cwd=tmp_path)
    assert unset.returncode == 2 and "HOOK_URL is not set" in unset.stderr
    assert len(unset.stderr.strip().splitlines()) == 1

    sinks_env = {**bare, "HOOK_URL": receiver.url(HOOK_PATH), "HOOK_SECRET": HOOK_SECRET,
                 "SLACK_URL": receiver.url(SLACK_PATH)}
    sent = ddaudit("notify", "--config", str(path), "--scan", outcome.scan_id, env=sinks_env,
                   cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert f"scan {outcome.scan_id} -> 'hook' (webhook): sent (new)" in sent.stdout
    body = json.loads(receiver.at(HOOK_PATH)[0].body)
    assert body["new"]["count"] == sum(1 for f in document["findings"] if f["status"] == "open"
                                       and f["severity"] in ("critical", "high"))
    assert len(receiver.at(SLACK_PATH)) == 1

    again = ddaudit("notify", "--config", str(path), "--scan", outcome.scan_id,
                    env=sinks_env, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("skipped (nothing to send)") == 2
    assert len(receiver.requests) == 2

    path.write_text(path.read_text() + DOWN)
    down = ddaudit("notify", "--config", str(path), "--scan", outcome.scan_id,
                   env={**sinks_env, "DOWN_URL": "http://127.0.0.1:9/hooks/D0WNT0KEN"},
                   cwd=tmp_path)
    assert down.returncode == 4
    assert "1 of 3 notification sinks failed (down)" in down.stderr
    assert "D0WNT0KEN" not in down.stderr + down.stdout and len(receiver.requests) == 2


def test_scan_stops_before_any_request_when_a_sink_secret_is_unset(
        sim_config: Config, tmp_path: Path) -> None:
    path, env = write_toml(sim_config, tmp_path)
    path.write_text(path.read_text() + SINKS)
    result = ddaudit("scan", "--config", str(path), env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "[[notify]] 'hook' url_env: environment variable HOOK_URL is not set" in result.stderr
    plain = ddaudit("scan", "--config", str(path), cwd=tmp_path,
                    env={**env, "HOOK_URL": "http://hooks.example.com/x", "HOOK_SECRET": "s",
                         "SLACK_URL": "https://hooks.slack.com/services/x"})
    assert plain.returncode == 2
    assert "the URL in HOOK_URL is not an https URL" in plain.stderr
    assert "hooks.example.com" not in plain.stderr
