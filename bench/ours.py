"""Run ddaudit's own collection of the benchmark estate (in a fresh process, for its RSS)."""

from __future__ import annotations

import asyncio
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.simproc import TargetInfo
from scanner.config import Config, Secret, Target
from scanner.pipeline import collect_all, record_collection, start_scan
from scanner.store.database import open_store


@dataclass
class RunResult:
    """What one collection run measured on its side of the wire."""

    wall: float
    requests: int = 0
    rate_limited: int = 0
    peak_rss_mb: float = 0.0
    coverage: dict[str, int] = field(default_factory=dict)  # status -> endpoints
    rows: int = 0
    note: str = ""


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(targets: list[TargetInfo], workdir: str) -> RunResult:
    """Collect every target into a fresh SQLite snapshot, as `ddaudit scan` does."""
    Path(workdir).mkdir(parents=True, exist_ok=True)
    database = f"sqlite:///{Path(workdir) / 'bench.db'}"
    config = Config(
        targets=tuple(Target(t.name, t.site, Secret(t.api_key), Secret(t.app_key), t.url)
                      for t in targets),
        database=database, output=Path(workdir) / "out", allow_custom_endpoints=True,
        source="bench",
    )
    engine = open_store(database)
    scan_id, _ = start_scan(engine, config, "bench")
    started = time.perf_counter()
    results = asyncio.run(collect_all(engine, config, scan_id))
    wall = time.perf_counter() - started
    status = record_collection(engine, scan_id, results)
    coverage = Counter(c.status for _, cov in results for c in cov)
    return RunResult(
        wall=wall,
        requests=sum(ctx.client.stats.requests for ctx, _ in results),
        rate_limited=sum(ctx.client.stats.rate_limited for ctx, _ in results),
        peak_rss_mb=peak_rss_mb(),
        coverage=dict(coverage),
        rows=sum(c.collected for _, cov in results for c in cov),
        note=f"scan {status}",
    )
