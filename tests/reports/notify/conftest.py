"""Fixtures for the notification tests: a small served estate, local receivers, sinks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from notify_helpers import HOOK_PATH, HOOK_SECRET, SLACK_PATH, SMTP_PASSWORD, SMTP_USER, secret
from notify_servers import Inbox, Receiver

from scanner.client import RetryPolicy
from scanner.config import Config
from scanner.config_notify import NotifySink
from scanner.demo import simulator_config
from scanner.pipeline import ScanOutcome, run_scan
from scanner.simulator import EstateSpec, SimulatorThread, generate_estate
from scanner.simulator.model import Estate
from scanner.store.database import open_store
from scanner.timeutil import utcnow

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, timeout=5)
SMALL = EstateSpec(sites=("datadoghq.com",), orgs_per_site=2, key_gaps=(), users_per_org=10,
                   service_accounts_per_org=4, api_keys_per_org=4, tokens_per_org=2,
                   oauth_clients_per_org=1)


@pytest.fixture
def estate() -> Estate:
    """One site, two orgs: enough for every kind of finding, fast to scan."""
    return generate_estate(SMALL, now=utcnow())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The webhook and Slack endpoint."""
    rec = Receiver()
    yield rec
    rec.stop()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """The SMTP server, with a login."""
    box = Inbox(SMTP_USER, SMTP_PASSWORD)
    yield box
    box.stop()


@pytest.fixture
def notify_env(receiver: Receiver, estate: Estate) -> dict[str, str]:
    """The variables the sinks read their secrets from."""
    return {"HOOK_URL": receiver.url(HOOK_PATH), "HOOK_SECRET": HOOK_SECRET,
            "SLACK_URL": receiver.url(SLACK_PATH), "SMTP_PASSWORD": SMTP_PASSWORD,
            "EVENTS_KEY": estate.targets[0].api_key}


@pytest.fixture
def all_sinks(notify_env: dict[str, str], inbox: Inbox,
              server: SimulatorThread) -> tuple[NotifySink, ...]:
    """One sink of each kind: two at high, two at critical, Slack without `partial`."""
    fast = {"timeout": 5.0, "backoff": 0.01, "max_items": 100}
    return (
        NotifySink("webhook", "hook", url=secret(notify_env, "HOOK_URL"),
                   secret=secret(notify_env, "HOOK_SECRET"),
                   report_url="https://audit.example.com/ddaudit-out", **fast),
        NotifySink("slack", "chat", on=frozenset({"new", "regressed"}),
                   url=secret(notify_env, "SLACK_URL"), **fast),
        NotifySink("email", "mail", min_severity="critical", smtp_host="127.0.0.1",
                   smtp_port=inbox.port, sender="ddaudit@example.com",
                   recipients=("secops@example.com",), username=SMTP_USER,
                   password=secret(notify_env, "SMTP_PASSWORD"), **fast),
        NotifySink("datadog", "events", min_severity="critical", site="datadoghq.com",
                   api_key=secret(notify_env, "EVENTS_KEY"),
                   api_url=server.base_url("datadoghq.com"), tags=("team:security",),
                   **fast),
    )


@pytest.fixture
def sim_config(estate: Estate, server: SimulatorThread, tmp_path: Path) -> Config:
    """A config scanning the estate through the simulator, without sinks."""
    return simulator_config(estate, dict(server.urls), tmp_path / "out",
                            f"sqlite:///{tmp_path / 'ddaudit.db'}")


@pytest.fixture
def night() -> Callable[..., tuple[ScanOutcome, dict[str, Any]]]:
    """Run one whole scan (notifications included); return its outcome and findings.json."""

    def run(config: Config, **overrides: Any) -> tuple[ScanOutcome, dict[str, Any]]:
        config = replace(config, **overrides) if overrides else config
        engine = open_store(config.database)
        try:
            outcome = run_scan(config, engine, policy=FAST)
        finally:
            engine.dispose()
        assert outcome.report is not None
        return outcome, json.loads((outcome.report.parent / "findings.json").read_text())

    return run
