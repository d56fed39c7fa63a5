"""Benchmark of the Trends query and charts: 30 scans of 100,000 findings; prints, asserts nothing.

It writes `--scans` scans straight into a snapshot (a temporary SQLite file, or
`--database URL`, e.g. a PostgreSQL database made for it), each with `--findings` findings
(90% open) over 300 orgs and a full coverage table, then times
reports.trends.load_trends for the newest scan (the set-based queries report.html runs
once per export), drawing the section (reports.svg), and writing <output>/index.html
(which runs the same query for the latest scan and reads each bundle's run.json).

    .venv/bin/python -m bench.trends                       # 30 x 100,000 on SQLite
    .venv/bin/python -m bench.trends --findings 20000
    .venv/bin/python -m bench.trends --database postgresql+psycopg://user@host/db
    .venv/bin/python -m bench.trends --database sqlite:////tmp/t.db   # seeds once, then reuses

Targets: the query <= 5 s at 30 x 100,000 findings on SQLite (about a tenth of writing
that scan's bundle), drawing <= 0.5 s, the section <= 1 MB of report.html.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: bench/ must not shadow the project packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import Engine, insert, select  # noqa: E402

from bench.figures import Figure, write_figures  # noqa: E402
from reports.index_page import write_index  # noqa: E402
from reports.svg import trend_section  # noqa: E402
from reports.trends import load_trends, report_links  # noqa: E402
from rules.model import SEVERITIES  # noqa: E402
from scanner.store.database import open_store  # noqa: E402
from scanner.store.schema import ENDPOINTS, coverage, findings, scans, targets  # noqa: E402

ORGS = 300
START = datetime(2026, 10, 1, 2, 0, 0)
QUERY_TARGET_S, DRAW_TARGET_S, SECTION_TARGET_MB = 5.0, 0.5, 1.0


def scan_id(night: int) -> str:
    """The id of bench night `night` (0-based)."""
    return f"{START + timedelta(days=night):%Y%m%dT%H%M%SZ}-bench{night:02d}"


def seed(engine: Engine, nights: int, n: int, rng: random.Random) -> None:
    """`nights` scans of `n` findings each, drawn from a pool so that scans differ."""
    pool = [f"{i:032x}" for i in range(n * 13 // 10)]
    for night in range(nights):
        sid, started = scan_id(night), START + timedelta(days=night)
        orgs = [(f"bu-{o:04d}", f"org{o:04d}", f"Acme Business Unit {o:04d}") for o in range(ORGS)]
        with engine.begin() as conn:
            conn.execute(insert(scans), [{
                "id": sid, "started_at": started, "finished_at": started + timedelta(minutes=40),
                "status": "partial" if night % 7 == 3 else "complete", "tool_version": "bench",
                "evaluated_at": started, "reported_at": started}])
            conn.execute(insert(targets), [
                {"scan_id": sid, "target": t, "site": "datadoghq.com", "org_public_id": p,
                 "org_name": name} for t, p, name in orgs])
            conn.execute(insert(coverage), [
                {"scan_id": sid, "target": t, "site": "datadoghq.com", "org_public_id": p,
                 "endpoint": e, "status": "partial" if night % 7 == 3 and o == 0 else "complete",
                 "collected": 1, "expected": 1}
                for o, (t, p, _) in enumerate(orgs) for e in ENDPOINTS])
            rows = []
            for k, fid in enumerate(rng.sample(pool, n)):
                o = int(fid, 16) % ORGS
                rows.append({
                    "scan_id": sid, "id": fid, "rule_id": f"DDA-KEY-{int(fid, 16) % 28:03d}",
                    "severity": SEVERITIES[int(fid, 16) % len(SEVERITIES)],
                    "status": "open" if k % 10 else "suppressed", "title": "Unused key",
                    "detail": f"Application key key-{fid[:8]} was last used 120 days ago.",
                    "site": "datadoghq.com", "org_public_id": orgs[o][1],
                    "org_name": orgs[o][2], "target": orgs[o][0],
                    "resource_type": "application_key", "resource_id": f"key-{fid}",
                    "resource_name": f"svc-{fid[:10]}", "first_seen": START,
                    "controls": json.dumps(["SOC2:CC6.3"]), "suppression": None})
                if len(rows) == 20_000:
                    conn.execute(insert(findings), rows)
                    rows = []
            if rows:
                conn.execute(insert(findings), rows)


def main(argv: list[str] | None = None) -> None:
    """Seed, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=30)
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--database", help="An empty database URL, or one an earlier run "
                        "seeded with the same --scans (default: a temporary SQLite file).")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ddaudit-bench-trends-") as tmp:
        engine = open_store(args.database or f"sqlite:///{Path(tmp) / 'bench.db'}")
        latest = scan_id(args.scans - 1)
        with engine.connect() as conn:
            seeded = conn.execute(select(scans.c.id).where(scans.c.id == latest)).first()
        if seeded is None:
            t0 = time.perf_counter()
            seed(engine, args.scans, args.findings, random.Random(args.seed))
            print(f"seeded {args.scans} scans of {args.findings:,} findings "
                  f"({engine.url.get_backend_name()}) in {time.perf_counter() - t0:.1f} s")
        else:
            print(f"reusing the {args.scans} scans an earlier run seeded in {args.database}")
        times, cpu = [], []
        for _ in range(3):  # the first pass reads the rows from disk, the others from cache
            t0, c0 = time.perf_counter(), time.process_time()
            trends = load_trends(engine, latest)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        print(f"load_trends: {len(trends.scans)} scans, {len(trends.orgs)} orgs in "
              + ", ".join(f"{t:.2f} s" for t in times) + f" (target <= {QUERY_TARGET_S} s); "
              "this process's CPU " + ", ".join(f"{t:.2f} s" for t in cpu)
              + " (the wall time on an idle host, for SQLite, which runs in this process)")
        t0 = time.perf_counter()
        section = trend_section(trends, report_links(trends))
        draw_s = time.perf_counter() - t0
        size_mb = (len(section.severity) + len(section.coverage)
                   + sum(len(svg) for _, svg in section.orgs)) / 1e6
        print(f"drawing: {draw_s:.3f} s (target <= {DRAW_TARGET_S} s); SVG {size_mb:.2f} MB "
              f"(target <= {SECTION_TARGET_MB} MB)")
        out = Path(tmp) / "out"
        for night in range(args.scans):  # what index.html reads: each bundle's run.json
            (out / scan_id(night)).mkdir(parents=True)
            (out / scan_id(night) / "run.json").write_text('{"schema": "ddaudit.run/1"}')
        t0 = time.perf_counter()
        index = write_index(out, engine)
        index_s = time.perf_counter() - t0
        print(f"index.html: {index_s:.2f} s, {index.stat().st_size / 1e6:.2f} MB")
        engine.dispose()
    if args.json:
        best = min(times)
        write_figures(args.json, [
            Figure("trends", "load_trends, warm", f"<= {QUERY_TARGET_S} s", best, "s",
                   best / QUERY_TARGET_S),
            Figure("trends", "drawing", f"<= {DRAW_TARGET_S} s", draw_s, "s",
                   draw_s / DRAW_TARGET_S),
            Figure("trends", "section size", f"<= {SECTION_TARGET_MB} MB", size_mb, "MB",
                   size_mb / SECTION_TARGET_MB),
        ])


if __name__ == "__main__":
    main()
