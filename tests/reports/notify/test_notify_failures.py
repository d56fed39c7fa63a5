"""A failing sink is retried, logged in one line and recorded; the scan and other sinks go on."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from notify_helpers import HOOK_PATH, SMTP_PASSWORD, SMTP_USER, leaks_in, secret
from notify_servers import HANG, Inbox, Receiver
from sqlalchemy import select

from reports.notify import notify_scan
from scanner.config import Config
from scanner.config_notify import NotifySink
from scanner.pipeline import ScanOutcome
from scanner.store import schema
from scanner.store.database import open_store

Night = Callable[..., tuple[ScanOutcome, dict[str, Any]]]
FLAKY_PATH = "/hooks/FLAKYT0KEN-abc123"

pytestmark = pytest.mark.slow


def test_500_then_timeout_is_retried_recorded_and_changes_nothing_else(
        sim_config: Config, receiver: Receiver, inbox: Inbox, night: Night,
        notify_env: dict[str, str], caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level("DEBUG")
    env = {**notify_env, "FLAKY_URL": receiver.url(FLAKY_PATH)}
    receiver.script[FLAKY_PATH] = [500, HANG]
    sinks = (
        NotifySink("webhook", "flaky", url=secret(env, "FLAKY_URL"), timeout=0.5, attempts=2,
                   backoff=0.01),
        NotifySink("webhook", "hook", url=secret(env, "HOOK_URL"), timeout=5, backoff=0.01),
        NotifySink("email", "mail", smtp_host="127.0.0.1", smtp_port=inbox.port,
                   sender="ddaudit@example.com", recipients=("a@example.com", "b@example.com"),
                   username=SMTP_USER, password=secret(env, "SMTP_PASSWORD"), timeout=5),
    )
    config = replace(sim_config, notify=sinks)
    quiet, _ = night(replace(sim_config, database=f"sqlite:///{tmp_path / 'quiet.db'}",
                             output=tmp_path / "quiet"))
    outcome, document = night(config)

    assert (outcome.status, outcome.exit_code) == (quiet.status, quiet.exit_code) == ("complete", 1)
    assert len(receiver.at(FLAKY_PATH)) == 2  # the 500, then the attempt that timed out
    assert len(receiver.at(HOOK_PATH)) == 1 and len(inbox.messages) == 1
    assert inbox.envelopes[0].rcpt_tos == ["a@example.com", "b@example.com"]
    run = json.loads((outcome.report.parent / "run.json").read_text())  # type: ignore[union-attr]
    assert {n["sink"]: (n["outcome"], n["attempts"], n["error"]) for n in run["notifications"]} == {
        "flaky": ("failed", 2, "timed out after 0.5s"), "hook": ("sent", 1, None),
        "mail": ("sent", 1, None)}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"
                and r.name.startswith("reports.notify")]
    assert len(warnings) == 1 and "'flaky' (webhook) failed after 2 attempts: timed out" in \
        warnings[0] and "unchanged" in warnings[0]
    engine = open_store(config.database)
    try:
        with engine.connect() as conn:
            status = conn.execute(select(schema.scans.c.status)).scalar_one()
            ledger_sinks = set(conn.execute(select(schema.notify_ledger.c.sink)).scalars())
        assert status == "complete" and ledger_sinks == {"hook", "mail"}  # flaky: nothing told

        # Later the receiver is back: a re-send delivers what the flaky sink missed, only.
        again = notify_scan(engine, config, outcome.scan_id)
    finally:
        engine.dispose()
    assert [(d.sink, d.outcome) for d in again] == [
        ("flaky", "sent"), ("hook", "skipped"), ("mail", "skipped")]
    late = json.loads(receiver.at(FLAKY_PATH)[-1].body)
    opened = [f for f in document["findings"] if f["status"] == "open"
              and f["severity"] in ("critical", "high")]
    assert late["new"]["count"] == len(opened) and "X-Ddaudit-Signature" not in \
        receiver.at(FLAKY_PATH)[-1].headers
    secrets = [HOOK_PATH, FLAKY_PATH, SMTP_PASSWORD]
    assert leaks_in(secrets, text=caplog.text, db=tmp_path / "ddaudit.db",
                    folder=config.output) == []


def test_an_unreachable_sink_fails_alone_with_a_scrubbed_error(
        sim_config: Config, receiver: Receiver, night: Night, notify_env: dict[str, str],
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """Connection refused and a 4xx: one line each, no URL; the good sink still gets its digest."""
    env = {**notify_env, "GONE_URL": "http://127.0.0.1:9/hooks/G0NET0KEN",
           "BAD_URL": receiver.url("/hooks/BADT0KEN")}
    receiver.script["/hooks/BADT0KEN"] = [404, 404]
    sinks = (
        NotifySink("webhook", "gone", url=secret(env, "GONE_URL"), attempts=2, backoff=0.01),
        NotifySink("slack", "bad", url=secret(env, "BAD_URL"), attempts=2, backoff=0.01),
        NotifySink("webhook", "hook", url=secret(env, "HOOK_URL"), backoff=0.01),
    )
    outcome, _ = night(replace(sim_config, notify=sinks))
    run = json.loads((outcome.report.parent / "run.json").read_text())  # type: ignore[union-attr]
    assert {n["sink"]: (n["outcome"], n["error"]) for n in run["notifications"]} == {
        "gone": ("failed", "connection failed (ClientConnectorError)"),
        "bad": ("failed", "HTTP 404"), "hook": ("sent", None)}
    assert outcome.exit_code == 1 and len(receiver.at(HOOK_PATH)) == 1
    assert leaks_in(["G0NET0KEN", "BADT0KEN", "127.0.0.1:9"], text=caplog.text,
                    db=tmp_path / "ddaudit.db", folder=sim_config.output) == []
