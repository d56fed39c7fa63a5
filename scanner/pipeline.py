"""The scan pipeline: collect into the snapshot, evaluate the rules, write the reports."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
from sqlalchemy import Engine

import reports
import rules
from reports import notify
from reports.index_page import refresh_index
from rules.params import check_settings
from scanner import progress
from scanner.client import LARGE_PAGES, DatadogClient, RetryPolicy
from scanner.collect import Coverage, TargetContext, collect_target
from scanner.collect.base import unexpected_error
from scanner.config import Config, Target
from scanner.errors import APIError, DDAuditError
from scanner.store import lifecycle, schema
from scanner.store.lifecycle import ScanStatus
from scanner.store.lifecycle import latest_scan_id as latest_scan_id  # for the CLI
from scanner.store.lifecycle import require_collected as require_collected  # for the CLI
from scanner.store.snapshot_writer import SnapshotWriter

log = logging.getLogger(__name__)
Collector = Callable[[TargetContext], Awaitable[list[Coverage]]]


@dataclass(frozen=True)
class ScanOutcome:
    """What a finished scan tells its caller (and cron, through the exit code)."""

    scan_id: str
    status: str  # a ScanStatus: complete or partial
    report: Path | None
    open_at_or_above: int
    exit_code: int


def start_scan(engine: Engine, config: Config,
               pack_sha256: str | None) -> tuple[str, datetime]:
    """Record a new running scan of `config` (lifecycle.start); return its id and start time."""
    return lifecycle.start(engine, config_sha256=config.sha256(), rulepack_sha256=pack_sha256)


async def collect_all(
    engine: Engine, config: Config, scan_id: str, *, policy: RetryPolicy | None = None,
    targets: Sequence[Target] | None = None, collector: Collector = collect_target,
) -> list[tuple[TargetContext, list[Coverage]]]:
    """Collect every target (or `targets`) concurrently into the snapshot; return coverage.

    `collector` collects one target (the default: every endpoint; resume passes its own).
    A collector that raises unexpectedly costs its own target only: every endpoint of it
    is recorded `failed` with the exception's class and message (the traceback goes to
    the debug log), and the other targets go on. Fatal errors (a DDAuditError that is not
    an APIError, such as the snapshot store failing), cancellation and interrupts still
    stop the whole collection.
    """
    # Every org of a site shares its host; each client caps its own org at MAX_IN_FLIGHT.
    connector = aiohttp.TCPConnector(limit=256, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session, \
            SnapshotWriter(engine) as writer:
        reporter = progress.current()
        large_pages = asyncio.Semaphore(LARGE_PAGES)  # shared by every target's client
        contexts = [
            TargetContext(scan_id, t, _client(session, t, config, policy, large_pages), writer,
                          progress=reporter)
            for t in (config.targets if targets is None else targets)
        ]

        def failed(ctx: TargetContext, exc: Exception) -> list[Coverage]:
            """Coverage for a target whose collector raised: every endpoint failed, why."""
            log.debug("collecting target %s failed unexpectedly", ctx.target.name,
                      exc_info=True)
            error = ctx.client.scrub(str(exc) if isinstance(exc, APIError)
                                     else unexpected_error(exc))
            return [Coverage(endpoint, "failed", 0, None, error) for endpoint in schema.ENDPOINTS]

        async def one(ctx: TargetContext) -> list[Coverage]:
            reporter.target_started(ctx.target.name, ctx.target.site)
            try:
                coverage = await collector(ctx)
            except DDAuditError as exc:
                if not isinstance(exc, APIError):
                    raise
                coverage = failed(ctx, exc)
            except Exception as exc:
                coverage = failed(ctx, exc)
            reporter.target_done(ctx.target.name, coverage, ctx.client.stats.requests)
            return coverage

        reporter.start([c.target.name for c in contexts], len(schema.ENDPOINTS))
        try:
            results = await asyncio.gather(*(one(c) for c in contexts))
        finally:
            reporter.stop()
    return list(zip(contexts, results, strict=True))


def _client(session: aiohttp.ClientSession, target: Target, config: Config,
            policy: RetryPolicy | None, large_pages: asyncio.Semaphore) -> DatadogClient:
    return DatadogClient(session, target, allow_custom_endpoints=config.allow_custom_endpoints,
                         policy=policy, large_pages=large_pages)


def record_collection(engine: Engine, scan_id: str,
                      results: Sequence[tuple[TargetContext, list[Coverage]]], *,
                      known_targets: Collection[str] = (), set_status: bool = True,
                      hold: bool = False) -> ScanStatus:
    """Store targets and coverage rows; return the status of these results.

    With `set_status` the scan's status is set from all its coverage rows (and returned):
    lifecycle.collected; with `hold` as well, it is only returned (lifecycle.hold): the
    scan stays running until the caller finishes it (evaluation still to come), so a run
    killed meanwhile is never complete. Without `set_status` (a shard) the scan is left
    alone and the status of these results alone is returned.
    Targets named in `known_targets` already have their row (resume re-collects a part).
    """
    status = ScanStatus.COMPLETE
    with engine.begin() as conn:
        for ctx, coverage in results:
            if ctx.target.name not in known_targets:
                conn.execute(schema.targets.insert().values(
                    scan_id=scan_id, target=ctx.target.name, site=ctx.target.site,
                    org_public_id=ctx.org_public_id, org_uuid=ctx.org_uuid,
                    org_name=ctx.org_name, owner=ctx.target.owner,
                ))
            for c in coverage:
                if c.status not in schema.SETTLED:  # a coverage gap
                    status = ScanStatus.PARTIAL
                conn.execute(schema.coverage.insert().values(
                    scan_id=scan_id, target=ctx.target.name, site=ctx.target.site,
                    org_public_id=ctx.org_public_id, endpoint=c.endpoint, status=c.status,
                    collected=c.collected, expected=c.expected, error=c.error,
                    parts=json.dumps(c.parts, sort_keys=True) if c.parts else None,
                ))
        if set_status:
            status = (lifecycle.hold(conn, scan_id) if hold
                      else lifecycle.collected(conn, scan_id))
    return status


def exit_code_for(status: str, findings: rules.Evaluated, fail_on: str) -> tuple[int, int]:
    """(exit code, open findings at or above fail_on): 3 partial, 1 findings, 0 clean.

    Counts, never reads the findings back: `rules.Evaluated.stored` counts a stored scan's.
    """
    hits = findings.tally(status="open", at_or_above=fail_on)
    if status != ScanStatus.COMPLETE:
        return 3, hits
    return (1 if hits else 0), hits


@dataclass(frozen=True)
class RuleStage:
    """Everything the rule stage needs, loaded and checked before any request is sent."""

    pack: rules.RulePack
    settings: rules.RuleSettings
    suppressions: rules.Suppressions | None

    @classmethod
    def from_config(cls, config: Config) -> RuleStage:
        """Load the rule pack, check the overrides, read the suppressions (exit 2 if bad)."""
        pack = rules.load_rulepack(config.rules_custom_dirs)
        settings = rules.RuleSettings(params=config.rules_params,
                                      disabled=config.rules_disabled,
                                      trusted_orgs=config.trusted_orgs)
        check_settings(pack, settings)
        suppressions = (rules.load_suppressions(config.suppressions_file)
                        if config.suppressions_file else None)
        return cls(pack, settings, suppressions)

    def run(self, engine: Engine, scan_id: str) -> rules.Evaluated:
        """Evaluate the pack over one stored scan and store its findings.

        Logs a warning for each suppression that has expired or matched no finding.
        """
        found = rules.evaluate_scan(engine, scan_id, self.pack, self.settings, self.suppressions)
        for line in rules.describe_usage(found.suppression_usage):
            log.warning("%s", line)
        return found

    def report(self, config: Config, engine: Engine, scan_id: str) -> Path:
        """Write the scan's evidence bundle into <output>/<scan id>/, then stamp reported_at.

        A scan evaluated but never stamped (its run killed while writing the bundle) is
        listed as unreported; `ddaudit report --scan ID` or `scan --resume` writes it.
        """
        path = reports.write_reports(
            engine, scan_id, config.output / scan_id, pack=self.pack,
            suppressions=self.suppressions, disabled_rules=self.settings.disabled,
            signing_key=config.signing_key)
        lifecycle.reported(engine, scan_id)
        refresh_index(config.output, engine)  # <output>/index.html; a failure only warns
        return path


def run_scan(config: Config, engine: Engine, *, policy: RetryPolicy | None = None) -> ScanOutcome:
    """The nightly job: collect, evaluate, report; never leaves a scan marked running."""
    evaluation = RuleStage.from_config(config)
    scan_id, _started = start_scan(engine, config, evaluation.pack.sha256)
    log.info("scan %s started: %d targets", scan_id, len(config.targets))

    def collect() -> ScanStatus:
        results = asyncio.run(collect_all(engine, config, scan_id, policy=policy))
        return record_collection(engine, scan_id, results, hold=True)

    return conclude_scan(config, engine, scan_id, evaluation, collect)


def conclude_scan(config: Config, engine: Engine, scan_id: str, evaluation: RuleStage,
                  collect: Callable[[], str]) -> ScanOutcome:
    """Run `collect` (it returns the scan's status), evaluate, report; mark failed on error.

    The lifecycle of a run's scan: held running through collection and evaluation, then
    finished complete or partial, then stamped reported; failed if anything raises.
    The [[notify]] sinks are sent to once the scan is finished and before its bundle is
    written, so that run.json records their outcome (reports/notify; a failed sink never
    raises), and told when the scan fails.
    """
    try:
        status = ScanStatus(collect())
        findings = evaluation.run(engine, scan_id)
        lifecycle.finished(engine, scan_id, status)
        notify.after_scan(config, engine, scan_id)
        report = evaluation.report(config, engine, scan_id)
    except BaseException as exc:
        lifecycle.failed(engine, scan_id)
        if isinstance(exc, Exception):  # not on Ctrl-C: the operator is right there
            notify.after_scan(config, engine, scan_id)
        raise
    code, hits = exit_code_for(status, findings, config.fail_on)
    log.info("scan %s %s: %d findings, %d open at or above %s", scan_id, status,
             len(findings), hits, config.fail_on)
    return ScanOutcome(scan_id, status, report, hits, code)

