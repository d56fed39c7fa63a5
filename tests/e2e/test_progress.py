"""Progress: bars over targets, endpoints and pages on a terminal; log lines under cron."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator

import pytest
from rich.console import Console

from scanner import progress
from scanner.config import Config
from scanner.simulator.model import Estate
from tests.e2e.conftest import ScanRun

pytestmark = pytest.mark.slow


@pytest.fixture
def reporter_slot() -> Iterator[None]:
    """Restore the default reporter after the test."""
    yield
    progress.install(progress.Reporter())


def test_terminal_gets_bars_over_targets_endpoints_and_pages(
    config: Config, scan: Callable[..., ScanRun], reporter_slot: None
) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    reporter = progress.for_terminal(console)
    assert isinstance(reporter, progress.RichReporter)
    progress.install(reporter)
    run = scan(config)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())  # drop ANSI codes
    targets = len(config.targets)
    # each target's bar counted its endpoints and pages while it ran
    assert all(t.name in text for t in config.targets)
    # the last frame of the overall bar: every target done, every page and item counted
    final = re.findall(rf"all targets\s.*?{targets}/{targets}\s+(\d+) pages\s+(\d+) items", text)
    assert final, text[-2000:]
    pages, items = map(int, final[-1])
    collected = sum(c["collected"] for c in run.document["coverage"])
    assert pages >= targets * 3 and items == collected


def test_cron_gets_a_line_per_target_and_a_warning_per_gap(
    estate: Estate, config: Config, scan: Callable[..., ScanRun],
    caplog: pytest.LogCaptureFixture, reporter_slot: None,
) -> None:
    assert type(progress.for_terminal(Console(file=io.StringIO()))) is progress.Reporter
    progress.install(progress.Reporter())
    victim = estate.targets[0]
    estate.revoke(victim.name, "integrations_read")
    with caplog.at_level(logging.INFO, logger="ddaudit.progress"):
        scan(config)
    messages = [r.getMessage() for r in caplog.records if r.name == "ddaudit.progress"]
    done = [m for m in messages if " done: " in m]
    assert len(done) == len(config.targets)
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "ddaudit.progress" and r.levelno == logging.WARNING]
    # ...and the target whose key pair lacks org_app_keys_read: its keys are partial.
    (gap,) = [t for t in estate.targets if "org_app_keys_read" not in t.permissions]
    accounts = sum(u.service_account for u in estate.org(gap.org_public_id).users)
    assert sorted(warnings) == sorted([
        f"target {victim.name} endpoint okta_accounts forbidden: "
        "GET /api/v2/integrations/okta/accounts: HTTP 403: Forbidden (needs integrations_read)",
        f"target {gap.name} endpoint application_keys partial: org-wide listing forbidden "
        f"(needs org_app_keys_read): collected the keys of {accounts} service accounts; keys "
        "owned by users cannot be listed",
        f"target {gap.name} endpoint access_tokens partial: the key pair cannot read the "
        "org-wide application keys (needs org_app_keys_read), so the token listing shows only "
        "its own user's tokens"])
    assert any(m.startswith(f"target {victim.name} done:") and "incomplete: okta_accounts" in m
               for m in done)
