"""The locked jobs behind the CLI: the nightly scan (or its resume), collect, prune."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine

from scanner.client import RetryPolicy
from scanner.config import Config
from scanner.ops.history import PruneResult, prune
from scanner.ops.lock import GLOBAL, RunLock
from scanner.ops.resume import resume_scan
from scanner.ops.shard import CollectOutcome, collect_scan, collect_shard, default_scan_id
from scanner.pipeline import ScanOutcome, run_scan
from scanner.store import lifecycle
from scanner.store.database import open_store
from scanner.timeutil import utcnow

log = logging.getLogger(__name__)


def nightly_scan(config: Config, *, resume: bool = False, migrate: bool = False,
                 policy: RetryPolicy | None = None) -> ScanOutcome:
    """`ddaudit scan [--resume]` under the run lock, then retention when keep_days is set."""
    engine = open_store(config.database, migrate=migrate)
    try:
        with RunLock(engine, GLOBAL, command="scan --resume" if resume else "scan"):
            lifecycle.abandoned(engine)  # under the lock, no unsharded scan really runs
            if resume:
                outcome = resume_scan(config, engine, policy=policy)
            else:
                outcome = run_scan(config, engine, policy=policy)
            if config.keep_days:
                _retention(engine, config.output, config.keep_days)
    finally:
        engine.dispose()
    return outcome


def _retention(engine: Engine, output: Path, keep_days: int) -> None:
    """Prune after a scan; a failure here is logged, never turned into the scan's exit code."""
    try:
        prune(engine, output, keep_days)
    except Exception as exc:  # the scan itself succeeded; say so, keep its exit code
        log.warning("retention failed (%s: %s); run 'ddaudit prune' by hand",
                    exc.__class__.__name__, exc)


def collect_job(config: Config, *, shard: tuple[int, int] | None = None,
                scan_id: str | None = None, migrate: bool = False,
                policy: RetryPolicy | None = None) -> CollectOutcome:
    """`ddaudit collect`: a whole scan under the global lock, or one shard under its own."""
    engine = open_store(config.database, migrate=migrate)
    try:
        if shard is None:
            with RunLock(engine, GLOBAL, command="collect"):
                lifecycle.abandoned(engine)
                return collect_scan(config, engine, policy=policy)
        index, count = shard
        scan_id = scan_id or default_scan_id(config, utcnow())
        with RunLock(engine, f"shard:{scan_id}:{index}", command=f"collect --shard {index}/"
                     f"{count}"):
            return collect_shard(config, engine, scan_id, index, count, policy=policy)
    finally:
        engine.dispose()


def prune_job(database: str, output: Path, keep_days: int, *,
              dry_run: bool = False) -> PruneResult:
    """`ddaudit prune`: retention under the global lock (never during a scan)."""
    engine = open_store(database)
    try:
        with RunLock(engine, GLOBAL, command="prune"):
            return prune(engine, output, keep_days, dry_run=dry_run)
    finally:
        engine.dispose()
