"""Benchmark of planning notifications over a long history; prints figures, asserts nothing.

It writes `--scans` nightly scans straight into a database (a temporary SQLite file
unless --database gives a SQLAlchemy URL), each with `--findings` findings of which a
few percent come and go from night to night, then times `reports.notify.plan` for one
high-severity sink in three situations:

- first digest: a sink added after the whole history (no ledger row: every open
  finding is new to it, and each is checked for having just come back);
- nightly: the ledger is current (the sink was told the night before);
- after a gap: the sink was last told `--gap` nights ago (a failing sink, say), so each
  announced finding is checked in every scan since.

    .venv/bin/python -m bench.notify                       # 50,000 findings, 30 scans
    .venv/bin/python -m bench.notify --findings 5000 --json out.json
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: bench/ must not shadow the packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import Engine  # noqa: E402

from bench.figures import Figure, write_figures  # noqa: E402
from reports.notify import Delivery, plan  # noqa: E402
from reports.notify.service import record  # noqa: E402
from scanner.config import Config  # noqa: E402
from scanner.config_notify import NotifySink  # noqa: E402
from scanner.store import schema  # noqa: E402
from scanner.store.database import open_store  # noqa: E402

T0 = datetime(2026, 10, 1, 2, 0, 0)
SEVERITIES = ("critical", "high", "medium", "low", "info")
CHURN = 0.03  # share of findings absent on a given night (resolved), back the next
FIRST_BOUND, NIGHTLY_BOUND, GAP_BOUND = 10.0, 2.0, 10.0  # seconds


def seed(engine: Engine, scans: int, count: int, rng: random.Random) -> list[str]:
    """Write the history; return the scan ids, oldest first."""
    ids: list[str] = []
    first_seen: dict[int, datetime] = {}
    for night in range(scans):
        started = T0 + timedelta(days=night)
        scan_id = f"s{night:03d}"
        ids.append(scan_id)
        rows = []
        for n in range(count):
            if night and rng.random() < CHURN:
                continue
            first = first_seen.setdefault(n, started)
            rows.append({"scan_id": scan_id, "id": f"f{n:07d}", "rule_id": f"DDA-R-{n % 30}",
                         "severity": SEVERITIES[n % 5], "status": "open", "title": "t",
                         "detail": "d", "site": "datadoghq.com", "org_public_id": "o",
                         "target": f"t{n % 50}", "resource_type": "api_key",
                         "resource_id": f"k{n}", "first_seen": first, "controls": "[]"})
        with engine.begin() as conn:
            conn.execute(schema.scans.insert().values(
                id=scan_id, started_at=started, finished_at=started + timedelta(minutes=9),
                status="complete", tool_version="bench",
                evaluated_at=started + timedelta(minutes=8)))
            for start in range(0, len(rows), 20_000):
                conn.execute(schema.findings.insert(), rows[start:start + 20_000])
    return ids


def timed_plan(engine: Engine, config: Config, scan_id: str, *, send: bool) -> tuple[float, int]:
    """Seconds to plan the sink's digest of `scan_id`, and how many findings it announces."""
    start = time.perf_counter()
    digests = plan(engine, config, scan_id)
    seconds = time.perf_counter() - start
    if send:
        record(engine, digests, [Delivery(d.sink.name, d.sink.kind, "sent", 1, d.events,
                                          len(d.new), len(d.regressed)) for d in digests])
    return seconds, sum(len(d.announced) for d in digests)


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=50_000)
    parser.add_argument("--scans", type=int, default=30)
    parser.add_argument("--gap", type=int, default=7)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a temporary SQLite)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ddaudit-bench-notify-") as tmp:
        engine = open_store(args.database or f"sqlite:///{Path(tmp) / 'bench.db'}")
        start = time.perf_counter()
        ids = seed(engine, args.scans, args.findings, random.Random(7))
        print(f"seeded {args.scans} scans x {args.findings} findings in "
              f"{time.perf_counter() - start:.1f}s")
        first = Config(targets=(), notify=(NotifySink("webhook", "late"),))
        gap = Config(targets=(), notify=(NotifySink("webhook", "gap"),))
        timed_plan(engine, gap, ids[-1 - args.gap], send=True)
        first_s, first_n = timed_plan(engine, first, ids[-2], send=True)
        nightly_s, nightly_n = timed_plan(engine, first, ids[-1], send=False)
        gap_s, gap_n = timed_plan(engine, gap, ids[-1], send=False)
        engine.dispose()
    figures = [
        Figure("notify", f"first digest of a sink ({first_n} announced)",
               f"<= {FIRST_BOUND:g} s", round(first_s, 3), "s", first_s / FIRST_BOUND),
        Figure("notify", f"nightly digest ({nightly_n} announced)",
               f"<= {NIGHTLY_BOUND:g} s", round(nightly_s, 3), "s", nightly_s / NIGHTLY_BOUND),
        Figure("notify", f"digest after a {args.gap}-night gap ({gap_n} announced)",
               f"<= {GAP_BOUND:g} s", round(gap_s, 3), "s", gap_s / GAP_BOUND),
    ]
    for f in figures:
        verdict = "meets" if f.met else "MISSES"
        print(f"{f.name}: {f.measured:.3f} {f.unit} (target {f.target}: {verdict})")
    if args.json:
        write_figures(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
