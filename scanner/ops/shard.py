"""`ddaudit collect [--shard i/n]`: collect a scan alone, or one deterministic slice of it.

n hosts (or processes) sharing a PostgreSQL each run `collect --shard i/n` with the same
scan id (by default one per UTC day and configuration), each collecting the targets of
its slice: the targets sorted by name, every n-th from the i-th. Each shard records its
progress in `scan_shards`; the shard that finishes last sets the scan's status, and
`evaluate` / `report` refuse (exit 5) until then. A shard that failed may simply be run
again: it first deletes whatever its earlier attempt left. The scan's and the shards'
statuses move only through scanner.store.lifecycle.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete

from scanner.client import RetryPolicy
from scanner.config import Config, Target
from scanner.errors import ConfigError
from scanner.pipeline import collect_all, record_collection, start_scan
from scanner.store import lifecycle, schema
from scanner.store.lifecycle import ScanStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectOutcome:
    """What one `collect` run did: its scan, its own status, and the scan's status now."""

    scan_id: str
    shard: str | None
    status: ScanStatus  # of this run's targets: complete | partial
    scan_status: ScanStatus  # running while other shards are still collecting
    targets: int


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' with 1 <= i <= n, else ConfigError."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ConfigError(f"--shard '{text}' is not i/n with 1 <= i <= n, e.g. 1/3")
    return int(match.group(1)), int(match.group(2))


def shard_targets(targets: Sequence[Target], index: int, count: int) -> tuple[Target, ...]:
    """The targets of shard `index` of `count`: sorted by name, every count-th."""
    return tuple(sorted(targets, key=lambda t: t.name)[index - 1::count])


def default_scan_id(config: Config, now: datetime) -> str:
    """The scan every shard of today's run with this configuration joins."""
    return f"{now:%Y%m%d}T000000Z-{config.sha256()[:6]}"


def collect_scan(config: Config, engine: Engine, *,
                 policy: RetryPolicy | None = None) -> CollectOutcome:
    """Collect every target into a new scan, without evaluating it."""
    scan_id, _ = start_scan(engine, config, None)
    try:
        results = asyncio.run(collect_all(engine, config, scan_id, policy=policy))
        status = record_collection(engine, scan_id, results)
    except BaseException:
        lifecycle.failed(engine, scan_id)
        raise
    return CollectOutcome(scan_id, None, status, status, len(config.targets))


def join_scan(engine: Engine, config: Config, scan_id: str, count: int) -> None:
    """Create the sharded scan, or check that the existing one has `count` shards."""
    row = lifecycle.join(engine, scan_id, shards=count, config_sha256=config.sha256())
    if row is None or row["shards"] != count:
        raise ConfigError(f"scan {scan_id} exists with {row['shards'] if row else 'no'} "
                          f"shards, not {count}; give every shard the same n, or another "
                          "--scan")
    if row["config_sha256"] != config.sha256():
        log.warning("shard configuration differs from the one scan %s started with", scan_id)


def _begin_shard(engine: Engine, scan_id: str, index: int, count: int,
                 targets: Sequence[Target]) -> None:
    """Record the shard running (refused when it already finished); clear its old rows."""
    names = [t.name for t in targets]
    with engine.begin() as conn:
        previous = lifecycle.shard_started(conn, scan_id, index, count,
                                           host=socket.gethostname(), pid=os.getpid(),
                                           targets=len(names))
        for table in (*schema.POPULATION_TABLES.values(), schema.targets, schema.coverage):
            conn.execute(delete(table).where(table.c.scan_id == scan_id,
                                             table.c.target.in_(names)))
    if previous == ScanStatus.FAILED:
        log.info("shard %d/%d of scan %s: running again after a failure", index, count, scan_id)


def collect_shard(config: Config, engine: Engine, scan_id: str, index: int, count: int, *,
                  policy: RetryPolicy | None = None) -> CollectOutcome:
    """Collect shard `index` of `count` into `scan_id` (created by whichever shard is first)."""
    targets = shard_targets(config.targets, index, count)
    join_scan(engine, config, scan_id, count)
    _begin_shard(engine, scan_id, index, count, targets)
    log.info("scan %s shard %d/%d: %d of %d targets", scan_id, index, count, len(targets),
             len(config.targets))
    try:
        results = (asyncio.run(collect_all(engine, config, scan_id, policy=policy,
                                           targets=targets)) if targets else [])
        status = record_collection(engine, scan_id, results, set_status=False)
    except BaseException:
        lifecycle.shard_failed(engine, scan_id, index)
        raise
    scan_status = lifecycle.shard_ended(engine, scan_id, index, status)
    return CollectOutcome(scan_id, f"{index}/{count}", status, scan_status, len(targets))
