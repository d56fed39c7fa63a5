"""`ddaudit collect [--shard i/n]`: collect a scan alone, or one deterministic slice of it.

n hosts (or processes) sharing a PostgreSQL each run `collect --shard i/n` with the same
scan id (by default one per UTC day and configuration), each collecting the targets of
its slice: the targets sorted by name, every n-th from the i-th. Each shard records its
progress in `scan_shards`; the shard that finishes last sets the scan's status, and
`evaluate` / `report` refuse (exit 5) until then. A shard that failed may simply be run
again: it first deletes whatever its earlier attempt left.
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

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from scanner import __version__
from scanner.client import RetryPolicy
from scanner.config import Config, Target
from scanner.errors import ConfigError
from scanner.pipeline import (
    collect_all,
    coverage_status,
    fail_scan,
    record_collection,
    start_scan,
)
from scanner.store import schema
from scanner.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectOutcome:
    """What one `collect` run did: its scan, its own status, and the scan's status now."""

    scan_id: str
    shard: str | None
    status: str  # of this run's targets: complete | partial
    scan_status: str  # running while other shards are still collecting
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
        fail_scan(engine, scan_id)
        raise
    return CollectOutcome(scan_id, None, status, status, len(config.targets))


def join_scan(engine: Engine, config: Config, scan_id: str, count: int) -> None:
    """Create the sharded scan, or check that the existing one has `count` shards."""
    try:
        with engine.begin() as conn:
            conn.execute(schema.scans.insert().values(
                id=scan_id, started_at=utcnow(), status="running", tool_version=__version__,
                config_sha256=config.sha256(), shards=count))
    except IntegrityError:
        pass  # another shard created it first
    with engine.connect() as conn:
        row = conn.execute(select(schema.scans.c.shards, schema.scans.c.config_sha256)
                           .where(schema.scans.c.id == scan_id)).first()
    if row is None or row.shards != count:
        raise ConfigError(f"scan {scan_id} exists with {row.shards if row else 'no'} shards, "
                          f"not {count}; give every shard the same n, or another --scan")
    if row.config_sha256 != config.sha256():
        log.warning("shard configuration differs from the one scan %s started with", scan_id)


def _begin_shard(engine: Engine, scan_id: str, index: int, count: int,
                 targets: Sequence[Target]) -> None:
    names = [t.name for t in targets]
    with engine.begin() as conn:
        previous = conn.execute(select(schema.scan_shards.c.status).where(
            schema.scan_shards.c.scan_id == scan_id, schema.scan_shards.c.shard == index,
        )).scalar()
        if previous in ("complete", "partial"):
            raise ConfigError(f"shard {index}/{count} of scan {scan_id} has already finished "
                              f"({previous}); run evaluate, or --scan for another scan")
        for table in (*schema.POPULATION_TABLES.values(), schema.targets, schema.coverage):
            conn.execute(delete(table).where(table.c.scan_id == scan_id,
                                             table.c.target.in_(names)))
        conn.execute(delete(schema.scan_shards).where(
            schema.scan_shards.c.scan_id == scan_id, schema.scan_shards.c.shard == index))
        conn.execute(schema.scan_shards.insert().values(
            scan_id=scan_id, shard=index, shards=count, status="running",
            host=socket.gethostname()[:255], pid=os.getpid(), targets=len(names),
            started_at=utcnow()))
    if previous == "failed":
        log.info("shard %d/%d of scan %s: running again after a failure", index, count, scan_id)


def _end_shard(engine: Engine, scan_id: str, index: int, status: str) -> str:
    """Record the shard's end; when it is the last, settle the scan's status; return it."""
    with engine.begin() as conn:
        # Lock the scan's row first, so two shards ending together see each other's end.
        count = conn.execute(select(schema.scans.c.shards).where(
            schema.scans.c.id == scan_id).with_for_update()).scalar_one()
        conn.execute(update(schema.scan_shards).where(
            schema.scan_shards.c.scan_id == scan_id, schema.scan_shards.c.shard == index,
        ).values(status=status, finished_at=utcnow()))
        if status == "failed":
            return "running"
        finished = conn.execute(select(func.count()).select_from(schema.scan_shards).where(
            schema.scan_shards.c.scan_id == scan_id,
            schema.scan_shards.c.status.in_(("complete", "partial")))).scalar_one()
        if finished < count:
            return "running"
        overall = coverage_status(conn, scan_id)
        conn.execute(update(schema.scans).where(schema.scans.c.id == scan_id)
                     .values(status=overall, finished_at=utcnow()))
        return overall


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
        _end_shard(engine, scan_id, index, "failed")
        raise
    scan_status = _end_shard(engine, scan_id, index, status)
    return CollectOutcome(scan_id, f"{index}/{count}", status, scan_status, len(targets))
